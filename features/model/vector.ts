// The anomaly model's input vector: how a model's columns (ColumnSpec, read from its file) turn one
// event's feature values into a fixed-length Float32 row (docs/model.md "Features"). Two encoders
// over the same transforms: by slot, for serving (the columns are resolved to Scheme slots once, when
// a model is loaded, so an event costs no name lookups), and by name, for training rows and recorded
// events, which are JSON objects keyed by feature name. Also validates the column list a model file
// carries. Which columns a new model gets is the training code's choice, not this file's: the server
// encodes with the list stored in the model it loaded. Pure; encoding allocates nothing.
import { z } from 'zod';
import { assertNever, type Scheme, type Slots } from '../../dsl/types.ts';

/** A feature value as the engine holds it (durations in seconds; missing → undefined or null). */
export type FeatureInput = boolean | number | string | null | undefined;
export type FeatureBag = Readonly<Record<string, FeatureInput>>;

/**
 * How one column is computed from one feature. Every transform maps a missing or ill-typed value
 * (wrong type, NaN, ±Infinity) to its documented `missing` value, so encode never writes NaN.
 */
export type Transform =
  /** true → 1, false → 0. */
  | { readonly kind: 'bool'; readonly missing: number }
  /** log1p(max(0, v) / scale): counts and durations, whose scale spans orders of magnitude. */
  | { readonly kind: 'log1p'; readonly scale: number; readonly missing: number }
  /** log10(clamp(v, floor, ceil)): ratios such as rba.score (1 is neutral → 0). */
  | { readonly kind: 'log10'; readonly floor: number; readonly ceil: number; readonly missing: number }
  /** sin / cos of 2π·v/24: an hour of the day on a circle, so 23 h and 0 h are neighbours. */
  | { readonly kind: 'hour_sin'; readonly missing: number }
  | { readonly kind: 'hour_cos'; readonly missing: number }
  /** 1 when the string value equals `value`, else 0 (missing → 0). */
  | { readonly kind: 'equals'; readonly value: string };

export interface ColumnSpec {
  /** Column name (unique), as stored in the model's `vigil.columns`. */
  readonly name: string;
  /** The catalog feature the column reads. */
  readonly feature: string;
  readonly transform: Transform;
}

function finite(v: FeatureInput): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

const TWO_PI_OVER_24 = (2 * Math.PI) / 24;

/** The value of one column for one feature value. */
export function encodeValue(t: Transform, v: FeatureInput): number {
  switch (t.kind) {
    case 'bool':
      return typeof v === 'boolean' ? (v ? 1 : 0) : t.missing;
    case 'log1p': {
      const n = finite(v);
      return n === undefined ? t.missing : Math.log1p(Math.max(0, n) / t.scale);
    }
    case 'log10': {
      const n = finite(v);
      return n === undefined ? t.missing : Math.log10(Math.min(t.ceil, Math.max(t.floor, n)));
    }
    case 'hour_sin': {
      const n = finite(v);
      return n === undefined ? t.missing : Math.sin(n * TWO_PI_OVER_24);
    }
    case 'hour_cos': {
      const n = finite(v);
      return n === undefined ? t.missing : Math.cos(n * TWO_PI_OVER_24);
    }
    case 'equals':
      return v === t.value ? 1 : 0;
    default:
      return assertNever(t, 'transform');
  }
}

export function featuresOf(columns: readonly ColumnSpec[]): string[] {
  return [...new Set(columns.map((c) => c.feature))];
}

/** Encodes records keyed by feature name (training rows, recorded and replayed events). */
export interface Encoder {
  readonly columns: readonly ColumnSpec[];
  /** Catalog features read, each once, in column order. */
  readonly features: readonly string[];
  /** Writes `columns.length` values into `out` from `offset` (default 0). Allocates nothing. */
  encode(features: FeatureBag, out: Float32Array, offset?: number): void;
}

export function createEncoder(columns: readonly ColumnSpec[]): Encoder {
  const cols = columns.slice();
  const names = cols.map((c) => c.feature);
  const transforms = cols.map((c) => c.transform);
  return {
    columns: cols,
    features: featuresOf(cols),
    encode(features, out, offset = 0) {
      for (let i = 0; i < transforms.length; i++) out[offset + i] = encodeValue(transforms[i]!, features[names[i]!]);
    },
  };
}

/** Encodes an event's Slots array; each column's slot was looked up once, at creation. */
export interface SlotEncoder {
  readonly columns: readonly ColumnSpec[];
  /** Catalog features read, each once, in column order. */
  readonly features: readonly string[];
  /** The Scheme slot each column reads, in column order. */
  readonly slots: Int32Array;
  /** Writes `columns.length` values into `out` from `offset` (default 0). Allocates nothing. */
  encode(slots: Slots, out: Float32Array, offset?: number): void;
}

/**
 * Binds the columns to `scheme`'s slots. Throws a RangeError when a column reads a feature the
 * Scheme does not have: a model that needs one must be refused before it can serve.
 */
export function createSlotEncoder(columns: readonly ColumnSpec[], scheme: Scheme): SlotEncoder {
  const cols = columns.slice();
  const slots = Int32Array.from(cols, (c) => {
    const f = scheme.feature(c.feature);
    if (f === undefined) throw new RangeError(`column ${c.name} reads ${c.feature}, which the scheme does not have`);
    return f.slot;
  });
  const transforms = cols.map((c) => c.transform);
  return {
    columns: cols,
    features: featuresOf(cols),
    slots,
    encode(values, out, offset = 0) {
      for (let i = 0; i < transforms.length; i++) out[offset + i] = encodeValue(transforms[i]!, values[slots[i]!]);
    },
  };
}

/**
 * A record keyed by feature name as `scheme`'s Slots array (null → undefined; names the Scheme does
 * not know are dropped): how by-name callers (replay, `vigil explain`, offline scoring) reach the
 * slot-based scorer.
 */
export function slotsFromRecord(features: FeatureBag, scheme: Scheme): Slots {
  const out: Slots = new Array<Slots[number]>(scheme.size).fill(undefined);
  for (const name of Object.keys(features)) {
    const f = scheme.feature(name);
    const v = features[name];
    if (f !== undefined && v !== null) out[f.slot] = v;
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// The column list as stored in a model file (untrusted input: validated, never trusted)
// ------------------------------------------------------------------------------------------------

const num = z.number().finite();
const transformSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('bool'), missing: num }),
  z.object({ kind: z.literal('log1p'), scale: num.positive(), missing: num }),
  z.object({ kind: z.literal('log10'), floor: num.positive(), ceil: num.positive(), missing: num }),
  z.object({ kind: z.literal('hour_sin'), missing: num }),
  z.object({ kind: z.literal('hour_cos'), missing: num }),
  z.object({ kind: z.literal('equals'), value: z.string() }),
]);
const columnsSchema = z
  .array(z.object({ name: z.string().min(1), feature: z.string().min(1), transform: transformSchema }))
  .min(1);

/** Parses `vigil.columns` JSON; a string is the reason it is refused. */
export function parseColumns(json: string): ColumnSpec[] | string {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    return 'vigil.columns is not JSON';
  }
  const r = columnsSchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0];
    return `vigil.columns: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`;
  }
  const seen = new Set<string>();
  for (const c of r.data) {
    if (seen.has(c.name)) return `vigil.columns: duplicate column ${c.name}`;
    seen.add(c.name);
  }
  return r.data;
}
