// The anomaly model's input: which catalog features it reads and how one event's feature values
// become a fixed-length Float32 vector (docs/model.md "Features"). The column list is DATA, stored in
// every exported model (metadata `vigil.columns`), so the server encodes exactly as the model it
// loaded was trained, and a model trained with other columns keeps working after this default
// changes. Pure and allocation-free on the encode path.
import { z } from 'zod';
import { assertNever } from '../dsl/ast.ts';

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

const SECONDS_PER_HOUR = 3600;

// Why these missing values (the isolation forest splits uniformly between a node's min and max, so
// a missing value encoded far outside the data would make every degraded event look anomalous):
// - novelty flags (device.known, history.known_*) are missing for a user with no sign-in yet and
//   when the event lacks the attribute; 0.5 sits between "known" and "new", so it is not isolated
//   by one split on its own, and history.logins = 0 already says "new user";
// - geo.anonymous… are missing when no Anonymous-IP database is configured (the default): 0, "not
//   flagged", so a model trained without that database serves unchanged with it and vice versa;
// - counters read missing only when the store is down: 0, the common value;
// - history.since_last_login is missing before the first sign-in: as if a year ago;
// - history.travel_kmh is missing when either location is unknown: 0, no travel;
// - rba.score is missing for a user with no sign-in yet: 1, the neutral ratio (log → 0).
const NOVELTY_MISSING = 0.5;

function bool(feature: string, missing = NOVELTY_MISSING): ColumnSpec {
  return { name: feature, feature, transform: { kind: 'bool', missing } };
}
function count(feature: string): ColumnSpec {
  return { name: feature, feature, transform: { kind: 'log1p', scale: 1, missing: 0 } };
}

/** The default columns, in order (docs/model.md lists them with their reasons). */
export const DEFAULT_COLUMNS: readonly ColumnSpec[] = Object.freeze([
  bool('device.known'),
  bool('history.known_country'),
  bool('history.known_asn'),
  bool('history.known_ip'),
  bool('history.known_ua'),
  { name: 'history.travel_kmh', feature: 'history.travel_kmh', transform: { kind: 'log1p', scale: 1, missing: 0 } },
  {
    name: 'history.since_last_login',
    feature: 'history.since_last_login',
    // Hours, not seconds: log1p of seconds would stretch the first minutes over half the range.
    transform: { kind: 'log1p', scale: SECONDS_PER_HOUR, missing: Math.log1p(365 * 24) },
  },
  count('history.logins'),
  count('velocity.user_failed_1h'),
  count('velocity.user_ips_24h'),
  count('velocity.user_recovery_24h'),
  count('velocity.ip_failed_1h'),
  count('velocity.ip_users_1h'),
  count('velocity.subnet_failed_1h'),
  count('device.users_24h'),
  bool('geo.anonymous', 0),
  bool('geo.vpn', 0),
  bool('geo.tor', 0),
  bool('geo.hosting', 0),
  bool('geo.proxy', 0),
  { name: 'event.hour.sin', feature: 'event.hour', transform: { kind: 'hour_sin', missing: 0 } },
  { name: 'event.hour.cos', feature: 'event.hour', transform: { kind: 'hour_cos', missing: 0 } },
  { name: 'event.type.recovery', feature: 'event.type', transform: { kind: 'equals', value: 'recovery' } },
  // 1e-3 … 1e12 covers every value the Freeman score takes in practice (docs/rba.md).
  { name: 'rba.score', feature: 'rba.score', transform: { kind: 'log10', floor: 1e-3, ceil: 1e12, missing: 0 } },
]);

/** Column names of the default vector (stored in the ONNX metadata as part of `vigil.columns`). */
export const VECTOR_COLUMNS: readonly string[] = Object.freeze(DEFAULT_COLUMNS.map((c) => c.name));

/** Catalog features the default model reads, each once, in column order. */
export const MODEL_FEATURES: readonly string[] = Object.freeze(featuresOf(DEFAULT_COLUMNS));

export function featuresOf(columns: readonly ColumnSpec[]): string[] {
  return [...new Set(columns.map((c) => c.feature))];
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

const DEFAULT_ENCODER = createEncoder(DEFAULT_COLUMNS);

/** Encodes with the default columns: writes VECTOR_COLUMNS.length values into `out`. */
export function encode(features: FeatureBag, out: Float32Array): void {
  if (out.length < DEFAULT_COLUMNS.length) throw new RangeError(`encode: out holds ${out.length} values, needs ${DEFAULT_COLUMNS.length}`);
  DEFAULT_ENCODER.encode(features, out, 0);
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
