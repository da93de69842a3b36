// Steady load for the long-running proofs: an open loop of POST /v1/evaluate (request i is due at
// start + i / rate, whatever happened to earlier ones, and its latency counts from that moment, so a
// stalled server is charged for the requests it kept waiting), each allowed decision followed after
// a short pause by a POST /v1/outcome for part of them. It counts every answer by route and status,
// every transport failure by kind and time, degraded answers, and keeps the list of acknowledged
// outcomes (a 2xx answer) with their decision ids, so a run can check afterwards that each is stored.
import { Agent, request } from 'node:http';

export type Outcome = 'succeeded' | 'failed' | 'challenge_passed' | 'challenge_failed';

export interface LoadOptions {
  readonly url: string;
  readonly apiToken?: string;
  /** Evaluations offered per second. */
  readonly rate: number;
  /** Share of answered decisions that get an outcome (0–1). */
  readonly outcomeShare?: number;
  /** Pause before an outcome is sent (a password check takes this long; it also lets a decision written by one worker reach another). */
  readonly outcomeDelayMs?: number;
  /** Distinct users (and devices) the events cycle through. */
  readonly users?: number;
  /** Per-request timeout: a request unanswered by then counts as `timeout`. */
  readonly timeoutMs?: number;
  /** Most sockets open at once. */
  readonly maxSockets?: number;
}

export interface Failure {
  readonly route: 'evaluate' | 'outcome';
  /** When the request was due (evaluate) or sent (outcome), ms since the load started. */
  readonly start: number;
  /** When it failed, ms since the load started. */
  readonly at: number;
  /** An HTTP status (as text) or a transport error code (`ECONNRESET`, `timeout`, …). */
  readonly kind: string;
  /** The error code of a JSON error body, when there is one. */
  readonly code?: string;
}

export interface AckedOutcome {
  readonly id: string;
  readonly outcome: Outcome;
  readonly at: number;
}

export interface LoadStats {
  sent: number;
  answered: number;
  evaluateByStatus: Map<number, number>;
  outcomeByStatus: Map<number, number>;
  outcomesSent: number;
  degraded: number;
  /** Non-2xx answers and transport errors (not 404 outcomes, counted in outcomeByStatus). */
  failures: Failure[];
  acked: AckedOutcome[];
  /** Outcomes for decisions answered without `degraded` that were still 404 when retried 1 s later. */
  notFoundAfterCleanDecision: number;
  /** Outcomes for such decisions that were 404 at first and accepted on the retry 1 s later (the record was late, not lost). */
  foundOnRetry: number;
  /** Evaluate latencies (ms, from due time to the answer's end). */
  latencies: number[];
}

export interface Load {
  readonly stats: LoadStats;
  /** Stop offering; resolves when every request sent has an answer or failed. */
  stop(): Promise<void>;
  /** ms since start. */
  elapsed(): number;
}

const OUTCOMES: readonly Outcome[] = ['succeeded', 'succeeded', 'succeeded', 'failed', 'challenge_passed', 'challenge_failed'];
// Documentation and GeoIP-test addresses spread over a few places.
const PREFIXES = ['81.2.69.', '89.160.20.', '216.160.83.', '2.125.160.', '175.16.199.', '198.51.100.', '203.0.113.'];
const UAS = [
  'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
];

export function startLoad(o: LoadOptions): Load {
  const url = new URL(o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.maxSockets ?? 64 });
  const users = o.users ?? 2000;
  const share = o.outcomeShare ?? 0.5;
  const delay = o.outcomeDelayMs ?? 30;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const auth: Record<string, string> = o.apiToken ? { authorization: `Bearer ${o.apiToken}` } : {};
  const stats: LoadStats = {
    sent: 0,
    answered: 0,
    evaluateByStatus: new Map(),
    outcomeByStatus: new Map(),
    outcomesSent: 0,
    degraded: 0,
    failures: [],
    acked: [],
    notFoundAfterCleanDecision: 0,
    foundOnRetry: 0,
    latencies: [],
  };
  const start = process.hrtime.bigint();
  const elapsed = (): number => Number(process.hrtime.bigint() - start) / 1e6;
  const intervalMs = 1000 / o.rate;
  let inflight = 0;
  let stopped = false;
  let drained: (() => void) | null = null;
  const settle = (): void => {
    inflight--;
    if (stopped && inflight === 0) drained?.();
  };
  const bump = (m: Map<number, number>, k: number): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };

  const post = (path: string, body: string, done: (status: number | string, text: string) => void): void => {
    inflight++;
    let finished = false;
    const finish = (status: number | string, text: string): void => {
      if (finished) return;
      finished = true;
      done(status, text);
      settle();
    };
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...auth },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks).toString()));
        res.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? 'response_error', ''));
      },
    );
    req.on('timeout', () => {
      req.destroy();
      finish('timeout', '');
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish(err.code ?? err.message, ''));
    req.end(body);
  };

  const errorCode = (text: string): string | undefined => {
    try {
      const b = JSON.parse(text) as { error?: { code?: unknown } };
      return typeof b.error?.code === 'string' ? b.error.code : undefined;
    } catch {
      return undefined;
    }
  };

  const sendOutcome = (id: string, cleanDecision: boolean, retry = false, chosen?: Outcome): void => {
    const outcome = chosen ?? OUTCOMES[Math.floor(Math.random() * OUTCOMES.length)]!;
    if (!retry) stats.outcomesSent++;
    const start = elapsed();
    post('/v1/outcome', JSON.stringify({ decision_id: id, outcome }), (status, text) => {
      const at = elapsed();
      if (typeof status === 'number' && !retry) bump(stats.outcomeByStatus, status);
      if (status === 204 || status === 200) {
        stats.acked.push({ id, outcome, at });
        if (retry) stats.foundOnRetry++;
      } else if (status === 404) {
        // A decision answered cleanly must be findable: once more a second later, to tell late from lost.
        if (cleanDecision && !retry) {
          inflight++;
          setTimeout(() => {
            sendOutcome(id, cleanDecision, true, outcome);
            settle();
          }, 1000);
        } else if (cleanDecision) stats.notFoundAfterCleanDecision++;
      } else {
        const code = typeof status === 'number' ? errorCode(text) : undefined;
        stats.failures.push({ route: 'outcome', start, at, kind: String(status), ...(code !== undefined ? { code } : {}) });
      }
    });
  };

  const fire = (i: number, due: number): void => {
    const u = i % users;
    const prefix = PREFIXES[u % PREFIXES.length]!;
    const body = JSON.stringify({
      type: i % 17 === 0 ? 'recovery' : 'login',
      user: { id: `chaos-user-${u}`, mfa: u % 3 === 0 },
      ip: `${prefix}${(u * 7) % 250}`,
      device: { id: `chaos-device-${u}`, user_agent: UAS[u % UAS.length] },
    });
    stats.sent++;
    post('/v1/evaluate', body, (status, text) => {
      const at = elapsed();
      stats.latencies.push(at - due);
      if (typeof status === 'number') {
        stats.answered++;
        bump(stats.evaluateByStatus, status);
      }
      if (status !== 200) {
        const code = typeof status === 'number' ? errorCode(text) : undefined;
        stats.failures.push({ route: 'evaluate', start: due, at, kind: String(status), ...(code !== undefined ? { code } : {}) });
        return;
      }
      let r: { decision_id?: unknown; degraded?: unknown; decision?: unknown };
      try {
        r = JSON.parse(text) as typeof r;
      } catch {
        stats.failures.push({ route: 'evaluate', start: due, at, kind: 'bad_json' });
        return;
      }
      if (r.degraded === true) stats.degraded++;
      if (typeof r.decision_id !== 'string') {
        stats.failures.push({ route: 'evaluate', start: due, at, kind: 'no_decision_id' });
        return;
      }
      if (!stopped && r.decision !== 'block' && Math.random() < share) {
        const id = r.decision_id;
        const clean = r.degraded !== true;
        inflight++;
        setTimeout(() => {
          sendOutcome(id, clean);
          settle();
        }, delay);
      }
    });
  };

  let next = 0;
  const tick = (): void => {
    if (stopped) return;
    const now = elapsed();
    const dueNow = Math.floor(now / intervalMs) + 1;
    while (next < dueNow) {
      fire(next, next * intervalMs);
      next++;
    }
    setTimeout(tick, Math.max(1, Math.floor(next * intervalMs - elapsed())));
  };
  tick();

  return {
    stats,
    elapsed,
    stop() {
      stopped = true;
      return new Promise<void>((resolve) => {
        const done = (): void => {
          agent.destroy();
          resolve();
        };
        if (inflight === 0) done();
        else drained = done;
      });
    },
  };
}

/** The p-quantile (0–1) of a list of numbers, or NaN when empty. */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

export function fmtMap(m: ReadonlyMap<number | string, number>): string {
  return [...m].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([k, v]) => `${k}: ${v}`).join(', ') || '-';
}

/** A numeric setting of a long run from the environment (default when unset); exits 2 on a bad one. */
export function envNumber(name: string, dflt: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`${name} must be a number ≥ ${min}, not ${raw}\n`);
    process.exit(2);
  }
  return n;
}
