// `vigil/client`: the typed client of Vigil's HTTP API (shared/spec/interfaces.md) for an auth
// service (evaluate, outcome) and for admin tools (packs, lists, overrides, decisions, counters,
// erasure, audit). Its request and answer types come from the zod schemas the server validates
// with (api/schemas.ts) and describes its answers with (api/responses.ts), imported as types only:
// at run time this file needs nothing but the platform's fetch, so importing it loads neither
// Express nor any server code (test/architecture/dependencies.test.ts holds it to that).
//
// Failures are typed: `VigilApiError` carries the spec's error code (`unauthorized`,
// `pack_rejected`, ...); `VigilUnavailableError` says Vigil gave no answer (unreachable, timeout,
// a 5xx without the error shape, a malformed answer). For `evaluate`, the caller chooses what an
// unavailable Vigil means (`onUnavailable`): `open` answers a synthetic `allow`, `closed` a
// synthetic `step_up`, `throw` (the default) throws. docs/client.md explains the trade-off.
import type { z } from 'zod';
import type * as answers from '../api/responses.ts';
import type * as requests from '../api/schemas.ts';

export type ApiErrorCode = answers.ApiErrorCodeName;
export type EvaluateRequest = z.input<typeof requests.evaluateBodySchema>;
export type EvaluateResponse = z.output<typeof answers.evaluateResponseSchema>;
export type Decision = EvaluateResponse['decision'];
export type Outcome = z.input<typeof requests.outcomeBodySchema>['outcome'];
export type StoredDecision = z.output<typeof answers.decisionWithExplainSchema>;
export type DecisionPage = z.output<typeof answers.decisionPageSchema>;
/** GET /v1/decisions filters; `since`/`until` an ISO 8601 date-time or a duration ago (`24h`). */
export type DecisionSearch = Omit<z.input<ReturnType<typeof requests.decisionQuerySchema>>, 'limit'> & { readonly limit?: number };
export type AuditQuery = Omit<z.input<ReturnType<typeof requests.auditQuerySchema>>, 'limit'> & { readonly limit?: number };
export type AuditEntries = z.output<typeof answers.auditResponseSchema>;
export type SecurityLog = z.output<typeof answers.securityLogResponseSchema>;
export type SecurityLogEntry = SecurityLog['entries'][number];
export interface SecurityLogQuery {
  /** 1-100 (default 20). */
  readonly limit?: number;
  /** `cursor` of the previous page. */
  readonly cursor?: string;
}
export type CountersClear = z.input<typeof requests.countersBodySchema>;
/** A pack: one `.rules` file's text, or `{"path": text}` for several files (`lists/x.txt` too). */
export type PackSource = string | z.input<typeof requests.packFilesBodySchema>['files'];
export type PackList = z.output<typeof answers.packListResponseSchema>;
export type PackMeta = z.output<typeof answers.packMetaSchema>;
export type PackValidation = z.output<typeof answers.packValidateResponseSchema>;
export type PackActivation = z.output<typeof answers.packActivateResponseSchema>;
export type PackRollback = z.output<typeof answers.packRollbackResponseSchema>;
export type PackRejectedDetails = z.output<typeof answers.packRejectedDetailsSchema>;
export type StoredPack = z.output<typeof answers.storedPackResponseSchema>;
export type PackVersionFiles = z.output<typeof answers.packFilesResponseSchema>;
export type PackDiffAnswer = z.output<typeof answers.packDiffResponseSchema>;
export type Backtest = z.output<typeof answers.backtestResponseSchema>;
export type ShadowPackSet = z.output<typeof answers.packShadowSetResponseSchema>;
export type ShadowPackCleared = z.output<typeof answers.packShadowClearResponseSchema>;
export type ShadowReport = z.output<typeof answers.shadowReportSchema>;
export type DeclaredLists = z.output<typeof answers.declaredListsSchema>;
export type ListView = z.output<typeof answers.listViewSchema>;
export type ListAdd = z.input<typeof requests.listAddBodySchema>;
export type ListRemove = z.input<typeof requests.listRemoveBodySchema>;
export type OverrideSet = z.input<typeof requests.overrideBodySchema>;
export type Overrides = z.output<typeof answers.overridesResponseSchema>;
export type OverrideSetAnswer = z.output<typeof answers.overrideSetResponseSchema>;
export type OverrideRemoved = z.output<typeof answers.overrideClearResponseSchema>;
export type Readiness = z.output<typeof answers.readyResponseSchema>;

/** Why Vigil gave no answer. */
export type UnavailableReason = 'unreachable' | 'timeout' | 'server_error' | 'bad_answer';

/** What `evaluate` does when Vigil gives no answer (docs/client.md: the trade-off). */
export type OnUnavailable = 'open' | 'closed' | 'throw';

export class VigilError extends Error {
  override readonly name: string = 'VigilError';
}

/** Vigil answered with its error shape: `code` is one of the spec's codes. */
export class VigilApiError extends VigilError {
  override readonly name = 'VigilApiError';
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
    /** `null`, field issues, pack diagnostics (pack_rejected), readiness checks... */
    readonly details: unknown,
    /** The X-Request-Id of the answer (the server's logs carry it). */
    readonly requestId: string | null,
  ) {
    super(`${code}: ${message}`);
  }
}

/** Vigil gave no usable answer. */
export class VigilUnavailableError extends VigilError {
  override readonly name = 'VigilUnavailableError';
  constructor(
    readonly reason: UnavailableReason,
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Vigil's answer. */
export type Evaluated = EvaluateResponse & { readonly unavailable: false };

/** The synthetic answer of `onUnavailable: 'open' | 'closed'` when Vigil gave none. */
export interface FallbackDecision {
  readonly unavailable: true;
  /** `allow` (open) or `step_up` (closed). */
  readonly decision: 'allow' | 'step_up';
  /** No decision was made: there is nothing to report an outcome for. */
  readonly decision_id: null;
  readonly degraded: true;
  readonly reason: UnavailableReason;
  readonly error: VigilError;
}

export interface ClientOptions {
  /** Base URL, e.g. `http://vigil:8080` (a path prefix is kept). */
  readonly url: string;
  /** Bearer token: VIGIL_API_TOKEN for evaluate/outcome; also sent on admin calls unless `adminToken` is set. */
  readonly token?: string | undefined;
  /** Bearer token of the admin calls (VIGIL_ADMIN_TOKEN). */
  readonly adminToken?: string | undefined;
  /** Per evaluate/outcome call, ms (default 1000). Vigil answers in milliseconds; longer only delays the user. */
  readonly timeoutMs?: number;
  /** Per admin call, ms (default 30000: a pack push compiles and runs the pack's tests). */
  readonly adminTimeoutMs?: number;
  /** What evaluate does when Vigil gives no answer (default `throw`). */
  readonly onUnavailable?: OnUnavailable;
  /** X-Vigil-Actor of admin changes: who the audit log names (default on the server: `admin`). */
  readonly actor?: string;
}

export interface EvaluateOptions {
  /** `?explain=1`: the answer adds every feature and the model's contributions. */
  readonly explain?: boolean;
}

export interface VigilClient {
  /**
   * POST /v1/evaluate. With `onUnavailable` `open`/`closed`, an unreachable or failing Vigil (network
   * error, timeout, 5xx, malformed answer) gives a FallbackDecision; a 4xx always throws
   * VigilApiError (the request is wrong or the token is: no fallback should hide that).
   */
  evaluate(body: EvaluateRequest, opts?: EvaluateOptions): Promise<Evaluated | FallbackDecision>;
  /** POST /v1/outcome (204). An unknown or expired decision id throws VigilApiError `not_found`. */
  outcome(decisionId: string, outcome: Outcome): Promise<void>;
  health(): Promise<{ status: 'ok' }>;
  /** GET /readyz; not ready throws VigilApiError `unavailable` whose details hold the checks. */
  ready(): Promise<Readiness>;
  readonly decisions: {
    get(id: string, opts?: { readonly explain?: boolean }): Promise<StoredDecision>;
    search(query?: DecisionSearch): Promise<DecisionPage>;
  };
  readonly users: {
    /** DELETE /v1/users/:id/history: the user's history, counters and decisions. */
    erase(userId: string): Promise<{ keys: number; decisions: number }>;
    /** GET /v1/users/:id/security-log: the user's sign-ins, recoveries and changes, newest first (admin). */
    securityLog(userId: string, query?: SecurityLogQuery): Promise<SecurityLog>;
  };
  readonly counters: {
    clear(target: CountersClear): Promise<{ cleared: number }>;
  };
  audit(query?: AuditQuery): Promise<AuditEntries>;
  readonly model: { reload(): Promise<{ version: string }> };
  readonly packs: {
    /** GET /v1/packs: the active pack (status), its history and the shadow pack. */
    list(): Promise<PackList>;
    validate(source: PackSource): Promise<PackValidation>;
    /** PUT /v1/packs/active. Refused: VigilApiError `pack_rejected` (details: PackRejectedDetails). */
    push(source: PackSource, opts?: { readonly force?: boolean; readonly reason?: string }): Promise<PackActivation>;
    rollback(opts?: { readonly to?: string; readonly reason?: string }): Promise<PackRollback>;
    get(hash: string): Promise<StoredPack>;
    files(hash?: string): Promise<PackVersionFiles>;
    /** Without `source`: what a rollback (or a return to `to`) would change; with it: what activating it would. */
    diff(opts: { readonly to?: string } | { readonly source: PackSource }): Promise<PackDiffAnswer>;
    backtest(files: Exclude<PackSource, string>, opts?: { readonly limit?: number }): Promise<Backtest>;
    readonly shadow: {
      set(source: PackSource, opts?: { readonly reason?: string }): Promise<ShadowPackSet>;
      clear(opts?: { readonly reason?: string }): Promise<ShadowPackCleared>;
      report(opts?: { readonly since?: string }): Promise<ShadowReport>;
    };
  };
  readonly lists: {
    declared(): Promise<DeclaredLists>;
    get(name: string): Promise<ListView>;
    add(name: string, change: ListAdd): Promise<ListView>;
    remove(name: string, change: ListRemove): Promise<ListView>;
  };
  readonly overrides: {
    list(): Promise<Overrides>;
    set(rule: string, override: OverrideSet): Promise<OverrideSetAnswer>;
    clear(rule: string, opts?: { readonly reason?: string }): Promise<OverrideRemoved>;
  };
}

const DECISIONS: ReadonlySet<string> = new Set(['allow', 'step_up', 'block']);

type Query = Readonly<Record<string, string | number | boolean | undefined>>;

interface Call {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path: string;
  readonly query?: Query;
  /** A string is sent as text/plain, anything else as JSON. */
  readonly body?: unknown;
  readonly admin: boolean;
}

export function createClient(opts: ClientOptions): VigilClient {
  let parsed: URL | undefined;
  try {
    parsed = new URL(opts.url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TypeError(`vigil client: url must be an absolute http(s) URL, got ${JSON.stringify(opts.url)}`);
  }
  const base = parsed.href.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 1000;
  const adminTimeoutMs = opts.adminTimeoutMs ?? 30_000;
  for (const [name, v] of [['timeoutMs', timeoutMs], ['adminTimeoutMs', adminTimeoutMs]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new TypeError(`vigil client: ${name} must be a positive integer (ms), got ${String(v)}`);
  }
  const onUnavailable = opts.onUnavailable ?? 'throw';
  const adminToken = opts.adminToken ?? opts.token;

  async function call<T>(c: Call): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const token = c.admin ? adminToken : opts.token;
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (c.admin && opts.actor !== undefined && c.method !== 'GET') headers['x-vigil-actor'] = opts.actor;
    let body: string | undefined;
    if (c.body !== undefined) {
      headers['content-type'] = typeof c.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
      body = typeof c.body === 'string' ? c.body : JSON.stringify(c.body);
    }
    let url = base + c.path;
    if (c.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(c.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s !== '') url += `?${s}`;
    }
    const ms = c.admin ? adminTimeoutMs : timeoutMs;
    let res: Response;
    let text: string;
    try {
      // One deadline for the answer and its body: a server that sends headers and then stalls
      // times out too.
      res = await fetch(url, { method: c.method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(ms) });
      text = await res.text();
    } catch (err) {
      if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
        throw new VigilUnavailableError('timeout', `vigil did not answer ${c.method} ${c.path} within ${ms} ms`, null, { cause: err });
      }
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new VigilUnavailableError('unreachable', `vigil is unreachable at ${base} (${cause})`, null, { cause: err });
    }
    const requestId = res.headers.get('x-request-id');
    let json: unknown;
    if (text !== '') {
      try {
        json = JSON.parse(text) as unknown;
      } catch {
        json = undefined;
      }
    }
    if (res.ok) {
      if (res.status === 204) return undefined as T;
      if (json === undefined && (res.headers.get('content-type') ?? '').includes('json')) {
        throw new VigilUnavailableError('bad_answer', `vigil answered ${c.method} ${c.path} with malformed JSON`, res.status);
      }
      return (json ?? text) as T;
    }
    const e = errorOf(json);
    if (e) throw new VigilApiError(res.status, e.code, e.message, e.details, requestId);
    // Not Vigil's error shape: a proxy or load balancer answered (a 502 page, a 404 of another app).
    throw new VigilUnavailableError(
      res.status >= 500 ? 'server_error' : 'bad_answer',
      `vigil answered ${c.method} ${c.path} with HTTP ${res.status} without its error shape`,
      res.status,
    );
  }

  const api = <T>(c: Omit<Call, 'admin'>): Promise<T> => call<T>({ ...c, admin: false });
  const admin = <T>(c: Omit<Call, 'admin'>): Promise<T> => call<T>({ ...c, admin: true });
  const seg = encodeURIComponent;
  const withReason = (reason: string | undefined): { reason: string } | undefined => (reason !== undefined ? { reason } : undefined);

  function fallback(err: VigilError, reason: UnavailableReason): FallbackDecision {
    if (onUnavailable === 'throw') throw err;
    return { unavailable: true, decision: onUnavailable === 'open' ? 'allow' : 'step_up', decision_id: null, degraded: true, reason, error: err };
  }

  return {
    async evaluate(body, o) {
      let answer: unknown;
      try {
        answer = await api<unknown>({ method: 'POST', path: '/v1/evaluate', body, ...(o?.explain ? { query: { explain: 1 } } : {}) });
      } catch (err) {
        if (err instanceof VigilUnavailableError) return fallback(err, err.reason);
        // A 5xx in Vigil's own shape (`unavailable`: no pack loaded; `internal`) is Vigil failing,
        // not the request: the caller's choice applies. A 4xx is the caller's to fix.
        if (err instanceof VigilApiError && err.status >= 500) return fallback(err, 'server_error');
        throw err;
      }
      if (!isDecision(answer)) {
        return fallback(new VigilUnavailableError('bad_answer', 'vigil answered /v1/evaluate without a decision and a decision id', 200), 'bad_answer');
      }
      return { ...answer, unavailable: false };
    },
    async outcome(decisionId, outcome) {
      await api<void>({ method: 'POST', path: '/v1/outcome', body: { decision_id: decisionId, outcome } });
    },
    health: () => api({ method: 'GET', path: '/healthz' }),
    ready: () => api({ method: 'GET', path: '/readyz' }),
    decisions: {
      get: (id, o) => admin({ method: 'GET', path: `/v1/decisions/${seg(id)}`, ...(o?.explain ? { query: { explain: 1 } } : {}) }),
      search: (q = {}) => admin({ method: 'GET', path: '/v1/decisions', query: q }),
    },
    users: {
      erase: (userId) => admin({ method: 'DELETE', path: `/v1/users/${seg(userId)}/history` }),
      securityLog: (userId, q = {}) => admin({ method: 'GET', path: `/v1/users/${seg(userId)}/security-log`, query: { limit: q.limit, cursor: q.cursor } }),
    },
    counters: { clear: (target) => admin({ method: 'DELETE', path: '/v1/counters', body: target }) },
    audit: (q = {}) => admin({ method: 'GET', path: '/v1/audit', query: q }),
    model: { reload: () => admin({ method: 'POST', path: '/v1/model/reload' }) },
    packs: {
      list: () => admin({ method: 'GET', path: '/v1/packs' }),
      validate: (source) => admin({ method: 'POST', path: '/v1/packs/validate', body: packBody(source) }),
      push: (source, o = {}) =>
        admin({ method: 'PUT', path: '/v1/packs/active', query: { force: o.force === true ? 1 : undefined, reason: o.reason }, body: packBody(source) }),
      rollback: (o = {}) => admin({ method: 'POST', path: '/v1/packs/rollback', body: { ...(o.to !== undefined ? { to: o.to } : {}), ...withReason(o.reason) } }),
      get: (hash) => admin({ method: 'GET', path: `/v1/packs/${seg(hash)}` }),
      files: (hash) => admin({ method: 'GET', path: '/v1/packs/files', query: { hash } }),
      diff: (o) =>
        'source' in o
          ? admin({ method: 'POST', path: '/v1/packs/diff', body: packBody(o.source) })
          : admin({ method: 'GET', path: '/v1/packs/diff', query: { to: o.to } }),
      backtest: (files, o = {}) => admin({ method: 'POST', path: '/v1/packs/backtest', body: { files, ...(o.limit !== undefined ? { limit: o.limit } : {}) } }),
      shadow: {
        set: (source, o = {}) => admin({ method: 'PUT', path: '/v1/packs/shadow', query: { reason: o.reason }, body: packBody(source) }),
        clear: (o = {}) => admin({ method: 'DELETE', path: '/v1/packs/shadow', body: withReason(o.reason) }),
        report: (o = {}) => admin({ method: 'GET', path: '/v1/packs/shadow/report', query: { since: o.since } }),
      },
    },
    lists: {
      declared: () => admin({ method: 'GET', path: '/v1/lists' }),
      get: (name) => admin({ method: 'GET', path: `/v1/lists/${seg(name)}` }),
      add: (name, change) => admin({ method: 'POST', path: `/v1/lists/${seg(name)}`, body: change }),
      remove: (name, change) => admin({ method: 'DELETE', path: `/v1/lists/${seg(name)}`, body: change }),
    },
    overrides: {
      list: () => admin({ method: 'GET', path: '/v1/overrides' }),
      set: (rule, override) => admin({ method: 'PUT', path: `/v1/overrides/${seg(rule)}`, body: override }),
      clear: (rule, o = {}) => admin({ method: 'DELETE', path: `/v1/overrides/${seg(rule)}`, body: withReason(o.reason) }),
    },
  };
}

function packBody(source: PackSource): string | { files: Readonly<Record<string, string>> } {
  return typeof source === 'string' ? source : { files: source };
}

function isDecision(v: unknown): v is EvaluateResponse {
  if (typeof v !== 'object' || v === null) return false;
  const { decision, decision_id: id } = v as { decision?: unknown; decision_id?: unknown };
  return typeof decision === 'string' && DECISIONS.has(decision) && typeof id === 'string' && id.length > 0;
}

function errorOf(json: unknown): { code: ApiErrorCode; message: string; details: unknown } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const e = (json as { error?: unknown }).error;
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, message, details } = e as { code?: unknown; message?: unknown; details?: unknown };
  if (typeof code !== 'string' || typeof message !== 'string') return undefined;
  // A code this client does not know yet (a newer server) still comes through as given.
  return { code: code as ApiErrorCode, message, details: details ?? null };
}
