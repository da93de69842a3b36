// Runtime values at the language's edges: formatting a value for a rendered `reason`, converting a
// JSON feature record (CLI `eval`, API explain, replay) into slots with type validation (or leniently,
// for records kept by the decision log), and resolving Redis-list probes against a RedisListBackend.
// The evaluation core never sees JSON.
import { didYouMean } from './diagnostics.ts';
import { canonicalIp } from './iplist.ts';
import type { CompiledPack } from './compiled.ts';
import { isList, type MaybeValue, type Scheme, type Slots, type Type, type Value } from './types.ts';

/** Integers as they are; anything else rounded to at most two decimals (`3.14159` → `3.14`). */
export function formatNumber(n: number): string {
  if (Number.isInteger(n) || !Number.isFinite(n)) return String(n);
  return String(Math.round(n * 100) / 100);
}

const DURATION_UNITS: readonly [string, number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1],
];

/** Seconds in a compact human form: `9000` → `2h30m`, `0` → `0s`, `-90` → `-1m30s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return String(seconds);
  let rest = Math.round(Math.abs(seconds));
  if (rest === 0) return '0s';
  let out = seconds < 0 ? '-' : '';
  for (const [unit, size] of DURATION_UNITS) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}

/** How a value reads inside a rendered `reason`; a missing value is `?`; ips canonical. */
export function formatValue(v: MaybeValue, type: Type): string {
  if (v === undefined) return '?';
  if (typeof v === 'number') return type === 'duration' ? formatDuration(v) : formatNumber(v);
  if (type === 'ip' && typeof v === 'string') return canonicalIp(v) ?? v;
  return String(v);
}

/** The string a Redis-list probe looks up: ips canonical, everything else as `String(v)`. */
export function probeString(v: Value, elemType: Type): string | undefined {
  if (elemType === 'ip') return typeof v === 'string' ? canonicalIp(v) : undefined;
  return String(v);
}

/**
 * Validate one JSON value against a feature type. `null` means missing (accepted). Durations are
 * seconds as numbers; ips are address strings (not ranges).
 */
export function jsonToValue(v: unknown, type: Type): { ok: true; value: MaybeValue } | { ok: false; reason: string } {
  if (v === null || v === undefined) return { ok: true, value: undefined };
  if (isList(type)) return { ok: false, reason: `list-typed features cannot be given as JSON` };
  switch (type) {
    case 'bool':
      return typeof v === 'boolean' ? { ok: true, value: v } : { ok: false, reason: 'expected a boolean' };
    case 'number':
      return typeof v === 'number' && Number.isFinite(v)
        ? { ok: true, value: v }
        : { ok: false, reason: 'expected a finite number' };
    case 'duration':
      return typeof v === 'number' && Number.isFinite(v)
        ? { ok: true, value: v }
        : { ok: false, reason: 'expected a duration in seconds (a number)' };
    case 'string':
      return typeof v === 'string' ? { ok: true, value: v } : { ok: false, reason: 'expected a string' };
    case 'ip': {
      if (typeof v !== 'string') return { ok: false, reason: 'expected an IP address string' };
      const c = canonicalIp(v);
      return c === undefined ? { ok: false, reason: `\`${v}\` is not an IP address` } : { ok: true, value: c };
    }
  }
}

/** Anything that can answer Redis-list membership (the RedisListBackend of dsl/index.ts). */
export interface ListLookup {
  has(key: string, value: string): boolean | undefined;
}

/** Fill every probe slot by asking `lists`; a missing operand or an unanswered lookup leaves it missing. */
export function resolveProbes(pack: CompiledPack, slots: Slots, lists: ListLookup): void {
  for (const p of pack.probes) {
    const v = p.operand(slots);
    const key = v === undefined ? undefined : probeString(v, p.elemType);
    slots[p.slot] = key === undefined ? undefined : lists.has(p.key, key);
  }
}

/**
 * A JSON feature record (name → value) as slots for `pack`. Unknown feature names and values of the
 * wrong type are errors; features the pack does not read are accepted and ignored. `event.type` is
 * `eventType` (giving a different one is an error). Probe slots are left missing.
 */
export function recordToSlots(
  pack: CompiledPack,
  eventType: string,
  features: Readonly<Record<string, unknown>>,
  scheme: Scheme,
): { ok: true; slots: Slots } | { ok: false; errors: string[] } {
  const errors: string[] = [];
  const slots: Slots = new Array<MaybeValue>(pack.slotCount).fill(undefined);
  if (!scheme.eventTypes.includes(eventType)) {
    errors.push(`unknown event type \`${eventType}\` (expected ${scheme.eventTypes.join(', ')})`);
  }
  if (typeof features !== 'object' || features === null || Array.isArray(features)) {
    return { ok: false, errors: [...errors, 'features must be a JSON object of feature name → value'] };
  }
  for (const [name, raw] of Object.entries(features)) {
    const def = scheme.feature(name);
    if (!def) {
      const hint = didYouMean(name, scheme.featureNames());
      errors.push(`unknown feature \`${name}\`${hint ? ` (did you mean \`${hint}\`?)` : ''}`);
      continue;
    }
    const conv = jsonToValue(raw, def.type);
    if (!conv.ok) {
      errors.push(`feature \`${name}\`: ${conv.reason}`);
      continue;
    }
    if (name === 'event.type' && conv.value !== undefined && conv.value !== eventType) {
      errors.push(`feature \`event.type\` is \`${String(conv.value)}\` but the event type is \`${eventType}\``);
      continue;
    }
    const slot = pack.slotOf(name);
    if (slot >= 0) slots[slot] = conv.value;
  }
  const typeSlot = pack.slotOf('event.type');
  if (typeSlot >= 0) slots[typeSlot] = eventType;
  return errors.length > 0 ? { ok: false, errors } : { ok: true, slots };
}

/**
 * A kept feature record (name → value, null = missing) as slots for `pack`, never refusing: a name
 * the scheme does not know or a value of the wrong type is left missing and listed in `ignored`
 * (a record kept months ago may predate a change of the feature catalog). `event.type` is
 * `eventType`. Probe slots are left missing.
 */
export function recordToSlotsLenient(
  pack: CompiledPack,
  eventType: string,
  features: Readonly<Record<string, unknown>>,
  scheme: Scheme,
): { slots: Slots; ignored: string[] } {
  const slots: Slots = new Array<MaybeValue>(pack.slotCount).fill(undefined);
  const ignored: string[] = [];
  for (const [name, raw] of Object.entries(features)) {
    const def = scheme.feature(name);
    const conv = def ? jsonToValue(raw, def.type) : null;
    if (!def || !conv || !conv.ok) {
      ignored.push(name);
      continue;
    }
    const slot = pack.slotOf(name);
    if (slot >= 0) slots[slot] = conv.value;
  }
  const typeSlot = pack.slotOf('event.type');
  if (typeSlot >= 0) slots[typeSlot] = eventType;
  return { slots, ignored };
}
