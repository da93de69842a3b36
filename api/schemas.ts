// Request body schemas (zod) and their translation into engine inputs. Unknown fields are ignored
// (forward compatibility: a caller may send fields a later version reads); `null` in an optional
// field means absent. Every rejection lists each bad field as {path, code, message}.
import { z } from 'zod';
import { AUDIT_ACTIONS } from '../engine/audit.ts';
import { CHANGE_KINDS, EVENT_TYPES } from '../features/catalog.ts';
import { isWellFormed, utf8Bytes } from '../common/text.ts';
import { parseIp } from '../features/ip.ts';
import { LIST_LIMITS, ttlAllowed } from '../features/store/lists.ts';
import { parseDuration } from './config.ts';
import type { Outcome, VigilEvent } from '../engine/types.ts';

/** Identifier limits are UTF-8 bytes (what is hashed and stored), not characters. */
export const MAX_USER_ID = 256;
export const MAX_DEVICE_ID = 256;
export const MAX_USER_AGENT = 1024;
export const MAX_DECISION_ID = 128;
export const MAX_PACK_FILES = 256;
export const MAX_PACK_PATH = 256;
/** Characters of an admin change's `reason` (it goes into the audit log). */
export const MAX_REASON = 500;

/** Why a text is refused as an identifier (null: it is fine): a lone surrogate, or past `maxBytes`. */
export function identifierProblem(s: string, maxBytes: number): FieldIssue | null {
  // A lone surrogate has no UTF-8 form: hashed or stored it would turn into U+FFFD and share the
  // history of the id that really holds U+FFFD. JSON carries one as an escape (`"\ud800"`).
  if (!isWellFormed(s)) return { path: '', code: 'invalid_format', message: 'must be well-formed Unicode (no lone surrogate such as \\ud800)' };
  // Every UTF-16 unit is 1 to 3 UTF-8 bytes (a surrogate pair: 4 bytes for 2 units).
  if (s.length > maxBytes || (s.length * 3 > maxBytes && utf8Bytes(s) > maxBytes)) {
    return { path: '', code: 'too_big', message: `at most ${maxBytes} bytes (UTF-8)` };
  }
  return null;
}

/** An identifier field: 1 to `maxBytes` UTF-8 bytes of well-formed Unicode (`minBytes` 0: may be empty). */
function identifier(maxBytes: number, minBytes: 0 | 1 = 1) {
  return z.string().superRefine((s, ctx) => {
    if (minBytes === 1 && s.length === 0) {
      ctx.addIssue({ code: 'too_small', origin: 'string', minimum: 1, inclusive: true, message: 'must not be empty' });
      return;
    }
    const p = identifierProblem(s, maxBytes);
    if (p === null) return;
    if (p.code === 'too_big') ctx.addIssue({ code: 'too_big', origin: 'string', maximum: maxBytes, inclusive: true, message: p.message });
    else ctx.addIssue({ code: 'invalid_format', format: 'unicode', message: p.message });
  });
}

const isoDateTime = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time, e.g. 2026-11-24T18:00:00Z' });
const isoDateOrDateTime = z.union([isoDateTime, z.iso.date()], {
  message: 'must be an ISO 8601 date or date-time, e.g. 2024-01-05T10:00:00Z',
});

export const evaluateBodySchema = z.object({
  type: z.enum(EVENT_TYPES, { message: `must be one of ${EVENT_TYPES.join(', ')}` }),
  user: z.object({
    id: identifier(MAX_USER_ID),
    created_at: isoDateOrDateTime.nullish(),
    mfa: z.boolean().nullish(),
  }),
  // features/ip.ts's strict parser (dotted-quad IPv4, IPv6 without zone); the engine gets the
  // canonical text, so one address never reaches rules and history under two spellings.
  ip: z.string().transform((s, ctx) => {
    const p = parseIp(s);
    if (p === null) {
      ctx.addIssue({ code: 'custom', message: 'must be an IPv4 or IPv6 address' });
      return z.NEVER;
    }
    return p.address;
  }),
  device: z
    .object({
      id: identifier(MAX_DEVICE_ID).nullish(),
      user_agent: identifier(MAX_USER_AGENT, 0).nullish(),
    })
    .nullish(),
  time: isoDateTime.nullish(),
  // account_change (features.md § Sensitive actions): what changes, and the sign-in that opened the
  // session making the change (absent: the session features are missing).
  change: z.enum(CHANGE_KINDS, { message: `must be one of ${CHANGE_KINDS.join(', ')}` }).nullish(),
  login_decision_id: identifier(MAX_DECISION_ID).nullish(),
}).superRefine((b, ctx) => {
  if (b.type === 'account_change') {
    if (b.change == null) ctx.addIssue({ code: 'custom', path: ['change'], message: `required for account_change: one of ${CHANGE_KINDS.join(', ')}` });
    return;
  }
  for (const k of ['change', 'login_decision_id'] as const) {
    if (b[k] != null) ctx.addIssue({ code: 'custom', path: [k], message: 'only for account_change events' });
  }
});
export type EvaluateBody = z.infer<typeof evaluateBodySchema>;

export const outcomeBodySchema = z.object({
  decision_id: identifier(MAX_DECISION_ID),
  outcome: z.enum(['succeeded', 'failed', 'challenge_passed', 'challenge_failed'] as const satisfies readonly Outcome[]),
});

/** A relative path inside a pack: no absolute paths, no `.`/`..` segments, no backslashes. */
const packPath = z
  .string()
  .max(MAX_PACK_PATH)
  .regex(/^[A-Za-z0-9_\-.]+(\/[A-Za-z0-9_\-.]+)*$/, { message: 'must be a relative path of [A-Za-z0-9_-.] segments' })
  .refine((p) => !p.split('/').some((seg) => seg === '.' || seg === '..'), { message: 'must not contain . or .. segments' });

export const packFilesBodySchema = z.object({
  files: z
    .record(packPath, z.string())
    .refine((f) => Object.keys(f).length <= MAX_PACK_FILES, { message: `at most ${MAX_PACK_FILES} files` })
    .refine((f) => Object.keys(f).some((p) => !p.includes('/') && p.endsWith('.rules')), {
      message: 'needs at least one top-level .rules file',
    }),
});

/** POST /v1/packs/backtest: the candidate's files and how many recent decisions to replay. */
export const BACKTEST_MAX_LIMIT = 10_000;
export const backtestBodySchema = packFilesBodySchema.extend({
  limit: z.number().int().min(1).max(BACKTEST_MAX_LIMIT).optional(),
});

const packHashParam = z.string().regex(/^sha256:[0-9a-f]{64}$/, { message: 'must be a pack hash (sha256:<64 hex digits>)' });

/** GET /v1/packs/files?hash= and GET /v1/packs/diff?to=. */
export const packVersionQuerySchema = z.strictObject({ hash: packHashParam.optional(), to: packHashParam.optional() });

export interface FieldIssue {
  readonly path: string;
  readonly code: string;
  readonly message: string;
}

export function fieldIssues(err: z.ZodError): FieldIssue[] {
  return err.issues.map((i) => ({
    path: i.path.map(String).join('.') || '(body)',
    code: i.code,
    message: i.message,
  }));
}

export type EventParse = { ok: true; event: VigilEvent } | { ok: false; issues: FieldIssue[] };

/**
 * Validate an evaluate body and turn it into a VigilEvent. `time` must lie within `maxSkewMs` of
 * `now`; absent, it is `now`.
 */
export function parseEvaluateBody(body: unknown, maxSkewMs: number, now: number): EventParse {
  const r = evaluateBodySchema.safeParse(body);
  if (!r.success) return { ok: false, issues: fieldIssues(r.error) };
  const b = r.data;
  let time = now;
  if (b.time != null) {
    time = Date.parse(b.time);
    if (Math.abs(time - now) > maxSkewMs) {
      return {
        ok: false,
        issues: [{ path: 'time', code: 'skew', message: `must lie within ${maxSkewMs / 1000}s of the server clock (VIGIL_MAX_SKEW)` }],
      };
    }
  }
  const event: {
    -readonly [K in keyof VigilEvent]: VigilEvent[K];
  } = { type: b.type, userId: b.user.id, ip: b.ip, time };
  if (b.user.created_at != null) event.userCreatedAt = Date.parse(b.user.created_at);
  if (b.user.mfa != null) event.mfa = b.user.mfa;
  if (b.device?.id != null) event.deviceId = b.device.id;
  if (b.device?.user_agent != null) event.userAgent = b.device.user_agent;
  if (b.change != null) event.change = b.change;
  if (b.login_decision_id != null) event.loginDecisionId = b.login_decision_id;
  return { ok: true, event };
}

/**
 * The first query parameter of `url` whose percent-encoding is not UTF-8 (`%FF`, `%ED%A0%80`), as a
 * field issue, or null. Node's query parser hands such a value on with U+FFFD in place of the bytes,
 * so `?user=a%FF` would name the user "a\uFFFD"; a route taking an identifier refuses it instead.
 */
export function undecodableQuery(url: string): FieldIssue | null {
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('%', q)) return null;
  for (const part of url.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const [key, value] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    for (const text of [key, value]) {
      try {
        decodeURIComponent(text.replace(/\+/g, ' '));
      } catch {
        let name = key;
        try {
          name = decodeURIComponent(key.replace(/\+/g, ' '));
        } catch {
          name = '(name)';
        }
        return { path: `query.${name}`, code: 'invalid_format', message: 'must be percent-encoded UTF-8' };
      }
    }
  }
  return null;
}

/** `limit` of a page (a query parameter): 1-1000. */
const pageLimit = z
  .string()
  .regex(/^\d{1,4}$/, 'must be an integer from 1 to 1000')
  .transform(Number)
  .refine((n) => n >= 1 && n <= 1000, 'must be an integer from 1 to 1000');

/** `since`/`until` of a search: an ISO 8601 date-time, or a duration meaning that long before now (`24h`). */
function instant(now: () => number) {
  return z
    .string()
    .max(64)
    .transform((s, ctx) => {
      const rel = /^(\d{1,9})(s|m|h|d)$/.exec(s);
      if (rel) return now() - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
      const t = isoDateTime.safeParse(s).success ? Date.parse(s) : NaN;
      if (Number.isNaN(t)) {
        ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 date-time (2026-11-24T18:00:00Z) or a duration ago (30m, 24h, 7d)' });
        return z.NEVER;
      }
      return t;
    });
}

/** GET /v1/decisions query: every filter optional; newest first, `limit` per page (1-1000, default 50). */
export function decisionQuerySchema(now: () => number) {
  return z
    .object({
      user: identifier(MAX_USER_ID).optional(),
      rule: z
        .string()
        .regex(/^[a-z_][a-z0-9_]{0,127}$/, 'must be a rule name ([a-z_][a-z0-9_]*)')
        .optional(),
      decision: z.enum(['allow', 'step_up', 'block'], { message: 'must be allow, step_up or block' }).optional(),
      since: instant(now).optional(),
      until: instant(now).optional(),
      limit: pageLimit.optional(),
      cursor: z.string().min(1).max(512).optional(),
    })
    .strict()
    .refine((q) => q.since === undefined || q.until === undefined || q.since < q.until, {
      message: 'since must lie before until',
      path: ['since'],
    });
}

/** Entries of one security-log page at most (it is shown to a person). */
export const MAX_SECURITY_LOG_PAGE = 100;

/** GET /v1/users/:id/security-log: the path's user id (raw; the engine hashes it). */
export const userIdParamsSchema = z.object({ id: identifier(MAX_USER_ID) });

/** GET /v1/users/:id/security-log?limit=&cursor= */
export const securityLogQuerySchema = z
  .object({
    limit: z
      .string()
      .regex(/^\d{1,3}$/, `must be an integer from 1 to ${MAX_SECURITY_LOG_PAGE}`)
      .transform(Number)
      .refine((n) => n >= 1 && n <= MAX_SECURITY_LOG_PAGE, `must be an integer from 1 to ${MAX_SECURITY_LOG_PAGE}`)
      .optional(),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict();

const reason = z.string().min(1).max(MAX_REASON).nullish();

/** A pack hash as the history names it. */
export const PACK_HASH = /^sha256:[0-9a-f]{64}$/;

/** POST /v1/packs/rollback: no body, or `{"to"?: hash, "reason"?}`. */
export const packRollbackBodySchema = z
  .object({
    to: z.string().regex(PACK_HASH, 'must be a pack hash (sha256: and 64 hex digits)').nullish(),
    reason,
  })
  .nullish();

/** A list entry's `ttl`: `30s`, `15m`, `2h`, `7d` → ms, within LIST_LIMITS. */
const listTtl = z
  .string()
  .max(32)
  .transform((s, ctx) => {
    const ms = parseDuration(s);
    if (ms === undefined || !ttlAllowed(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30s, 15m, 2h or 7d, from 1s to 365d' });
      return z.NEVER;
    }
    return ms;
  });

/**
 * POST /v1/lists/:name. Entries are checked against the list's kind afterwards (a bad one is a 422
 * naming it), since the kind is the active pack's, not the body's.
 */
export const listAddBodySchema = z.object({
  entries: z.array(z.unknown()).min(1).max(LIST_LIMITS.maxPerRequest, { message: `at most ${LIST_LIMITS.maxPerRequest} entries per request` }),
  ttl: listTtl.nullish(),
  reason,
});

/** DELETE /v1/lists/:name. */
export const listRemoveBodySchema = z.object({
  entries: z.array(z.unknown()).min(1).max(LIST_LIMITS.maxPerRequest, { message: `at most ${LIST_LIMITS.maxPerRequest} entries per request` }),
  reason,
});

/** DELETE /v1/counters: an address (any spelling parseIp accepts; canonical after), a user id, or both. */
export const countersBodySchema = z
  .object({
    ip: z
      .string()
      .transform((s, ctx) => {
        const p = parseIp(s);
        if (p === null) {
          ctx.addIssue({ code: 'custom', message: 'must be an IPv4 or IPv6 address' });
          return z.NEVER;
        }
        return p.address;
      })
      .nullish(),
    subnet: z.boolean().nullish(),
    user: identifier(MAX_USER_ID).nullish(),
    reason,
  })
  .refine((b) => b.ip != null || b.user != null, { message: 'give ip, user or both' })
  .refine((b) => b.subnet !== true || b.ip != null, { message: 'subnet needs ip', path: ['subnet'] });

/** GET /v1/audit query: newest first; `since` an ISO 8601 date-time (or a duration ago), `action`, `limit` 1-1000 (default 100). */
export function auditQuerySchema(now: () => number) {
  return z
    .object({
      since: instant(now).optional(),
      action: z.enum(AUDIT_ACTIONS, { message: `must be one of ${AUDIT_ACTIONS.join(', ')}` }).optional(),
      limit: pageLimit.optional(),
    })
    .strict();
}
/** A rule name in a path (`/v1/overrides/:rule`). */
export const RULE_NAME = /^[a-z_][a-z0-9_]{0,127}$/;
/** The longest override: an emergency switch, not a way to edit a pack. */
export const MAX_OVERRIDE_TTL_MS = 30 * 86_400_000;

/** A reason an admin change is made for (the audit log keeps it). */
const givenReason = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_REASON, `at most ${MAX_REASON} characters`);

const DURATION_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const ttl = z.string().transform((s, ctx) => {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(s);
  const ms = m ? Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS] : NaN;
  if (!(ms > 0 && ms <= MAX_OVERRIDE_TTL_MS)) {
    ctx.addIssue({ code: 'custom', message: 'must be a positive duration such as 90s, 30m, 2h or 7d, at most 30d' });
    return z.NEVER;
  }
  return ms;
});

/** PUT /v1/overrides/:rule. */
export const overrideBodySchema = z.object({
  mode: z.enum(['off', 'shadow'], { message: 'must be off or shadow' }),
  ttl: ttl.nullish(),
  reason: givenReason,
});

/** An optional `{"reason"}` body (DELETE of an override or of the shadow pack). */
export const reasonBodySchema = z.object({ reason: givenReason.nullish() }).nullish();

const flag = z.enum(['1', 'true', '0', 'false'], { message: 'must be 1, true, 0 or false' }).transform((s) => s === '1' || s === 'true');

/** PUT /v1/packs/active and /v1/packs/shadow query: `force` (active only) and the audit `reason`. */
export const packChangeQuerySchema = z
  .object({ force: flag.optional(), reason: givenReason.optional() })
  .strict()
  .refine((q) => q.force !== true || q.reason !== undefined, { message: 'a forced activation needs a reason', path: ['reason'] });

/** GET /v1/packs/shadow/report query. */
export const shadowReportQuerySchema = z.object({ since: isoDateTime.transform((s) => Date.parse(s)).optional() }).strict();
