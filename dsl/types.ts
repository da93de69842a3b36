// The language's value types, runtime value representation, and the Scheme the checker is handed.
// The language never imports a signal source: whoever compiles a pack passes a Scheme (the feature
// catalog, in production `features/catalog.ts`), as wirefilter's parser is handed its Scheme.
import { InternalError } from './errors.ts';

export type Scalar = 'bool' | 'number' | 'string' | 'duration' | 'ip';
export type ListType = `list<${Scalar}>`;
export type Type = Scalar | ListType;

export const SCALARS: readonly Scalar[] = ['bool', 'number', 'string', 'duration', 'ip'];

export function listOf(t: Scalar): ListType {
  return `list<${t}>`;
}
export function isList(t: Type): t is ListType {
  return t.startsWith('list<');
}
export function elementOf(t: ListType): Scalar {
  return t.slice(5, -1) as Scalar;
}

/**
 * Runtime values. bool → boolean, number → number, string → string, duration → number of seconds,
 * ip → the address string as given. A missing value is `undefined`.
 */
export type Value = boolean | number | string;
export type MaybeValue = Value | undefined;

/**
 * Feature values for one event (the execution context): index = the feature's slot in the Scheme,
 * then one slot per Redis-list probe of the pack (from `scheme.size` on).
 */
export type Slots = MaybeValue[];

export interface FeatureDef {
  readonly name: string;
  readonly type: Type;
  readonly doc: string;
}

/** A feature as the Scheme knows it: its definition and its slot (index in the Scheme's order). */
export interface SchemeFeature extends FeatureDef {
  readonly slot: number;
}

export interface Scheme {
  /** The feature with this dotted name, if it exists. */
  feature(name: string): SchemeFeature | undefined;
  /** Number of feature slots: every feature has one, `0 ≤ slot < size`. */
  readonly size: number;
  /** All feature names, for "did you mean" hints. */
  featureNames(): readonly string[];
  /** Event types an `on` list, a `policy T` or a test's `event` may name. */
  readonly eventTypes: readonly string[];
}

export function schemeFrom(defs: readonly FeatureDef[], eventTypes: readonly string[]): Scheme {
  const byName = new Map<string, SchemeFeature>(defs.map((d, slot) => [d.name, { ...d, slot }]));
  const names = defs.map((d) => d.name);
  return {
    feature: (name) => byName.get(name),
    size: defs.length,
    featureNames: () => names,
    eventTypes,
  };
}

/** The default of an exhaustive `switch`: a compile error when a case is missing, an InternalError at run time. */
export function assertNever(x: never, what = 'node'): never {
  throw new InternalError(`unhandled ${what}: ${JSON.stringify(x)}`);
}
