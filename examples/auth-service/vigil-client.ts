// The example auth service's client for Vigil's HTTP API (shared/spec/interfaces.md): POST
// /v1/evaluate before a credential is checked, POST /v1/outcome after. It owns the failure policy:
// any failure to get a well-formed decision (unreachable, timeout, non-2xx, malformed JSON) becomes
// `step_up` — the README explains why that, and not `allow` or `block`.

export type Decision = 'allow' | 'step_up' | 'block';
export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

export interface EvaluateRequest {
  readonly type: 'login' | 'recovery';
  readonly user: { readonly id: string; readonly created_at?: string; readonly mfa?: boolean };
  readonly ip: string;
  readonly device?: { readonly id?: string; readonly user_agent?: string };
}

export interface Verdict {
  readonly decision: Decision;
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
  readonly apiToken?: string;
  /** Per request. Vigil answers in milliseconds; waiting longer only delays the user. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

export interface VigilClient {
  evaluate(req: EvaluateRequest): Promise<Verdict>;
  /** Never throws: a lost outcome costs Vigil one data point, never the user a sign-in. */
  outcome(decisionId: string, outcome: Outcome): Promise<void>;
}

const FAIL_OPEN: Verdict = Object.freeze({ decision: 'step_up', failOpen: true });
const DECISIONS: ReadonlySet<string> = new Set(['allow', 'step_up', 'block']);

export function createVigilClient(opts: VigilClientOptions): VigilClient {
  const base = opts.url.replace(/\/+$/, '');
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.apiToken) headers.authorization = `Bearer ${opts.apiToken}`;
  const log = opts.logger;

  async function post(path: string, body: unknown): Promise<Response> {
    return fetch(base + path, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  }

  return {
    async evaluate(req) {
      let res: Response;
      try {
        res = await post('/v1/evaluate', req);
      } catch (err) {
        log.warn({ err: String(err), type: req.type }, 'vigil unreachable: failing open to step_up');
        return FAIL_OPEN;
      }
      let json: unknown;
      try {
        json = await res.json();
      } catch {
        json = undefined;
      }
      if (!res.ok) {
        // A 4xx means this service sent something Vigil refuses (a bug here); a 5xx, trouble there.
        // Either way the user is not at fault and must not be locked out, nor waved through.
        log.error({ status: res.status, body: json, type: req.type }, 'vigil refused the evaluation: failing open to step_up');
        return FAIL_OPEN;
      }
      const verdict = parseVerdict(json);
      if (!verdict) {
        log.error({ body: json }, 'vigil answered without a valid decision: failing open to step_up');
        return FAIL_OPEN;
      }
      return verdict;
    },

    async outcome(decisionId, outcome) {
      try {
        const res = await post('/v1/outcome', { decision_id: decisionId, outcome });
        await res.arrayBuffer();
        if (!res.ok) log.warn({ status: res.status, decisionId, outcome }, 'vigil did not accept the outcome');
      } catch (err) {
        log.warn({ err: String(err), decisionId, outcome }, 'could not report the outcome to vigil');
      }
    },
  };
}

function parseVerdict(json: unknown): Verdict | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { decision, decision_id: id } = json as { decision?: unknown; decision_id?: unknown };
  if (typeof decision !== 'string' || !DECISIONS.has(decision)) return undefined;
  if (typeof id !== 'string' || id.length === 0) return undefined;
  return { decision: decision as Decision, decisionId: id, failOpen: false };
}
