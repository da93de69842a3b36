// The session record: what a sign-in decision keeps for the session it opens, so that a later
// account_change naming it (`login_decision_id`) reads its session features (features/session.ts) in
// its own store round trip. Keyed hashes and coarse facts only (the user's, address's and device's
// keyed hashes, the country, the decision, score and whether device, country and address were new),
// as a compact JSON array without key names:
//   [2, time, user, ip, device, country, decision, score, new_device, new_country, new_ip]
// with null for an unknown value and 1/0 for the booleans. Version 1 (no new_ip) is still read: an
// instance upgraded while sessions are open reads the records the old version wrote, and the
// missing flag reads as missing. It lives for the session window (VIGIL_SESSION_WINDOW, default
// 24 h), longer than the outcome window: sessions outlast an outcome.
import type { Action } from '../dsl/ast.ts';
import type { EventContext } from '../features/store/index.ts';
import type { LinkedLogin } from '../features/session.ts';
import type { HistoryFeatures } from '../features/history.ts';
import type { LogRow } from '../decisionlog/index.ts';

const DIGEST = /^[A-Za-z0-9_-]{1,64}$/;
const ACTIONS: ReadonlySet<string> = new Set(['allow', 'step_up', 'block']);
/** Elements of each record version, the version number included. */
const LENGTH: Readonly<Record<number, number>> = { 1: 10, 2: 11 };

const bit = (b: boolean | undefined): 0 | 1 | null => (b === undefined ? null : b ? 1 : 0);
const isNew = (known: boolean | undefined): 0 | 1 | null => bit(known === undefined ? undefined : !known);

/** The record of a sign-in decision; `history` is what the sign-in's own read knew (new device, country, address). */
export function encodeSession(ctx: EventContext, decision: Action, score: number, history: HistoryFeatures): string {
  return JSON.stringify([
    2,
    ctx.time,
    ctx.user,
    ctx.ip,
    ctx.device ?? null,
    ctx.country ?? null,
    decision,
    score,
    isNew(history['device.known']),
    isNew(history['history.known_country']),
    isNew(history['history.known_ip']),
  ]);
}

/**
 * A sign-in the decision log kept, as the linked sign-in: past the session window (or after the
 * store lost its record) the log's row holds the same keyed hashes and, among the features as
 * evaluated, the novelty flags the record keeps. A flag the pack did not read is missing.
 */
export function linkedLoginFromRow(row: LogRow): LinkedLogin | undefined {
  if (row.type !== 'login') return undefined;
  const isNew = (name: string): boolean | undefined => {
    const v = row.features[name];
    return typeof v === 'boolean' ? !v : undefined;
  };
  return {
    time: row.time,
    user: row.user,
    ip: row.ip,
    device: row.device ?? undefined,
    country: row.country ?? undefined,
    decision: row.decision,
    score: row.score,
    newDevice: isNew('device.known'),
    newCountry: isNew('history.known_country'),
    newIp: isNew('history.known_ip'),
  };
}

/** The linked sign-in, or undefined for text that is not a session record (damage, an unknown version). */
export function decodeSession(raw: string | null | undefined): LinkedLogin | undefined {
  if (typeof raw !== 'string') return undefined;
  let a: unknown;
  try {
    a = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (!Array.isArray(a) || typeof a[0] !== 'number' || LENGTH[a[0]] !== a.length) return undefined;
  const [, time, user, ip, device, country, decision, score, newDevice, newCountry, newIp] = a as unknown[];
  if (typeof time !== 'number' || !Number.isFinite(time)) return undefined;
  if (typeof user !== 'string' || !DIGEST.test(user) || typeof ip !== 'string' || !DIGEST.test(ip)) return undefined;
  if (device !== null && (typeof device !== 'string' || !DIGEST.test(device))) return undefined;
  if (country !== null && (typeof country !== 'string' || country.length === 0 || country.length > 8)) return undefined;
  if (typeof decision !== 'string' || !ACTIONS.has(decision) || typeof score !== 'number' || !Number.isFinite(score)) return undefined;
  // Version 1 has no new_ip element: `undefined` there reads as missing, like a stored null.
  const flag = (v: unknown): boolean | undefined | null => (v === null || v === undefined ? undefined : v === 1 ? true : v === 0 ? false : null);
  const nd = flag(newDevice);
  const nc = flag(newCountry);
  const ni = flag(newIp);
  if (nd === null || nc === null || ni === null) return undefined;
  return {
    time,
    user,
    ip,
    device: device === null ? undefined : (device as string),
    country: country === null ? undefined : (country as string),
    decision: decision as Action,
    score,
    newDevice: nd,
    newCountry: nc,
    newIp: ni,
  };
}
