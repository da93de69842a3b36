// The HTTP fuzzer shared by `npm run fuzz` (test/fuzz/run.ts) and its short form in the test suite
// (test/fuzz/fuzz.test.ts): requests generated with fast-check against the real server run in
// process (runServer: the production engine on the in-process store, the decision log on PGlite in
// memory), sent over loopback on keep-alive sockets. Every route comes from the router sources
// (api/routes/*.ts), so a new endpoint is fuzzed without an edit here; each gets near-valid bodies,
// arbitrary JSON, raw bytes under assorted content types, pack sources for pack routes, odd path
// parameters, queries and headers. Every answer must be below 500, carry no stack trace, be the
// error shape `{"error": {"code", "message", "details"}}` with the code's own status when it is an
// error (api/errors.ts, docs/api.md § Error codes), and the documented shape when it is a success.
// The server's log must hold no error line. Pack sources alone also go through the pack compiler
// (checkPackFiles): a check result with diagnostics from the registry, never an exception.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import fc from 'fast-check';
import { API_ERRORS } from '../../api/errors.ts';
import { runServer, type ServerHandle } from '../../api/server.ts';
import { DIAGNOSTIC_CODES } from '../../dsl/diagnostics.ts';
import { checkPackFiles } from '../../engine/packs/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { mutatedFile, tokenSoup } from '../dsl/parse-helpers.ts';
import { packFilesOf, packVersion, REPO_ROOT } from '../helpers/serve.ts';

export const API_TOKEN = 'fuzz-api-token-0123456789abcdef';
export const ADMIN_TOKEN = 'fuzz-admin-token-0123456789abcdef';

export interface Route {
  readonly method: string;
  readonly path: string;
}

/** Every route the routers declare: `r.get('/path', …)` and `r.get(['/a', '/b'], …)` in api/routes/*.ts. */
export function routesFromSource(dir = join(REPO_ROOT, 'api/routes')): Route[] {
  const out: Route[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    const text = readFileSync(join(dir, name), 'utf8');
    for (const m of text.matchAll(/\br\.(get|post|put|delete|patch)\(\s*(\[[^\]]*\]|'[^']*'|"[^"]*")/g)) {
      for (const p of m[2]!.matchAll(/['"]([^'"]+)['"]/g)) out.push({ method: m[1]!.toUpperCase(), path: p[1]! });
    }
  }
  return out;
}

// --- the server ------------------------------------------------------------------------------------

export interface FuzzServer {
  readonly url: string;
  /** Log lines at level error or fatal (the final handler logs every `internal` error). */
  readonly errorLines: string[];
  close(): Promise<void>;
}

export interface FuzzServerOptions {
  /** The decision log: PGlite in process (the trial default; 10–15 s to start) or off (the search routes then find nothing). */
  readonly decisionLog?: 'pglite' | 'off';
}

export async function startFuzzServer(opts: FuzzServerOptions = {}): Promise<FuzzServer> {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-fuzz-'));
  const rules = join(tmp, 'rules');
  cpSync(join(REPO_ROOT, 'rules/login_core'), rules, { recursive: true });
  const errorLines: string[] = [];
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) if (/"level":(50|60)/.test(l) && errorLines.length < 100) errorLines.push(l.slice(0, 2000));
      cb();
    },
  });
  let handle: ServerHandle;
  try {
    handle = await runServer(
      {
        PORT: '0',
        VIGIL_API_TOKEN: API_TOKEN,
        VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
        VIGIL_HASH_SECRET: 'fuzz-hash-secret-0123456789abcdef',
        VIGIL_RULES: rules,
        VIGIL_LOG_LEVEL: 'warn',
        // A skew of a week lets generated event times inside it be accepted (deeper paths).
        VIGIL_MAX_SKEW: '7d',
        // The admin rate limit would answer most admin cases 429 before their handler: off, so the
        // fuzzer reaches the routes (test/api/guard.test.ts tests the limit).
        VIGIL_ADMIN_RATE_LIMIT: '0',
        ...(opts.decisionLog === 'off' ? { VIGIL_DECISION_LOG: 'off' } : {}),
      },
      { signals: false, logDestination: sink, packDebounceMs: 50 },
    );
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `http://127.0.0.1:${handle.port}`,
    errorLines,
    async close() {
      await handle.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// --- requests --------------------------------------------------------------------------------------

export interface FuzzRequest {
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Buffer;
}

const SHIPPED = packFilesOf(join(REPO_ROOT, 'rules/login_core'));
const RULE_NAMES = [...Object.values(SHIPPED).join('\n').matchAll(/^rule (\w+)/gm)].map((m) => m[1]!);
const LIST_NAMES = ['vigil:blocked_users', 'vigil:blocked_ips', 'vigil:nope', 'blocked_users'];
const IPS = ['81.2.69.142', '89.160.20.112', '2001:db8::1', '203.0.113.0/24', '10.0.0.0/8', '127.1', '::ffff:1.2.3.4', '1.2.3.4%eth0'];

/** Placeholders substituted at send time with values the server handed out earlier in the run. */
const DECISION = '\u0000DECISION\u0000';
const HASH = '\u0000HASH\u0000';

/** Percent-encoding of any string's UTF-8 bytes (encodeURIComponent throws on a lone surrogate). */
const enc = (s: string): string =>
  [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9\-_.~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

const weird = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom('', '..', '%', '%zz', '%00', '%E0%A4%A', '\ud800', 'null', '0', '-1', '1e309', 'a'.repeat(300)) },
);

const paramFor = (name: string): fc.Arbitrary<string> => {
  const known =
    name === 'id' ? fc.constantFrom(DECISION, 'u-123', '01JD0000000000000000000000') :
    name === 'rule' ? fc.constantFrom(...RULE_NAMES, 'no_such_rule') :
    name === 'name' ? fc.constantFrom(...LIST_NAMES) :
    name === 'hash' ? fc.constantFrom(HASH, 'sha256:' + '0'.repeat(64), 'sha256:1a2b') :
    fc.constant('x');
  return fc.oneof({ weight: 3, arbitrary: known }, { weight: 1, arbitrary: weird.map(enc) }, { weight: 1, arbitrary: weird });
};

const isoTime = fc.oneof(
  fc.integer({ min: -10 * 86_400_000, max: 86_400_000 }).map((d) => new Date(Date.now() + d).toISOString()),
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  weird,
);

const QUERY_KEYS = ['explain', 'since', 'until', 'action', 'limit', 'cursor', 'user', 'decision', 'force', 'reason', 'hash', 'to', 'type', 'rule'];
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(fc.constantFrom(...QUERY_KEYS), weird),
          fc.oneof(fc.constantFrom('1', 'true', '0', '10', '100000', 'allow', 'block', 'pack_activate', HASH, DECISION), isoTime, weird),
        ),
        { maxLength: 4 },
      )
      .map((kv) => '?' + kv.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&')),
  },
  { weight: 1, arbitrary: weird.map((s) => '?' + s.replace(/[\s#]/g, '')) },
);

const jsonish = fc.jsonValue({ maxDepth: 3 });
const orJunk = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: jsonish });

const evaluateBody = fc.record(
  {
    type: orJunk(fc.constantFrom('login', 'recovery', 'account_change')),
    user: orJunk(
      fc.record(
        { id: orJunk(fc.oneof(fc.constantFrom('u-1', 'u-2', 'u-3'), fc.string({ maxLength: 300 }))), mfa: orJunk(fc.boolean()), created_at: orJunk(isoTime) },
        { requiredKeys: [] },
      ),
    ),
    ip: orJunk(fc.oneof(fc.constantFrom(...IPS), fc.ipV4(), fc.ipV6(), fc.ipV4Extended())),
    device: orJunk(fc.record({ id: orJunk(fc.string({ maxLength: 300 })), user_agent: orJunk(fc.string({ maxLength: 1100 })) }, { requiredKeys: [] })),
    time: orJunk(isoTime),
    change: orJunk(fc.constantFrom('password', 'email', 'mfa', 'phone')),
  },
  { requiredKeys: [] },
);

const outcomeBody = fc.record(
  { decision_id: orJunk(fc.oneof(fc.constant(DECISION), fc.string({ maxLength: 140 }))), outcome: orJunk(fc.constantFrom('succeeded', 'failed', 'challenge_passed', 'challenge_failed')) },
  { requiredKeys: [] },
);

const reason = orJunk(fc.oneof(fc.string({ maxLength: 60 }), fc.string({ minLength: 490, maxLength: 520 })));
const ttl = orJunk(fc.constantFrom('2h', '30m', '1s', '0s', '31d', '7d', 'forever', ''));
const listBody = fc.record({ entries: orJunk(fc.array(fc.oneof(fc.constantFrom(...IPS, 'mallory@example.com', '42'), fc.string({ maxLength: 50 })), { maxLength: 5 })), ttl, reason }, { requiredKeys: [] });
const overrideBody = fc.record({ mode: orJunk(fc.constantFrom('off', 'shadow', 'enforce')), ttl, reason }, { requiredKeys: [] });
const countersBody = fc.record({ ip: orJunk(fc.constantFrom(...IPS)), user: orJunk(fc.string({ maxLength: 20 })), subnet: orJunk(fc.boolean()), reason }, { requiredKeys: [] });
const rollbackBody = fc.record({ to: orJunk(fc.constantFrom(HASH, 'sha256:' + '0'.repeat(64))), reason }, { requiredKeys: [] });

/** Pack sources: token soups, generated files with a token spliced in, the shipped pack bent a little. */
const shippedMutated = fc
  .tuple(fc.constantFrom(...Object.keys(SHIPPED)), fc.nat(), fc.oneof(fc.constantFrom('', '{', '}', ' and ', '"', '\n', 'rule x {', ' then block', '"(a+)+$"'), fc.string({ maxLength: 8 })), fc.integer({ min: 1, max: 10_000 }))
  .map(([file, at, insert, version]) => {
    const files = packVersion(SHIPPED, version);
    const text = files[file]!;
    const i = at % (text.length + 1);
    files[file] = text.slice(0, i) + insert + text.slice(i);
    return files;
  });
export const packFilesArb: fc.Arbitrary<Record<string, string>> = fc.oneof(
  { weight: 3, arbitrary: shippedMutated },
  { weight: 2, arbitrary: fc.oneof(tokenSoup, mutatedFile).map((t) => ({ 'a.rules': t })) },
  { weight: 1, arbitrary: fc.dictionary(fc.oneof(fc.constantFrom('a.rules', 'lists/x.txt', '../x.rules', '/abs.rules', 'b.txt', 'c/d.rules'), fc.string({ maxLength: 12 })), fc.oneof(tokenSoup, fc.string({ maxLength: 100 })), { maxKeys: 4 }) },
);
const packBody = fc.oneof(
  { weight: 4, arbitrary: packFilesArb.map((files) => ({ kind: 'json' as const, body: JSON.stringify({ files }) })) },
  { weight: 2, arbitrary: fc.oneof(tokenSoup, mutatedFile).map((t) => ({ kind: 'text' as const, body: t })) },
  { weight: 1, arbitrary: jsonish.map((j) => ({ kind: 'json' as const, body: JSON.stringify(j) })) },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin-9',
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
];

function bodyFor(route: Route): fc.Arbitrary<{ kind: 'json' | 'text' | 'raw'; body: string | Buffer } | null> {
  const near: fc.Arbitrary<unknown> | null =
    route.path === '/v1/evaluate' ? evaluateBody :
    route.path === '/v1/outcome' ? outcomeBody :
    route.path.startsWith('/v1/lists/') ? listBody :
    route.path.startsWith('/v1/overrides/') ? overrideBody :
    route.path === '/v1/counters' ? countersBody :
    route.path === '/v1/packs/rollback' ? rollbackBody :
    route.path === '/v1/packs/shadow' && route.method === 'DELETE' ? fc.record({ reason }, { requiredKeys: [] }) :
    null;
  const packRoute = /^\/v1\/packs\/(validate|active|shadow|diff|backtest)$/.test(route.path) && route.method !== 'GET' && route.method !== 'DELETE';
  const options: { weight: number; arbitrary: fc.Arbitrary<{ kind: 'json' | 'text' | 'raw'; body: string | Buffer } | null> }[] = [
    { weight: 1, arbitrary: jsonish.map((j) => ({ kind: 'json' as const, body: JSON.stringify(j) })) },
    { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a))).map((b) => ({ kind: 'raw' as const, body: b })) },
    { weight: 1, arbitrary: fc.constant(null) },
  ];
  if (near) options.push({ weight: 8, arbitrary: near.map((j) => ({ kind: 'json' as const, body: JSON.stringify(j) })) });
  if (packRoute) options.push({ weight: 8, arbitrary: packBody });
  return fc.oneof(...options);
}

/** Requests for one route: its method mostly, its parameters filled, a token, headers, a body. */
function requestFor(route: Route): fc.Arbitrary<FuzzRequest> {
  const segs = route.path.split('/');
  const params = segs.map((s) => (s.startsWith(':') ? paramFor(s.slice(1)) : fc.constant(s)));
  const admin = !['/v1/evaluate', '/v1/outcome', '/healthz', '/readyz', '/metrics'].includes(route.path) && !route.path.startsWith('/console');
  const token = fc.oneof(
    { weight: 8, arbitrary: fc.constant(admin ? `Bearer ${ADMIN_TOKEN}` : `Bearer ${API_TOKEN}`) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, `Bearer ${admin ? API_TOKEN : ADMIN_TOKEN}`, 'Bearer x', '', 'Basic Zm9vOmJhcg==', `bearer ${ADMIN_TOKEN}`) },
  );
  const method = fc.oneof({ weight: 9, arbitrary: fc.constant(route.method) }, { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') });
  const extra = fc.dictionary(
    fc.constantFrom('x-request-id', 'x-vigil-actor', 'accept', 'content-encoding', 'x-forwarded-for', 'origin', 'accept-encoding'),
    fc.oneof(fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'alice', 'a b', 'https://evil.example'), fc.string({ unit: fc.constantFrom(...'ab c{}\t-_;=/:,0.'.split('')), maxLength: 40 })),
    { maxKeys: 3 },
  );
  return fc
    .record({ method, parts: fc.tuple(...params), q: query, token, extra, body: bodyFor(route), ct: fc.option(fc.constantFrom(...CONTENT_TYPES), { nil: undefined, freq: 4 }) })
    .map(({ method, parts, q, token, extra, body, ct }) => {
      const headers: Record<string, string> = { ...extra };
      if (token !== undefined) headers.authorization = token;
      if (body) headers['content-type'] = ct ?? (body.kind === 'text' ? 'text/plain' : 'application/json');
      return {
        route: `${route.method} ${route.path}`,
        method,
        path: parts.join('/') + q,
        headers,
        ...(body && method !== 'GET' && method !== 'HEAD' ? { body: body.body } : {}),
      };
    });
}

/** Requests over every route, near-valid ones weighted towards the answer paths that matter most. */
export function requestArb(routes: readonly Route[]): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    ...routes.map((r) => ({
      // Cost-aware: a model reload reads and compiles the ONNX file, an erasure and a decision search
      // query the decision log; the answer paths get the most cases.
      weight:
        r.path === '/v1/evaluate' || r.path === '/v1/outcome' ? 30 :
        r.path === '/v1/model/reload' ? 1 :
        r.path === '/v1/users/:id/history' ? 4 :
        r.path.startsWith('/v1/decisions') || r.path === '/v1/packs/backtest' ? 6 :
        10,
      arbitrary: requestFor(r),
    })),
  );
}

// --- sending and checking --------------------------------------------------------------------------

export interface Answer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
}

export interface Client {
  send(req: FuzzRequest): Promise<Answer>;
  /** Decision ids and pack hashes handed out so far (used for the placeholders). */
  readonly seen: { decisions: string[]; hashes: string[] };
  close(): void;
}

export function client(base: string): Client {
  const url = new URL(base);
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  const seen = { decisions: [] as string[], hashes: [] as string[] };
  const fill = (s: string): string =>
    s
      .split(DECISION)
      .join(seen.decisions[seen.decisions.length - 1] ?? '01JD0000000000000000000000')
      .split(enc(DECISION))
      .join(seen.decisions[0] ?? 'x')
      .split(HASH)
      .join(seen.hashes[seen.hashes.length - 1] ?? 'sha256:' + '0'.repeat(64))
      .split(enc(HASH))
      .join(seen.hashes[0] ?? 'x');
  return {
    seen,
    close: () => agent.destroy(),
    send(req) {
      const body = typeof req.body === 'string' ? Buffer.from(fill(req.body)) : req.body;
      return new Promise<Answer>((resolve, reject) => {
        const r = request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: req.method,
            path: fill(req.path).replace(/[^\x21-\x7e]/gu, enc),
            headers: { ...req.headers, ...(body ? { 'content-length': body.length } : {}) },
            timeout: 30_000,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString();
              if (res.statusCode === 200 && req.route === 'POST /v1/evaluate') {
                const id = /"decision_id":"([^"]+)"/.exec(text)?.[1];
                if (id !== undefined) seen.decisions.push(id);
                if (seen.decisions.length > 50) seen.decisions.shift();
              }
              const hash = /"hash":"(sha256:[0-9a-f]{64})"/.exec(text)?.[1];
              if (hash !== undefined && !seen.hashes.includes(hash)) seen.hashes.push(hash);
              resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            });
            res.on('error', reject);
          },
        );
        r.on('timeout', () => r.destroy(new Error('no answer within 30 s')));
        r.on('error', reject);
        r.end(body);
      });
    },
  };
}

const DECISIONS = new Set(['allow', 'step_up', 'block']);

/** What is wrong with an answer (empty: nothing). */
export function answerProblems(req: FuzzRequest, a: Answer): string[] {
  const p: string[] = [];
  if (a.status >= 500) p.push(`status ${a.status}`);
  // A stack frame, raw or escaped inside a JSON string.
  if (/(\n|\\n)\s+at .+:\d+:\d+/.test(a.text)) p.push('a stack trace in the body');
  if (typeof a.headers['x-request-id'] !== 'string') p.push('no X-Request-Id');
  if (req.method === 'HEAD') return p;
  const ct = String(a.headers['content-type'] ?? '');
  let body: unknown;
  if (a.status >= 400 || (a.status === 200 && ct.startsWith('application/json'))) {
    try {
      body = JSON.parse(a.text);
    } catch {
      p.push(`status ${a.status} with a body that is not JSON: ${a.text.slice(0, 80)}`);
      return p;
    }
  }
  if (a.status >= 400) {
    const e = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
    const code = typeof e?.code === 'string' ? e.code : undefined;
    const known = code !== undefined && Object.hasOwn(API_ERRORS, code) ? API_ERRORS[code as keyof typeof API_ERRORS] : undefined;
    if (!known) p.push(`error body without a known code: ${a.text.slice(0, 120)}`);
    else if (known.status !== a.status) p.push(`code ${code} with status ${a.status} (registry: ${known.status})`);
    if (typeof e?.message !== 'string') p.push('error without a message');
    if (e !== undefined && !('details' in e)) p.push('error without details');
    return p;
  }
  if (a.status === 204 && a.text !== '') p.push('204 with a body');
  if (a.status < 200 || a.status >= 300) {
    if (a.status !== 304) p.push(`status ${a.status}`);
    return p;
  }
  // An OPTIONS that reaches a route: 204, the methods in Allow, no body (api/app.ts).
  if (req.method === 'OPTIONS') {
    if (a.status !== 204) p.push(`OPTIONS answered ${a.status}, not 204`);
    else if (typeof a.headers.allow !== 'string') p.push('OPTIONS 204 without an Allow header');
    return p;
  }
  // Successes: the shapes the contract names.
  const ok = req.method === req.route.split(' ')[0];
  const path = req.route.split(' ')[1]!;
  if (ok && path === '/v1/evaluate' && a.status === 200) {
    const r = body as Record<string, unknown>;
    if (typeof r.decision_id !== 'string' || !DECISIONS.has(String(r.decision)) || typeof r.score !== 'number' || !Array.isArray(r.rules) || !Array.isArray(r.shadow) || typeof r.degraded !== 'boolean' || typeof r.pack !== 'object') {
      p.push(`evaluate answer not of the spec's shape: ${a.text.slice(0, 200)}`);
    }
  } else if (ok && path === '/v1/outcome' && a.status !== 204) {
    p.push(`outcome answered ${a.status}, not 204`);
  } else if (path === '/metrics' && !ct.startsWith('text/plain')) {
    p.push(`metrics as ${ct}`);
  } else if (path.startsWith('/console') && !/^(text\/html|text\/css|text\/javascript|application\/javascript)/.test(ct)) {
    p.push(`console file as ${ct}`);
  } else if (path.startsWith('/v1/') && a.status === 200 && !ct.startsWith('application/json')) {
    p.push(`200 as ${ct}`);
  } else if (path.startsWith('/v1/') && a.status === 200 && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    p.push('200 whose body is not a JSON object');
  }
  return p;
}

/** The pack compiler on a pack source: a check result, its diagnostics' codes from the registry. */
export function packProblems(files: Record<string, string>): string[] {
  let c;
  try {
    c = checkPackFiles(files, 'upload', VIGIL_SCHEME);
  } catch (err) {
    return [`checkPackFiles threw: ${(err as Error).stack ?? String(err)}`];
  }
  const p: string[] = [];
  for (const d of c.diagnostics) if (!Object.hasOwn(DIAGNOSTIC_CODES, d.code)) p.push(`unknown diagnostic code ${d.code}`);
  if (!c.ok && c.diagnostics.length === 0 && c.loadError === null && c.tests.failed === 0) p.push('refused without a diagnostic, a load error or a failing test');
  return p;
}

export interface FuzzFailure {
  count: number;
  /** Routes it was seen on. */
  readonly routes: Set<string>;
  /** The first request that showed it, and what was wrong. */
  readonly example: string;
}

export interface FuzzResult {
  readonly name: string;
  readonly cases: number;
  readonly seconds: number;
  /** Distinct failures (by route, method, status and kind of problem); empty: none. */
  readonly failures: ReadonlyMap<string, FuzzFailure>;
  readonly seed: number;
  readonly byRoute?: ReadonlyMap<string, number>;
  readonly byStatus?: ReadonlyMap<number, number>;
}

/**
 * Send `cases` generated requests to a server. Every failure is tallied by its kind (route, method,
 * status, problem) with its first example, so one long run reports every distinct fault, not the first.
 */
export async function fuzzHttp(server: FuzzServer, routes: readonly Route[], cases: number, seed = Date.now() ^ (Math.random() * 0x7fffffff)): Promise<FuzzResult> {
  const c = client(server.url);
  const byRoute = new Map<string, number>();
  const byStatus = new Map<number, number>();
  const failures = new Map<string, FuzzFailure>();
  const note = (key: string, route: string, example: string): void => {
    const f = failures.get(key);
    if (f) {
      f.count++;
      f.routes.add(route);
    } else failures.set(key, { count: 1, routes: new Set([route]), example: example.slice(0, 3000) });
  };
  const started = Date.now();
  let n = 0;
  let logged = 0;
  await fc.assert(
    fc.asyncProperty(requestArb(routes), async (req) => {
      n++;
      byRoute.set(req.route, (byRoute.get(req.route) ?? 0) + 1);
      let a: Answer;
      try {
        a = await c.send(req);
      } catch (err) {
        note(`${req.method}: no answer`, req.route, `${JSON.stringify(req)}: ${(err as Error).message}`);
        return;
      }
      byStatus.set(a.status, (byStatus.get(a.status) ?? 0) + 1);
      for (const p of answerProblems(req, a)) {
        note(`${req.method} → ${a.status}: ${p.replace(/:.*$/s, '')}`, req.route, `${JSON.stringify(req)}\n    → ${a.status} ${p}`);
      }
      while (logged < server.errorLines.length) note('server logged an error', req.route, `${JSON.stringify(req)}\n    ${server.errorLines[logged++]}`);
    }),
    { numRuns: cases, seed },
  );
  c.close();
  return { name: 'HTTP, every route', cases: n, seconds: (Date.now() - started) / 1000, failures, seed, byRoute, byStatus };
}

/** Run `cases` pack sources through the compiler, tallying failures as fuzzHttp does. */
export function fuzzPacks(cases: number, seed = Date.now() ^ (Math.random() * 0x7fffffff)): FuzzResult {
  const started = Date.now();
  const failures = new Map<string, FuzzFailure>();
  let n = 0;
  fc.assert(
    fc.property(packFilesArb, (files) => {
      n++;
      for (const p of packProblems(files)) {
        const key = p.replace(/:.*$/s, '');
        const f = failures.get(key);
        if (f) f.count++;
        else failures.set(key, { count: 1, routes: new Set(), example: `${JSON.stringify(files).slice(0, 2000)}\n    ${p.slice(0, 1000)}` });
      }
    }),
    { numRuns: cases, seed },
  );
  return { name: 'pack compiler (checkPackFiles)', cases: n, seconds: (Date.now() - started) / 1000, failures, seed };
}
