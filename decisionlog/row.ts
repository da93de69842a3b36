// One stored decision in its three forms: the LogRow the engine hands over, the "wire" JSON text
// (made once at append; the same text is a spool line and an element of a batch insert, which
// PostgreSQL reads with jsonb_to_recordset), and the database row a query returns. Also: the ULID
// ↔ uuid mapping (ids are stored as 16-byte uuids; a ULID's first 48 bits are its time, so the id
// names its day partition), the smallint codes of decisions and outcomes, and append's validation.
import ipaddr from 'ipaddr.js';
import type { Decision, FeatureValue, LogRow, Outcome, RuleHitRow, SecurityLogEntry } from './types.ts';

export const DECISIONS: readonly Decision[] = ['allow', 'step_up', 'block'];
export const OUTCOMES: readonly Outcome[] = ['succeeded', 'failed', 'challenge_passed', 'challenge_failed'];

export function decisionCode(d: Decision): number {
  return DECISIONS.indexOf(d);
}
export function outcomeCode(o: Outcome): number {
  return OUTCOMES.indexOf(o);
}
export function isDecision(x: unknown): x is Decision {
  return typeof x === 'string' && (DECISIONS as readonly string[]).includes(x);
}
export function isOutcome(x: unknown): x is Outcome {
  return typeof x === 'string' && (OUTCOMES as readonly string[]).includes(x);
}

// ---------------------------------------------------------------------------------------------
// ULID ↔ uuid

const B32 = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const B32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B32.length; i++) {
  B32_VALUE[B32.charCodeAt(i)] = i;
  B32_VALUE[B32.toLowerCase().charCodeAt(i)] = i;
}
const ULID_RE = /^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/;

/** The canonical (upper-case) ULID, or null when `id` is not one. */
export function normalizeUlid(id: unknown): string | null {
  return typeof id === 'string' && ULID_RE.test(id) ? id.toUpperCase() : null;
}

/** Milliseconds encoded in a valid ULID's first 10 characters. */
export function ulidTime(id: string): number {
  let t = 0;
  for (let i = 0; i < 10; i++) t = t * 32 + (B32_VALUE[id.charCodeAt(i)] ?? 0);
  return t;
}

/** A valid ULID as a uuid string (the same 128 bits). */
export function ulidToUuid(id: string): string {
  let n = 0n;
  for (let i = 0; i < 26; i++) n = (n << 5n) | BigInt(B32_VALUE[id.charCodeAt(i)] ?? 0);
  const hex = n.toString(16).padStart(32, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function uuidToUlid(uuid: string): string {
  let n = BigInt('0x' + uuid.replace(/-/g, ''));
  let out = '';
  for (let i = 0; i < 26; i++) {
    out = B32.charAt(Number(n & 31n)) + out;
    n >>= 5n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation

const HASH_RE = /^[A-Za-z0-9_-]{8,128}$/;
const TYPE_RE = /^[a-z][a-z_]{0,31}$/;
const RULE_RE = /^[A-Za-z_][A-Za-z0-9_.:-]{0,127}$/;
const COUNTRY_RE = /^[A-Z]{2}$/;
/** A notice code of dsl.md § 7 (the catalogue itself is the DSL's; the log keeps any such word). */
const NOTICE_RE = /^[a-z][a-z0-9_]{0,63}$/;
const MAX_TEXT = 256;
/** Features that carry a raw identifier; the engine evaluates them, the log never stores them. */
export const RAW_FEATURES: readonly string[] = ['user.id', 'device.id', 'ip.address'];
/** Earliest and latest event time accepted (2000-01-01 .. 2100-01-01): anything else is a bug upstream. */
const MIN_TIME = Date.UTC(2000, 0, 1);
const MAX_TIME = Date.UTC(2100, 0, 1);

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const proto: unknown = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

const V4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
// Prefixes repeat (every address of a /24 shares one), and parsing one costs microseconds on the
// answer's path: results are remembered, the memory bounded by starting over when it fills.
const prefixCache = new Map<string, string | null>();
const PREFIX_CACHE_MAX = 20_000;

/** A coarse prefix: IPv4 /0../24 or IPv6 /0../48, host bits zero; returned in canonical text. */
export function checkPrefix(p: string): string | null {
  const hit = prefixCache.get(p);
  if (hit !== undefined) return hit;
  const out = parsePrefix(p);
  if (prefixCache.size >= PREFIX_CACHE_MAX) prefixCache.clear();
  prefixCache.set(p, out);
  return out;
}

function parsePrefix(p: string): string | null {
  if (p.length > 64) return null;
  const m = V4_RE.exec(p);
  if (m) {
    const o = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
    const [a = 0, b = 0, c = 0, d = 0] = o;
    const bits = Number(m[5]);
    if (o.some((x) => x > 255) || bits > 24) return null;
    const n = (((a << 24) >>> 0) + (b << 16) + (c << 8) + d) >>> 0;
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    if ((n & ~mask) >>> 0 !== 0) return null;
    return `${o.join('.')}/${bits}`;
  }
  try {
    const [addr, bits] = ipaddr.parseCIDR(p);
    if (addr.kind() === 'ipv4') {
      if (bits > 24) return null;
      const net = ipaddr.IPv4.networkAddressFromCIDR(p);
      if (net.toString() !== addr.toString()) return null;
      return `${net.toString()}/${bits}`;
    }
    if (bits > 48) return null;
    const v6 = addr as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return null;
    const net = ipaddr.IPv6.networkAddressFromCIDR(p);
    if (net.toNormalizedString() !== v6.toNormalizedString()) return null;
    return `${net.toString()}/${bits}`;
  } catch {
    return null;
  }
}

function checkRules(xs: unknown, what: string): string | null {
  if (!Array.isArray(xs)) return `${what} is not an array`;
  if (xs.length > 1000) return `${what} has more than 1000 entries`;
  for (const r of xs as unknown[]) {
    if (!isPlainObject(r)) return `${what} holds a non-object`;
    const h = r as Partial<Record<keyof RuleHitRow, unknown>>;
    if (typeof h.name !== 'string' || !RULE_RE.test(h.name)) return `${what} holds a bad rule name`;
    if (h.action !== null && !isDecision(h.action)) return `${what} ${h.name}: bad action`;
    if (typeof h.score !== 'number' || !Number.isFinite(h.score)) return `${what} ${h.name}: bad score`;
    if (!Array.isArray(h.tags) || !(h.tags as unknown[]).every((t) => typeof t === 'string' && t.length <= MAX_TEXT)) {
      return `${what} ${h.name}: bad tags`;
    }
  }
  return null;
}

function optText(x: unknown, max = MAX_TEXT): boolean {
  return x === null || (typeof x === 'string' && x.length <= max);
}

/**
 * Why `row` cannot be stored, or null when it can. Cheap checks only (append runs on the answer's
 * path); JSON serialization (in toWire) catches what is left (cycles, BigInt).
 */
export function rowProblem(row: LogRow): string | null {
  if (typeof row !== 'object' || row === null) return 'not an object';
  const id = normalizeUlid(row.id);
  if (!id) return 'id is not a ULID';
  if (typeof row.time !== 'number' || !Number.isSafeInteger(row.time) || row.time < MIN_TIME || row.time >= MAX_TIME) {
    return 'time is not a plausible integer of milliseconds';
  }
  if (ulidTime(id) !== row.time) return 'the id\'s time part differs from time';
  if (typeof row.type !== 'string' || !TYPE_RE.test(row.type)) return 'bad type';
  if (typeof row.user !== 'string' || !HASH_RE.test(row.user)) return 'user is not a keyed hash';
  if (typeof row.ip !== 'string' || !HASH_RE.test(row.ip)) return 'ip is not a keyed hash';
  if (row.device !== null && (typeof row.device !== 'string' || !HASH_RE.test(row.device))) return 'device is not a keyed hash';
  if (row.prefix !== null && (typeof row.prefix !== 'string' || checkPrefix(row.prefix) === null)) {
    return 'prefix is not an IPv4 /24 (or wider) or IPv6 /48 (or wider) network';
  }
  if (row.country !== null && (typeof row.country !== 'string' || !COUNTRY_RE.test(row.country))) return 'bad country';
  if (row.asn !== null && (typeof row.asn !== 'number' || !Number.isInteger(row.asn) || row.asn < 0 || row.asn > 4294967295)) {
    return 'bad asn';
  }
  if (!isDecision(row.decision)) return 'bad decision';
  if (typeof row.score !== 'number' || !Number.isFinite(row.score)) return 'bad score';
  if (typeof row.degraded !== 'boolean') return 'bad degraded';
  const r = checkRules(row.rules, 'rules') ?? checkRules(row.shadow, 'shadow');
  if (r) return r;
  if (row.overrides !== undefined && !(Array.isArray(row.overrides) && row.overrides.length <= 1000 && row.overrides.every((n) => typeof n === 'string' && n.length > 0 && n.length <= MAX_TEXT))) {
    return 'bad overrides';
  }
  const p: unknown = row.pack;
  if (!isPlainObject(p)) return 'bad pack';
  if (typeof p.name !== 'string' || p.name.length === 0 || p.name.length > MAX_TEXT) return 'bad pack name';
  if (typeof p.version !== 'number' || !Number.isInteger(p.version) || p.version < 0 || p.version > 2147483647) return 'bad pack version';
  if (typeof p.hash !== 'string' || p.hash.length === 0 || p.hash.length > MAX_TEXT) return 'bad pack hash';
  if (!optText(row.modelVersion)) return 'bad modelVersion';
  if (!isPlainObject(row.features)) return 'features is not an object';
  for (const v of Object.values(row.features)) {
    if (v !== null && typeof v !== 'boolean' && typeof v !== 'string' && !(typeof v === 'number' && Number.isFinite(v))) {
      return 'a feature value is not a boolean, finite number, string or null';
    }
  }
  if (row.city !== undefined && !optText(row.city)) return 'bad city';
  if (row.change !== undefined && row.change !== null && (typeof row.change !== 'string' || !TYPE_RE.test(row.change))) return 'bad change';
  if (row.notices !== undefined && !(Array.isArray(row.notices) && row.notices.length <= 64 && row.notices.every((c) => typeof c === 'string' && NOTICE_RE.test(c)))) {
    return 'bad notices';
  }
  if (!isPlainObject(row.ctx)) return 'ctx is not an object';
  if (!isPlainObject(row.request)) return 'request is not an object';
  if (row.outcome !== null && !isOutcome(row.outcome)) return 'bad outcome';
  if (row.outcome !== null && (typeof row.outcomeAt !== 'number' || !Number.isFinite(row.outcomeAt))) return 'outcome without outcomeAt';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Wire form

/**
 * The JSON object a row travels as (spool line, batch element). Keys are the recordset's column
 * names; `id` (the ULID) is for the spool's index, `u`/`at` are what PostgreSQL stores.
 */
export interface Wire {
  readonly k: 'r';
  readonly id: string;
  readonly u: string;
  readonly at: string;
  readonly type: string;
  readonly user_h: string;
  readonly device_h: string | null;
  readonly ip_h: string;
  readonly prefix: string | null;
  readonly country: string | null;
  readonly asn: number | null;
  readonly decision: number;
  readonly score: number;
  readonly degraded: boolean;
  readonly rules: readonly RuleHitRow[];
  readonly shadow: readonly RuleHitRow[];
  readonly overrides: readonly string[] | null;
  readonly pack_name: string;
  readonly pack_version: number;
  readonly pack_hash: string;
  readonly model_version: string | null;
  readonly features: Readonly<Record<string, FeatureValue>>;
  readonly ctx: Readonly<Record<string, unknown>>;
  readonly request: Readonly<Record<string, unknown>>;
  readonly city: string | null;
  readonly change: string | null;
  readonly notices: readonly string[] | null;
  readonly outcome?: number | null;
  readonly outcome_ms?: number | null;
  readonly outcome_at?: string | null;
}

function strip(features: Readonly<Record<string, FeatureValue>>): Readonly<Record<string, FeatureValue>> {
  if (!RAW_FEATURES.some((k) => k in features)) return features;
  const out: Record<string, FeatureValue> = {};
  for (const [k, v] of Object.entries(features)) if (!RAW_FEATURES.includes(k)) out[k] = v;
  return out;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

// PostgreSQL's jsonb refuses \u0000 and unpaired surrogates, which JSON.stringify happily writes; one
// such string would fail its whole batch, so strings are cleaned (only when the cheap test fires).
function cleanString(_k: string, v: unknown): unknown {
  return typeof v === 'string' ? v.replace(/\u0000/g, '').replace(LONE_SURROGATE, '\uFFFD') : v;
}

/** The wire JSON of a valid row, without its outcome (spliced in by withOutcome). */
export function toWire(row: LogRow): string {
  const id = row.id.toUpperCase();
  const w: Wire = {
    k: 'r',
    id,
    u: ulidToUuid(id),
    at: new Date(row.time).toISOString(),
    type: row.type,
    user_h: row.user,
    device_h: row.device,
    ip_h: row.ip,
    prefix: row.prefix === null ? null : checkPrefix(row.prefix),
    country: row.country,
    asn: row.asn,
    decision: decisionCode(row.decision),
    score: row.score,
    degraded: row.degraded,
    rules: row.rules,
    shadow: row.shadow,
    overrides: row.overrides !== undefined && row.overrides.length > 0 ? row.overrides : null,
    pack_name: row.pack.name,
    pack_version: row.pack.version,
    pack_hash: row.pack.hash,
    model_version: row.modelVersion,
    features: strip(row.features),
    ctx: row.ctx,
    request: row.request,
    city: row.city ?? null,
    change: row.change ?? null,
    notices: row.notices !== undefined && row.notices.length > 0 ? row.notices : null,
  };
  const json = JSON.stringify(w);
  // JSON.stringify writes both NUL and unpaired surrogates as \u escapes: one indexOf rules both out.
  if (json.includes('\\u') && (json.includes('\\u0000') || /\\ud[89a-f]/i.test(json))) return JSON.stringify(w, cleanString);
  return json;
}

/** `json` (a wire object without outcome) with the outcome fields added. */
export function withOutcome(json: string, outcome: Outcome | null, outcomeAt: number | null): string {
  if (outcome === null || outcomeAt === null) return json;
  return `${json.slice(0, -1)},"outcome":${outcomeCode(outcome)},"outcome_ms":${outcomeAt},"outcome_at":"${new Date(outcomeAt).toISOString()}"}`;
}

function rulesOf(x: unknown): RuleHitRow[] {
  return Array.isArray(x) ? (x as RuleHitRow[]) : [];
}
function objectOf<T>(x: unknown): Readonly<Record<string, T>> {
  return isPlainObject(x) ? (x as Record<string, T>) : {};
}
function strOrNull(x: unknown): string | null {
  return typeof x === 'string' ? x : null;
}
function numOrNull(x: unknown): number | null {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

/** A LogRow from a parsed wire object (queued or spooled rows). */
export function fromWire(w: Record<string, unknown>, outcome: Outcome | null = null, outcomeAt: number | null = null): LogRow {
  const id = String(w.id);
  const oc = typeof w.outcome === 'number' ? OUTCOMES[w.outcome] ?? null : null;
  return {
    id,
    time: ulidTime(id),
    type: String(w.type),
    user: String(w.user_h),
    device: strOrNull(w.device_h),
    ip: String(w.ip_h),
    prefix: strOrNull(w.prefix),
    country: strOrNull(w.country),
    asn: numOrNull(w.asn),
    decision: DECISIONS[Number(w.decision)] ?? 'allow',
    score: Number(w.score),
    degraded: w.degraded === true,
    rules: rulesOf(w.rules),
    shadow: rulesOf(w.shadow),
    ...(Array.isArray(w.overrides) && w.overrides.length > 0 ? { overrides: w.overrides.filter((n): n is string => typeof n === 'string') } : {}),
    pack: { name: String(w.pack_name), version: Number(w.pack_version), hash: String(w.pack_hash) },
    modelVersion: strOrNull(w.model_version),
    features: objectOf<FeatureValue>(w.features),
    ctx: objectOf<unknown>(w.ctx),
    request: objectOf<unknown>(w.request),
    ...(typeof w.city === 'string' ? { city: w.city } : {}),
    ...(typeof w.change === 'string' ? { change: w.change } : {}),
    ...(Array.isArray(w.notices) && w.notices.length > 0 ? { notices: w.notices.filter((n): n is string => typeof n === 'string') } : {}),
    outcome: outcome ?? oc,
    outcomeAt: outcomeAt ?? (oc ? numOrNull(w.outcome_ms) : null),
  };
}

/** Columns a query selects for a LogRow (`d` the decisions row, `o` its outcome row). */
export const SELECT_COLUMNS = `d.id::text AS u, d.type, d.user_h, d.device_h, d.ip_h, d.prefix::text AS prefix, d.country,
  d.asn::float8 AS asn, d.decision::int AS decision, d.score, d.degraded, d.rules, d.shadow, d.overrides, d.pack_name, d.pack_version,
  d.pack_hash, d.model_version, d.features, d.ctx, d.request, d.city, d.change, d.notices, o.outcome::int AS outcome,
  (extract(epoch FROM o.outcome_at) * 1000)::float8 AS outcome_ms`;

/** A LogRow from a row selected with SELECT_COLUMNS. */
export function fromDb(r: Record<string, unknown>): LogRow {
  const id = uuidToUlid(String(r.u));
  return fromWire({ ...r, id }, null, null);
}

/** A security-log entry from a row of the `security_log` view (as sql.ts selects it). */
export function securityEntryFromDb(r: Record<string, unknown>): SecurityLogEntry {
  return {
    time: Math.round(Number(r.ms)),
    type: String(r.type),
    change: strOrNull(r.change),
    decision: DECISIONS[Number(r.decision)] ?? 'allow',
    country: strOrNull(r.country),
    city: strOrNull(r.city),
    browser: strOrNull(r.browser),
    os: strOrNull(r.os),
    notices: Array.isArray(r.notices) ? r.notices.filter((n): n is string => typeof n === 'string') : [],
  };
}
