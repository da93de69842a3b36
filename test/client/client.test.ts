// The typed client, `vigil/client` (client/index.ts), against a real server (runServer on PORT=0,
// the production engine on the test Redis under this run's prefixes): evaluate and outcome, admin
// calls with and without the token (typed errors carrying the spec's code), a pack refused with its
// diagnostics; against servers that cannot answer: a raw TCP server that never answers (timeout),
// a closed port (unreachable) and a 503, under each `onUnavailable` choice, and a 4xx that no choice
// turns into a decision. Then the package as a consumer gets it: plain `node` importing
// `vigil/client` through package.json "exports" (compiled JavaScript, no server code loaded), its
// type declarations compiled by tsc in a consumer project, and the README's snippet
// (examples/client/quickstart.ts) run against the server and against none. Needs Redis and FAILS
// without it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, VigilApiError, VigilUnavailableError, type VigilClient } from '../../client/index.ts';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';
import { uniquePrefix } from '../helpers/redis.ts';
import { listNames, packSource } from '../api/live-helpers.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const API_TOKEN = 'client-api-token-0123456789';
const ADMIN_TOKEN = 'client-admin-token-0123456789';
const KEYS = uniquePrefix('client');
const names = listNames(KEYS);
const EVENT = { type: 'login', user: { id: 'u-client', mfa: true }, ip: '81.2.69.142', device: { id: 'd-1', user_agent: 'Mozilla/5.0' } } as const;

let url: string;
let live: LiveServer;
const dirs: string[] = [];

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  const packDir = tempDir('vigil-client-pack-');
  writeFileSync(join(packDir, 'main.rules'), packSource(names));
  live = await startLiveServer(
    {
      VIGIL_RULES: packDir,
      VIGIL_API_TOKEN: API_TOKEN,
      VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
      VIGIL_HASH_SECRET: 'client-test-hash-secret-0123456789',
    },
    { keys: KEYS, signalTimeoutMs: 1000, listSweepMs: 100 },
  );
  url = live.url;
}, 60_000);

afterAll(async () => {
  await live?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe('against a real server', () => {
  let vigil: VigilClient;
  beforeAll(() => {
    vigil = createClient({ url, token: API_TOKEN, adminToken: ADMIN_TOKEN, actor: 'client-test', timeoutMs: 5000 });
  });

  it('evaluate answers a typed decision; outcome is accepted; an unknown decision id is a typed not_found', async () => {
    const r = await vigil.evaluate(EVENT);
    expect(r.unavailable).toBe(false);
    if (r.unavailable) return;
    expect(['allow', 'step_up', 'block']).toContain(r.decision);
    expect(r.decision_id).toMatch(/^[0-9A-Z]{26}$/);
    expect(r.pack.name).toBe('live_levers');
    await expect(vigil.outcome(r.decision_id, 'succeeded')).resolves.toBeUndefined();
    const err = await rejection(vigil.outcome('01NOSUCHDECISION0000000000', 'failed'));
    expect(err).toBeInstanceOf(VigilApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found' });
    const explained = await vigil.evaluate(EVENT, { explain: true });
    expect(explained.unavailable === false && explained.features?.['event.type']).toBe('login');
  });

  it('a bad request is a typed invalid_request with the field issues, under every onUnavailable choice', async () => {
    for (const onUnavailable of ['open', 'closed', 'throw'] as const) {
      const c = createClient({ url, token: API_TOKEN, onUnavailable });
      const err = await rejection(c.evaluate({ ...EVENT, ip: 'not-an-address' }));
      expect(err).toBeInstanceOf(VigilApiError);
      expect(err).toMatchObject({ status: 400, code: 'invalid_request', details: [expect.objectContaining({ path: 'ip' })] });
    }
    // A wrong API token is the caller's to fix too: never a fallback decision.
    const wrong = createClient({ url, token: 'wrong', onUnavailable: 'open' });
    expect(await rejection(wrong.evaluate(EVENT))).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('admin calls: without the token a typed unauthorized; with it, packs, lists, overrides, counters, audit, decisions, erasure', async () => {
    const anonymous = createClient({ url });
    const err = await rejection(anonymous.packs.list());
    expect(err).toBeInstanceOf(VigilApiError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized', message: expect.stringContaining('unauthorized') });
    expect((err as VigilApiError).requestId).toMatch(/.+/);
    // The API token does not open admin routes.
    expect(await rejection(createClient({ url, token: API_TOKEN }).lists.declared())).toMatchObject({ code: 'unauthorized' });

    const packs = await vigil.packs.list();
    expect(packs.active?.name).toBe('live_levers');
    const first = packs.active!.hash;

    const declared = await vigil.lists.declared();
    expect(declared.lists.map((l) => l.name)).toContain(names.ips);
    const added = await vigil.lists.add(names.ips, { entries: ['198.51.100.7'], ttl: '2h', reason: 'client test' });
    expect(added.entries.map((e) => e.value)).toEqual(['198.51.100.7']);
    expect(await rejection(vigil.lists.add(names.ips, { entries: ['nope'] }))).toMatchObject({ status: 422, code: 'invalid_entry' });
    expect((await vigil.lists.remove(names.ips, { entries: ['198.51.100.7'] })).entries).toEqual([]);

    const o = await vigil.overrides.set('blocked_ip', { mode: 'off', ttl: '30m', reason: 'client test' });
    expect(o.override).toMatchObject({ rule: 'blocked_ip', mode: 'off', by: 'client-test', applies: true });
    expect((await vigil.overrides.list()).overrides.map((x) => x.rule)).toEqual(['blocked_ip']);
    expect((await vigil.overrides.clear('blocked_ip', { reason: 'done' })).removed.rule).toBe('blocked_ip');
    expect(await rejection(vigil.overrides.clear('blocked_ip'))).toMatchObject({ status: 404, code: 'not_found' });

    expect(await vigil.counters.clear({ ip: '81.2.69.142' })).toEqual({ cleared: expect.any(Number) });
    expect(await vigil.users.securityLog('u-client/ø', { limit: 5 })).toEqual({ entries: [], cursor: null });
    expect(await rejection(vigil.users.securityLog('u-client', { limit: 101 }))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(await vigil.users.erase('u-client')).toEqual({ keys: expect.any(Number), decisions: expect.any(Number) });
    expect((await vigil.decisions.search({ limit: 5 })).decisions).toEqual(expect.any(Array));

    // A pack with an error: refused, the diagnostics in the typed error; a good one: activated, then rolled back.
    const bad = await rejection(vigil.packs.push('pack p version 1\nrule r { when nosuch.feature then block }\n', { reason: 'client test' }));
    expect(bad).toMatchObject({ status: 422, code: 'pack_rejected', details: { diagnostics: [expect.objectContaining({ severity: 'error' })] } });
    const validated = await vigil.packs.validate({ 'main.rules': 'pack p version 1\nrule r { when user.mfa == false then step_up score 10 }\n' });
    expect(validated.ok).toBe(true);
    const pushed = await vigil.packs.push({ 'main.rules': 'pack p version 1\nrule r { when user.mfa == false then step_up score 10 }\n' }, { reason: 'client test' });
    expect(pushed).toMatchObject({ status: 'activated', active: { name: 'p', by: 'client-test', reason: 'client test' } });
    expect((await vigil.packs.get(first)).pack.hash).toBe(first);
    expect((await vigil.packs.diff({})).to?.hash).toBe(first);
    const back = await vigil.packs.rollback({ reason: 'client test' });
    expect(back.active.hash).toBe(first);

    const audit = await vigil.audit({ limit: 50 });
    expect(audit.entries.map((e) => e.action)).toEqual(expect.arrayContaining(['list_add', 'override_set', 'pack_activate', 'pack_rollback']));
    expect(await rejection(vigil.audit({ action: 'nope' as 'list_add' }))).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('health and readiness', async () => {
    expect(await vigil.health()).toEqual({ status: 'ok' });
    expect(await vigil.ready()).toMatchObject({ status: 'ready', pack: { name: 'live_levers' } });
  });
});

// ---- Vigil cannot answer --------------------------------------------------------------------------

/** A TCP server: `onConnection` decides what each connection gets. */
async function rawServer(onConnection: (s: Socket) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const s: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('error', () => undefined);
    onConnection(sock);
  });
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((ok) => s.close(() => ok()));
    },
  };
}

async function closedPortUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((ok) => s.close(() => ok()));
  return `http://127.0.0.1:${port}`;
}

describe('when Vigil cannot answer, onUnavailable decides', () => {
  it('a server that never answers: a timeout after timeoutMs (fallback or typed error)', async () => {
    const silent = await rawServer(() => undefined);
    try {
      const t0 = Date.now();
      const open = await createClient({ url: silent.url, timeoutMs: 200, onUnavailable: 'open' }).evaluate(EVENT);
      const took = Date.now() - t0;
      expect(open).toMatchObject({ unavailable: true, decision: 'allow', decision_id: null, degraded: true, reason: 'timeout' });
      expect(took).toBeGreaterThanOrEqual(190);
      expect(took).toBeLessThan(2000);
      const closed = await createClient({ url: silent.url, timeoutMs: 200, onUnavailable: 'closed' }).evaluate(EVENT);
      expect(closed).toMatchObject({ unavailable: true, decision: 'step_up', reason: 'timeout' });
      const thrown = await rejection(createClient({ url: silent.url, timeoutMs: 200 }).evaluate(EVENT));
      expect(thrown).toBeInstanceOf(VigilUnavailableError);
      expect(thrown).toMatchObject({ reason: 'timeout' });
      // Admin calls have their own deadline, and throw.
      expect(await rejection(createClient({ url: silent.url, adminTimeoutMs: 200 }).packs.list())).toMatchObject({ reason: 'timeout' });
    } finally {
      await silent.close();
    }
  });

  it('an answer that starts and then stalls times out too', async () => {
    const stalls = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"decision":'));
    try {
      expect(await createClient({ url: stalls.url, timeoutMs: 200, onUnavailable: 'closed' }).evaluate(EVENT)).toMatchObject({ decision: 'step_up', reason: 'timeout' });
    } finally {
      await stalls.close();
    }
  });

  it('nothing listening: open gives allow, closed gives step_up, throw throws; all marked unreachable', async () => {
    const dead = await closedPortUrl();
    expect(await createClient({ url: dead, onUnavailable: 'open' }).evaluate(EVENT)).toMatchObject({ unavailable: true, decision: 'allow', reason: 'unreachable' });
    expect(await createClient({ url: dead, onUnavailable: 'closed' }).evaluate(EVENT)).toMatchObject({ unavailable: true, decision: 'step_up', reason: 'unreachable' });
    const err = await rejection(createClient({ url: dead }).evaluate(EVENT));
    expect(err).toBeInstanceOf(VigilUnavailableError);
    expect(err).toMatchObject({ reason: 'unreachable', status: null });
    expect(await rejection(createClient({ url: dead }).outcome('01D', 'failed'))).toMatchObject({ reason: 'unreachable' });
  });

  it("a 503 in Vigil's error shape and a proxy's 502 page are the server failing: the fallback applies", async () => {
    const body = '{"error":{"code":"unavailable","message":"no rule pack is loaded","details":null}}';
    const s503 = await rawServer((s) => s.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`));
    const s502 = await rawServer((s) => s.end('HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 5\r\nconnection: close\r\n\r\noops!'));
    try {
      const r = await createClient({ url: s503.url, onUnavailable: 'closed' }).evaluate(EVENT);
      expect(r).toMatchObject({ unavailable: true, decision: 'step_up', reason: 'server_error' });
      expect(r.unavailable && r.error).toMatchObject({ code: 'unavailable', status: 503 });
      expect(await rejection(createClient({ url: s503.url }).packs.list())).toMatchObject({ code: 'unavailable', status: 503 });
      expect(await createClient({ url: s502.url, onUnavailable: 'open' }).evaluate(EVENT)).toMatchObject({ decision: 'allow', reason: 'server_error' });
    } finally {
      await s503.close();
      await s502.close();
    }
  });

  it('refuses a bad configuration at creation', () => {
    expect(() => createClient({ url: 'vigil:8080' })).toThrow(/url must be an absolute http\(s\) URL/);
    expect(() => createClient({ url: 'not a url' })).toThrow(/url must be an absolute http\(s\) URL/);
    expect(() => createClient({ url, timeoutMs: 0 })).toThrow(/timeoutMs must be a positive integer/);
  });
});

// ---- the package as a consumer gets it --------------------------------------------------------------

function run(cmd: string, args: readonly string[], opts: { cwd: string; env?: Record<string, string> }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, timeout: 60_000 }, (err, stdout, stderr) => {
      ok({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('vigil/client as a package', () => {
  it('the compiled client imports nothing at run time (no Express, no server code)', () => {
    const js = readFileSync(join(ROOT, 'dist/client/index.js'), 'utf8');
    expect(js).toContain('export function createClient');
    expect(js.match(/^\s*(import|export)\b[^;]*\bfrom\s*['"][^'"]+['"]|\bimport\s*\(|\brequire\s*\(/gm)).toBeNull();
  });

  it('plain node imports it through package.json "exports" and calls the real server', async () => {
    const dir = tempDir('vigil-client-consumer-');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'vigil'), 'dir');
    writeFileSync(
      join(dir, 'main.mjs'),
      `import { createClient, VigilApiError } from 'vigil/client';
const c = createClient({ url: process.env.VIGIL_URL, token: process.env.TOKEN });
const r = await c.evaluate({ type: 'login', user: { id: 'u-node' }, ip: '203.0.113.9' });
let code = null;
try { await c.packs.list(); } catch (e) { code = e instanceof VigilApiError ? e.code : String(e); }
console.log(JSON.stringify({ decision: r.decision, unavailable: r.unavailable, code, resolved: import.meta.resolve('vigil/client') }));
`,
    );
    const out = await run(process.execPath, ['main.mjs'], { cwd: dir, env: { VIGIL_URL: url, TOKEN: API_TOKEN } });
    expect(out.stderr).toBe('');
    const got = JSON.parse(out.stdout) as { decision: string; unavailable: boolean; code: string; resolved: string };
    expect(got).toMatchObject({ unavailable: false, code: 'unauthorized' });
    expect(['allow', 'step_up', 'block']).toContain(got.decision);
    expect(got.resolved).toMatch(/\/dist\/client\/index\.js$/);
    // Self-reference from the package root resolves the same export.
    const self = await run(process.execPath, ['--input-type=module', '-e', "import('vigil/client').then((m) => console.log(typeof m.createClient))"], { cwd: ROOT });
    expect(self.stdout.trim()).toBe('function');
  });

  it('its type declarations type-check a consumer (and reject a wrong call)', async () => {
    const dir = tempDir('vigil-client-types-');
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(ROOT, join(dir, 'node_modules', 'vigil'), 'dir');
    writeFileSync(
      join(dir, 'a.mts'),
      `import { createClient, VigilApiError, type ApiErrorCode } from 'vigil/client';
const c = createClient({ url: 'http://127.0.0.1:1', onUnavailable: 'closed' });
const r = await c.evaluate({ type: 'login', user: { id: 'u' }, ip: '203.0.113.9' });
const d: 'allow' | 'step_up' | 'block' = r.decision;
if (!r.unavailable) { const id: string = r.decision_id; const hash: string = r.pack.hash; void id; void hash; }
else { const why: 'unreachable' | 'timeout' | 'server_error' | 'bad_answer' = r.reason; void why; }
// @ts-expect-error: not an event type
await c.evaluate({ type: 'logout', user: { id: 'u' }, ip: '203.0.113.9' });
// @ts-expect-error: not an outcome
await c.outcome('id', 'maybe');
const code: ApiErrorCode = 'pack_rejected';
const p = await c.packs.list();
const h: string | undefined = p.active?.hash;
void d; void code; void h; void VigilApiError;
`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] }, files: ['a.mts'] }),
    );
    const out = await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: dir });
    expect(out.stdout + out.stderr).toBe('');
    expect(out.code).toBe(0);
  }, 60_000);

  it("the README's TypeScript snippet (examples/client/quickstart.ts; test/docs checks they are the same) runs against the server", async () => {
    const out = await run(process.execPath, ['--import', 'tsx', 'examples/client/quickstart.ts'], { cwd: ROOT, env: { VIGIL_URL: url, VIGIL_API_TOKEN: API_TOKEN } });
    expect(out.stderr).toBe('');
    expect(out.stdout).toMatch(/^(allow|step_up|block) \[/);
    const down = await run(process.execPath, ['--import', 'tsx', 'examples/client/quickstart.ts'], { cwd: ROOT, env: { VIGIL_URL: await closedPortUrl() } });
    expect(down.stdout.trim()).toBe('step_up (fallback: unreachable)');
  }, 60_000);
});
