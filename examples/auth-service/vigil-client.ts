// The example auth service's use of Vigil: the typed client (`vigil/client`, client/index.ts) does
// the HTTP calls, timeouts and error typing; this file owns the service's failure policy on top of
// it. Any failure to get a well-formed decision (unreachable, timeout, a 5xx, a malformed answer:
// the client's `onUnavailable: 'closed'`; and a 4xx, which the client throws) becomes `step_up`,
// logged — the README explains why that, and not `allow` or `block`.
import { createClient, VigilApiError, VigilUnavailableError, type Decision, type EvaluateRequest, type Outcome, type SecurityLog } from '../../client/index.ts';

export type { Decision, Outcome, SecurityLog, SecurityLogEntry } from '../../client/index.ts';

/** A notice from Vigil's answer: user-safe, so the service may show `message` as it is. */
export interface Notice {
  readonly code: string;
  readonly message: string;
}

export interface Verdict {
  readonly decision: Decision;
  /** What Vigil says the user may be told about this decision (empty when none, and when failing open). */
  readonly notices: readonly Notice[];
  /** Absent when Vigil gave no decision (the verdict is the fail-open step_up): no outcome to report. */
  readonly decisionId?: string;
  /** True when Vigil could not be asked and this verdict is the fail-open default. */
  readonly failOpen: boolean;
}

export interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface VigilClientOptions {
  /** Base URL, e.g. `http://vigil:8080` (a path prefix is kept). */
  readonly url: string;
  /** Sent as `Authorization: Bearer …` when set. */
  readonly apiToken?: string | undefined;
  /** Per request. Vigil answers in milliseconds; waiting longer only delays the user. */
  readonly timeoutMs: number;
  /** VIGIL_ADMIN_TOKEN: the security log is an admin route (absent: no security log). */
  readonly adminToken?: string | undefined;
  readonly logger: Logger;
}

export interface VigilClient {
  /** A sign-in, a recovery or an account change (`change`, `login_decision_id` of the session's sign-in). */
  evaluate(req: EvaluateRequest): Promise<Verdict>;
  /** Never throws: a lost outcome costs Vigil one data point, never the user a sign-in. */
  outcome(decisionId: string, outcome: Outcome): Promise<void>;
  /** The user's security log page; null when it cannot be had (no admin token, Vigil down or refusing): logged. */
  securityLog(userId: string, cursor?: string): Promise<SecurityLog | null>;
}

/** Entries on one page of the account's security log. */
export const SECURITY_LOG_PAGE = 20;

const FAIL_OPEN: Verdict = Object.freeze({ decision: 'step_up', notices: Object.freeze([]), failOpen: true });

export function createVigilClient(opts: VigilClientOptions): VigilClient {
  const vigil = createClient({ url: opts.url, token: opts.apiToken || undefined, timeoutMs: opts.timeoutMs, onUnavailable: 'closed' });
  const log = opts.logger;
  // The admin token travels only on the security-log call, never with evaluate and outcome.
  const admin = opts.adminToken ? createClient({ url: opts.url, adminToken: opts.adminToken, adminTimeoutMs: opts.timeoutMs }) : null;

  return {
    async evaluate(req) {
      try {
        const r = await vigil.evaluate(req);
        if (!r.unavailable) {
          return { decision: r.decision, decisionId: r.decision_id, notices: noticesOf(r.notices), failOpen: false };
        }
        const err = r.error.message;
        if (r.reason === 'unreachable' || r.reason === 'timeout') {
          log.warn({ err, reason: r.reason, type: req.type }, 'vigil unreachable: failing open to step_up');
        } else if (r.reason === 'bad_answer') {
          log.error({ err, type: req.type }, 'vigil answered without a valid decision: failing open to step_up');
        } else {
          log.error({ err, type: req.type }, 'vigil refused the evaluation: failing open to step_up');
        }
        return FAIL_OPEN;
      } catch (err) {
        // A 4xx means this service sent something Vigil refuses (a bug here) or a wrong token. The
        // user is not at fault and must not be locked out, nor waved through.
        const detail = err instanceof VigilApiError ? { status: err.status, code: err.code, err: err.message } : { err: String(err) };
        log.error({ ...detail, type: req.type }, 'vigil refused the evaluation: failing open to step_up');
        return FAIL_OPEN;
      }
    },

    async outcome(decisionId, outcome) {
      try {
        await vigil.outcome(decisionId, outcome);
      } catch (err) {
        if (err instanceof VigilApiError) log.warn({ status: err.status, code: err.code, decisionId, outcome }, 'vigil did not accept the outcome');
        else log.warn({ err: String(err), decisionId, outcome }, 'could not report the outcome to vigil');
      }
    },

    async securityLog(userId, cursor) {
      if (!admin) return null;
      try {
        return await admin.users.securityLog(userId, { limit: SECURITY_LOG_PAGE, ...(cursor !== undefined ? { cursor } : {}) });
      } catch (err) {
        // Not the message: it names the path, and the path holds the user id.
        const detail =
          err instanceof VigilApiError ? { status: err.status, code: err.code } : err instanceof VigilUnavailableError ? { reason: err.reason } : { err: 'unexpected' };
        log.warn(detail, 'could not read the security log from vigil');
        return null;
      }
    },
  };
}

/**
 * The answer's notices, kept only when well formed: the client checks the decision and its id, not
 * this list, and an older Vigil sends none. A missing list is no notice, never a failure.
 */
function noticesOf(raw: unknown): readonly Notice[] {
  if (!Array.isArray(raw)) return [];
  const out: Notice[] = [];
  for (const n of raw as unknown[]) {
    if (typeof n !== 'object' || n === null) continue;
    const { code, message } = n as Record<string, unknown>;
    if (typeof code === 'string' && typeof message === 'string' && message !== '') out.push({ code, message });
  }
  return out;
}
