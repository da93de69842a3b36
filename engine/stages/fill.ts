// Writing one phase's features into the execution context: each planned feature's registry reader,
// into its registry slot. No name is looked up per event: the plan holds the entries.
import type { Slots } from '../../dsl/index.ts';
import type { CatalogEntry, FeatureInput } from '../../features/catalog.ts';

export function fillPhase(entries: readonly CatalogEntry[], input: FeatureInput, slots: Slots): void {
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    slots[e.slot] = e.read(input);
  }
}
