// The outcome window: what Redis keeps per decision for the next minutes — only what POST /v1/outcome
// needs to teach the signals (the store's EventContext: keyed hashes, the coarse place, the browser
// pair's hash, the rba field hashes), as a compact JSON array without key names, plus the outcome
// once applied (outcomes are idempotent). Everything else about a decision lives in the decision log.
// Layout: [1, type, time, user, ip, subnet, device, country, asn, lat, lon, ua, rba, outcome]; the
// address's rba field is the address hash with a prefix, so it is written as 0 and rebuilt.
import { parseEventContext, type EventContext } from '../features/store/index.ts';
import type { Outcome } from './types.ts';

const OUTCOMES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'challenge_passed', 'challenge_failed']);

export interface WindowRecord {
  readonly ctx: EventContext;
  readonly outcome: Outcome | null;
}

const orNull = <T>(v: T | undefined): T | null => (v === undefined ? null : v);
/** The prefix of the address's rba field (features/store: `ip` + the address hash). */
const IP_FIELD = 'ip';

export function encodeWindow(ctx: EventContext, outcome: Outcome | null = null): string {
  return JSON.stringify([
    1,
    ctx.type,
    ctx.time,
    ctx.user,
    ctx.ip,
    orNull(ctx.subnet),
    orNull(ctx.device),
    orNull(ctx.country),
    orNull(ctx.asn),
    orNull(ctx.lat),
    orNull(ctx.lon),
    orNull(ctx.ua),
    ctx.rba === undefined ? null : ctx.rba.map((f, i) => (i === 0 && f === IP_FIELD + ctx.ip ? 0 : f)),
    outcome,
  ]);
}

/** The record, or null for text that is not one (another version, damage): treated as unknown. */
export function decodeWindow(raw: string): WindowRecord | null {
  let a: unknown;
  try {
    a = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!Array.isArray(a) || a.length !== 14 || a[0] !== 1) return null;
  const o: Record<string, unknown> = { v: 1, type: a[1], time: a[2], user: a[3], ip: a[4] };
  const optional = ['subnet', 'device', 'country', 'asn', 'lat', 'lon', 'ua', 'rba'] as const;
  optional.forEach((k, i) => {
    const v: unknown = a[5 + i];
    if (v !== null) o[k] = v;
  });
  if (Array.isArray(o.rba) && o.rba[0] === 0) o.rba = [IP_FIELD + String(a[4]), ...(o.rba as unknown[]).slice(1)];
  const ctx = parseEventContext(o);
  const outcome: unknown = a[13];
  if (ctx === null || (outcome !== null && (typeof outcome !== 'string' || !OUTCOMES.has(outcome)))) return null;
  return { ctx, outcome: outcome as Outcome | null };
}
