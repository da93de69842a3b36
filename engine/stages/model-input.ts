// Interim bridge to the by-name model scorer: its inputs by name, read from their registry slots.
import type { Slots } from '../../dsl/index.ts';
import { CATALOG_BY_NAME } from '../../features/catalog.ts';
import type { ModelScorer } from '../../features/model.ts';

export function modelInput(model: ModelScorer, slots: Slots): Record<string, boolean | number | string | undefined> {
  const bag: Record<string, boolean | number | string | undefined> = {};
  for (const name of model.features) {
    const e = CATALOG_BY_NAME.get(name);
    if (e) bag[name] = slots[e.slot];
  }
  return bag;
}
