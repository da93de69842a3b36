// examples/auth-service: the example's branching on Vigil's answers (allow, step_up, block, and the
// fail-open step_up when Vigil is down, slow or wrong), the outcomes it reports, the request it
// sends (user, client address, device cookie, agent, token), the recovery flow, and bad input. A
// stand-in Vigil on an ephemeral loopback port returns canned decisions: these tests are about the
// example, not Vigil.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAuthService, DEV_CODE, type AuthServiceOptions, type Logger, type Notification } from '../../examples/auth-service/service.ts';

// ---- a stand-in Vigil ----------------------------------------------------------------------------

type Json = Record<string, unknown>;
interface Seen {
  readonly path: string;
  readonly auth: string | undefined;
  readonly body: Json;
}
interface Reply {
  readonly status: number;
  readonly body: string;
  readonly delayMs?: number;
}

let vigil: http.Server;
let vigilUrl: string;
let seen: Seen[] = [];
let nextReply: (body: Json) => Reply = () => decide('allow');
let nextLog: (path: string) => Reply = () => ({ status: 200, body: JSON.stringify({ entries: [], cursor: null }) });
let decisionSeq = 0;

function decide(decision: string): Reply {
  decisionSeq++;
  return { status: 200, body: JSON.stringify({ decision_id: `d-${decisionSeq}`, decision, score: 0, rules: [] }) };
}

beforeAll(async () => {
  vigil = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Json;
      seen.push({ path: req.url ?? '', auth: req.headers.authorization, body });
      const url = req.url ?? '';
      const r: Reply = url === '/v1/evaluate' ? nextReply(body) : url.startsWith('/v1/users/') ? nextLog(url) : { status: 204, body: '' };
      setTimeout(() => {
        res.writeHead(r.status, { 'content-type': 'application/json' });
        res.end(r.body);
      }, r.delayMs ?? 0);
    });
  });
  await new Promise<void>((ok) => vigil.listen(0, '127.0.0.1', ok));
  vigilUrl = `http://127.0.0.1:${(vigil.address() as AddressInfo).port}`;
});

afterAll(async () => {
  vigil.closeAllConnections();
  await new Promise<void>((ok) => vigil.close(() => ok()));
});

// ---- the service under test ----------------------------------------------------------------------

const USERS = {
  alice: { id: 'u-alice', password: 'correct horse', createdAt: '2024-01-05T10:00:00Z', mfa: true },
  bob: { id: 'u-bob', password: 'hunter22' },
};
const silent: Logger = { info: () => {}, warn: () => {}, error: () => {} };

let servers: http.Server[] = [];
let notes: Notification[] = [];
let clock = 1_000_000;

async function start(over: Partial<AuthServiceOptions> = {}): Promise<string> {
  const svc = createAuthService({
    vigilUrl, apiToken: 'tok', users: USERS, logger: silent,
    notify: (n) => notes.push(n), now: () => clock, ...over,
  });
  const server = svc.createServer();
  servers.push(server);
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((ok) => s.close(() => ok()));
  }
  servers = [];
  seen = [];
  notes = [];
  nextReply = () => decide('allow');
  nextLog = () => ({ status: 200, body: JSON.stringify({ entries: [], cursor: null }) });
});

interface Answer {
  readonly status: number;
  readonly body: Json;
  readonly cookies: Record<string, string>;
}

async function post(base: string, path: string, body: Json | string, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'user-agent': 'TestAgent/1.0', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return answer(res);
}

async function answer(res: Response): Promise<Answer> {
  const cookies: Record<string, string> = {};
  for (const c of res.headers.getSetCookie()) {
    const [kv] = c.split(';');
    const eq = kv!.indexOf('=');
    cookies[kv!.slice(0, eq)] = kv!.slice(eq + 1);
  }
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {}, cookies };
}

const evaluations = (): Json[] => seen.filter((s) => s.path === '/v1/evaluate').map((s) => s.body);
const outcomes = (): Json[] => seen.filter((s) => s.path === '/v1/outcome').map((s) => s.body);

// ---- login --------------------------------------------------------------------------------------

describe('login', () => {
  it('allow: evaluates first, checks the password, reports succeeded, starts a session', async () => {
    const base = await start();
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ status: 'ok', user: 'u-alice' });
    const did = r.cookies.did!;
    expect(did).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(seen.map((s) => s.path)).toEqual(['/v1/evaluate', '/v1/outcome']);
    expect(seen[0]!.auth).toBe('Bearer tok');
    expect(evaluations()[0]).toEqual({
      type: 'login',
      user: { id: 'u-alice', created_at: '2024-01-05T10:00:00Z', mfa: true },
      ip: '127.0.0.1',
      device: { id: did, user_agent: 'TestAgent/1.0' },
    });
    expect(outcomes()).toEqual([{ decision_id: 'd-' + decisionSeq, outcome: 'succeeded' }]);
    const me = await answer(await fetch(base + '/me', { headers: { cookie: `sid=${r.cookies.sid}` } }));
    expect(me).toMatchObject({ status: 200, body: { user: 'u-alice' } });
  });

  it('allow with a wrong password: 401 and failed', async () => {
    const base = await start();
    const r = await post(base, '/login', { username: 'alice', password: 'wrong' });
    expect(r).toMatchObject({ status: 401, body: { error: 'invalid_credentials' } });
    expect(r.cookies.sid).toBeUndefined();
    expect(outcomes().map((o) => o.outcome)).toEqual(['failed']);
  });

  it('an unknown account is still evaluated (as unknown:NAME) and reported failed', async () => {
    const base = await start();
    const r = await post(base, '/login', { username: 'mallory', password: 'x' });
    expect(r.status).toBe(401);
    expect(evaluations()[0]!.user).toEqual({ id: 'unknown:mallory' });
    expect(outcomes().map((o) => o.outcome)).toEqual(['failed']);
  });

  it('block: refused before the password is looked at, and no outcome', async () => {
    nextReply = () => decide('block');
    const base = await start();
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r).toMatchObject({ status: 403, body: { error: 'blocked' } });
    expect(r.cookies.sid).toBeUndefined();
    expect(seen.map((s) => s.path)).toEqual(['/v1/evaluate']);
  });

  it('step_up: password, then a one-time code; a wrong code fails and burns the challenge', async () => {
    nextReply = () => decide('step_up');
    const base = await start();
    const first = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(first).toMatchObject({ status: 202, body: { status: 'challenge' } });
    expect(first.cookies.sid).toBeUndefined();
    expect(notes).toEqual([{ kind: 'code', purpose: 'login', userId: 'u-alice', code: DEV_CODE }]);
    const dev = { cookie: `did=${first.cookies.did}` };
    const firstId = first.body.challenge as string;

    const wrong = await post(base, '/login/verify', { challenge: firstId, code: '000000' }, dev);
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    const again = await post(base, '/login/verify', { challenge: firstId, code: DEV_CODE }, dev);
    expect(again).toMatchObject({ status: 401, body: { error: 'invalid_challenge' } });
    expect(outcomes()).toEqual([{ decision_id: 'd-' + (decisionSeq), outcome: 'challenge_failed' }]);

    const second = await post(base, '/login', { username: 'alice', password: 'correct horse' }, dev);
    const ok = await post(
      base, '/login/verify', `challenge=${second.body.challenge as string}&code=${DEV_CODE}`,
      { ...dev, 'content-type': 'application/x-www-form-urlencoded' },
    );
    expect(ok).toMatchObject({ status: 200, body: { status: 'ok', user: 'u-alice' } });
    expect(ok.cookies.sid).toBeDefined();
    expect(outcomes().map((o) => o.outcome)).toEqual(['challenge_failed', 'challenge_passed']);
    expect(outcomes()[1]!.decision_id).toBe('d-' + decisionSeq);
  });

  it('step_up with a wrong password: failed, and no code is sent', async () => {
    nextReply = () => decide('step_up');
    const base = await start();
    const r = await post(base, '/login', { username: 'alice', password: 'nope' });
    expect(r.status).toBe(401);
    expect(notes).toEqual([]);
    expect(outcomes().map((o) => o.outcome)).toEqual(['failed']);
  });

  it('a challenge belongs to the device that started it, and expires', async () => {
    nextReply = () => decide('step_up');
    const base = await start({ challengeTtlMs: 60_000 });
    const a = await post(base, '/login', { username: 'bob', password: 'hunter22' });
    const other = await post(base, '/login/verify', { challenge: a.body.challenge as string, code: DEV_CODE }, { cookie: 'did=ZZZZZZZZZZZZZZZZZZZZ' });
    expect(other).toMatchObject({ status: 401, body: { error: 'invalid_challenge' } });

    const b = await post(base, '/login', { username: 'bob', password: 'hunter22' });
    clock += 61_000;
    const late = await post(base, '/login/verify', { challenge: b.body.challenge as string, code: DEV_CODE }, { cookie: `did=${b.cookies.did}` });
    expect(late).toMatchObject({ status: 401, body: { error: 'invalid_challenge' } });
    expect(outcomes()).toEqual([]);
  });
});

// ---- Vigil unavailable: fail open to step_up ---------------------------------------------------

describe('when Vigil cannot decide, the service fails open to step_up', () => {
  async function loginThenCode(base: string): Promise<Answer> {
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r).toMatchObject({ status: 202, body: { status: 'challenge' } });
    return post(base, '/login/verify', { challenge: r.body.challenge as string, code: DEV_CODE }, { cookie: `did=${r.cookies.did}` });
  }

  it('unreachable (nothing listening)', async () => {
    const closed = http.createServer();
    await new Promise<void>((ok) => closed.listen(0, '127.0.0.1', ok));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((ok) => closed.close(() => ok()));
    const base = await start({ vigilUrl: `http://127.0.0.1:${port}` });
    expect((await loginThenCode(base)).status).toBe(200);
  });

  it.each([
    ['a 500', { status: 500, body: '{"error":{"code":"internal"}}' }],
    ['a 400', { status: 400, body: '{"error":{"code":"bad_request"}}' }],
    ['malformed JSON', { status: 200, body: '{"decision":' }],
    ['an unknown decision', { status: 200, body: '{"decision_id":"d","decision":"maybe"}' }],
    ['no decision id', { status: 200, body: '{"decision":"allow"}' }],
  ])('%s', async (_name, reply) => {
    nextReply = () => reply;
    const base = await start();
    expect((await loginThenCode(base)).status).toBe(200);
    // There is no decision to attach an outcome to.
    expect(outcomes()).toEqual([]);
  });

  it('too slow', async () => {
    nextReply = () => ({ ...decide('allow'), delayMs: 2000 });
    const base = await start({ vigilTimeoutMs: 150 });
    const t0 = Date.now();
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r.status).toBe(202);
    expect(Date.now() - t0).toBeLessThan(1500);
  });

  it('failing open still checks the password first: a wrong one fails and sends no code', async () => {
    nextReply = () => ({ status: 503, body: '' });
    const base = await start();
    const r = await post(base, '/login', { username: 'alice', password: 'wrong' });
    expect(r.status).toBe(401);
    expect(notes).toEqual([]);
  });
});

// ---- what the service tells Vigil ---------------------------------------------------------------

describe('the evaluate request', () => {
  it('reuses a valid device cookie and replaces a malformed one', async () => {
    const base = await start();
    const kept = await post(base, '/login', { username: 'bob', password: 'hunter22' }, { cookie: 'did=abcdefghijklmnopqrstuv' });
    expect(kept.cookies.did).toBeUndefined();
    expect((evaluations()[0]!.device as Json).id).toBe('abcdefghijklmnopqrstuv');
    const replaced = await post(base, '/login', { username: 'bob', password: 'hunter22' }, { cookie: 'did=<script>' });
    expect(replaced.cookies.did).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect((evaluations()[1]!.device as Json).id).toBe(replaced.cookies.did);
  });

  it.each([
    [0, '203.0.113.9, 198.51.100.2', '127.0.0.1'],
    [1, '203.0.113.9, 198.51.100.2', '198.51.100.2'],
    [2, '203.0.113.9, 198.51.100.2', '203.0.113.9'],
    [5, '203.0.113.9', '203.0.113.9'],
    [1, 'not-an-address', '127.0.0.1'],
    [1, '2001:db8::7', '2001:db8::7'],
  ])('with %d trusted proxies, X-Forwarded-For "%s" gives %s', async (hops, xff, ip) => {
    const base = await start({ trustProxyHops: hops });
    await post(base, '/login', { username: 'bob', password: 'hunter22' }, { 'x-forwarded-for': xff });
    expect(evaluations()[0]!.ip).toBe(ip);
  });

  it('caps the user agent at the length Vigil accepts, and omits the token when none is set', async () => {
    const base = await start({ apiToken: undefined });
    await post(base, '/login', { username: 'bob', password: 'hunter22' }, { 'user-agent': 'A'.repeat(5000) });
    expect(((evaluations()[0]!.device as Json).user_agent as string).length).toBe(1024);
    expect(seen[0]!.auth).toBeUndefined();
  });
});

// ---- recovery -----------------------------------------------------------------------------------

describe('recovery', () => {
  it('allow: a reset link; using it changes the password and reports succeeded', async () => {
    const base = await start();
    const r = await post(base, '/recover', { username: 'bob' });
    expect(r).toMatchObject({ status: 202, body: { status: 'reset_sent' } });
    expect(evaluations()[0]).toMatchObject({ type: 'recovery', user: { id: 'u-bob' } });
    expect(outcomes()).toEqual([]);
    const note = notes[0]!;
    expect(note.kind).toBe('reset_link');
    const token = note.kind === 'reset_link' ? note.token : '';

    const reset = await post(base, '/recover/reset', { token, password: 'new secret' });
    expect(reset).toMatchObject({ status: 200, body: { status: 'password_changed' } });
    expect(outcomes()).toEqual([{ decision_id: 'd-' + decisionSeq, outcome: 'succeeded' }]);
    expect((await post(base, '/recover/reset', { token, password: 'again' })).status).toBe(401);

    expect((await post(base, '/login', { username: 'bob', password: 'hunter22' })).status).toBe(401);
    expect((await post(base, '/login', { username: 'bob', password: 'new secret' })).status).toBe(200);
  });

  it('step_up: a code first, then the reset link', async () => {
    nextReply = () => decide('step_up');
    const base = await start();
    const r = await post(base, '/recover', { username: 'alice' });
    expect(r).toMatchObject({ status: 202, body: { status: 'challenge' } });
    expect(notes).toEqual([{ kind: 'code', purpose: 'recovery', userId: 'u-alice', code: DEV_CODE }]);
    // A login challenge endpoint does not accept a recovery challenge.
    const cross = await post(base, '/login/verify', { challenge: r.body.challenge as string, code: DEV_CODE }, { cookie: `did=${r.cookies.did}` });
    expect(cross.status).toBe(401);

    const r2 = await post(base, '/recover', { username: 'alice' }, { cookie: `did=${r.cookies.did}` });
    const v = await post(base, '/recover/verify', { challenge: r2.body.challenge as string, code: DEV_CODE }, { cookie: `did=${r.cookies.did}` });
    expect(v).toMatchObject({ status: 202, body: { status: 'reset_sent' } });
    expect(outcomes()).toEqual([{ decision_id: 'd-' + decisionSeq, outcome: 'challenge_passed' }]);
    expect(notes.at(-1)!.kind).toBe('reset_link');
  });

  it('an unknown account gets the same answers as a known one, and nothing is sent', async () => {
    const base = await start();
    expect(await post(base, '/recover', { username: 'nobody' })).toMatchObject({ status: 202, body: { status: 'reset_sent' } });
    nextReply = () => decide('step_up');
    const r = await post(base, '/recover', { username: 'nobody' });
    expect(r).toMatchObject({ status: 202, body: { status: 'challenge' } });
    expect(notes).toEqual([]);
    const v = await post(base, '/recover/verify', { challenge: r.body.challenge as string, code: DEV_CODE }, { cookie: `did=${r.cookies.did}` });
    expect(v).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    expect(outcomes().map((o) => o.outcome)).toEqual(['challenge_failed']);
  });

  it('block: refused', async () => {
    nextReply = () => decide('block');
    const base = await start();
    expect(await post(base, '/recover', { username: 'alice' })).toMatchObject({ status: 403, body: { error: 'blocked' } });
    expect(notes).toEqual([]);
  });
});

// ---- bad input ----------------------------------------------------------------------------------

describe('bad input gets a clear 4xx and never reaches Vigil', () => {
  it.each([
    ['invalid JSON', '/login', '{"username":', {}, 400, 'bad_request'],
    ['a JSON array', '/login', '[1,2]', {}, 400, 'bad_request'],
    ['a missing password', '/login', '{"username":"alice"}', {}, 400, 'bad_request'],
    ['a password that is not a string', '/login', '{"username":"alice","password":123}', {}, 400, 'bad_request'],
    ['an over-long user name', '/login', JSON.stringify({ username: 'a'.repeat(300), password: 'x' }), {}, 400, 'bad_request'],
    ['text/plain', '/login', 'username=alice', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    ['a body over 8 KiB', '/login', JSON.stringify({ username: 'alice', password: 'x'.repeat(9000) }), {}, 413, 'too_large'],
    ['an unknown route', '/admin', '{}', {}, 404, 'not_found'],
    ['a missing reset token', '/recover/reset', '{"password":"x"}', {}, 400, 'bad_request'],
  ])('%s', async (_name, path, body, headers, status, code) => {
    const base = await start();
    const r = await post(base, path, body, headers);
    expect(r.status).toBe(status);
    expect(r.body.error).toBe(code);
    expect(seen).toEqual([]);
  });

  it('the wrong method', async () => {
    const base = await start();
    const r = await answer(await fetch(base + '/login'));
    expect(r).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect((await answer(await fetch(base + '/healthz'))).status).toBe(200);
    expect((await answer(await fetch(base + '/me'))).status).toBe(401);
  });
});

describe('the security page (GET /account/security)', () => {
  const ENTRIES = [
    { at: '2026-11-24T18:20:00.000Z', type: 'account_change', change: 'mfa_remove', decision: 'step_up', country: 'SE', city: 'Linköping', browser: 'Chrome', os: 'Windows', notices: ['session_moved', 'sensitive_change'] },
    { at: '2026-11-24T18:10:00.000Z', type: 'recovery', decision: 'block', country: null, city: null, browser: null, os: null, notices: [] },
    { at: '2026-11-24T18:00:00.000Z', type: 'login', decision: 'allow', country: 'GB', city: '<script>alert(1)</script>', browser: 'Firefox', os: 'Linux', notices: [] },
  ];

  async function signIn(base: string): Promise<string> {
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r.status).toBe(200);
    return `sid=${r.cookies.sid}`;
  }

  it("shows the signed-in user's log in plain words, asking Vigil with the admin token", async () => {
    nextLog = () => ({ status: 200, body: JSON.stringify({ entries: ENTRIES, cursor: 'next-page_1' }) });
    const base = await start({ adminToken: 'admin-tok' });
    const sid = await signIn(base);
    const page = await fetch(`${base}/account/security`, { headers: { cookie: sid } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'");
    const html = await page.text();
    expect(html).toContain('Account change: second factor removed');
    expect(html).toContain('from another network than the sign-in it belongs to; a change that affects how you sign in');
    expect(html).toContain('Linköping, SE');
    expect(html).toContain('Chrome on Windows');
    expect(html).toContain('asked for a code');
    expect(html).toContain('Account recovery');
    expect(html).toContain('unknown place');
    expect(html).toContain('blocked');
    // A value from Vigil is text, never markup.
    expect(html).not.toContain('<script>');
    expect(html).toContain('&#60;script&#62;');
    expect(html).toContain('href="/account/security?cursor=next-page_1"');
    const call = seen.find((x) => x.path.startsWith('/v1/users/'))!;
    expect(call.path).toBe('/v1/users/u-alice/security-log?limit=20');
    expect(call.auth).toBe('Bearer admin-tok');
    // The admin token goes to the security log only, never with evaluate or outcome.
    for (const x of seen.filter((y) => !y.path.startsWith('/v1/users/'))) expect(x.auth).toBe('Bearer tok');

    const json = await fetch(`${base}/account/security?cursor=next-page_1`, { headers: { cookie: sid, accept: 'application/json' } });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({ entries: ENTRIES, cursor: 'next-page_1' });
    expect(seen.filter((x) => x.path.startsWith('/v1/users/')).at(-1)!.path).toBe('/v1/users/u-alice/security-log?limit=20&cursor=next-page_1');
  });

  it('needs a session; refuses a malformed cursor; says so when the log cannot be had', async () => {
    const base = await start({ adminToken: 'admin-tok' });
    expect((await fetch(`${base}/account/security`)).status).toBe(401);
    expect((await fetch(`${base}/account/security`, { headers: { cookie: 'sid=forged' } })).status).toBe(401);
    expect((await fetch(`${base}/account/security`, { method: 'POST' })).status).toBe(405);
    const sid = await signIn(base);
    const bad = await fetch(`${base}/account/security?cursor=${encodeURIComponent('<x>')}`, { headers: { cookie: sid } });
    expect(bad.status).toBe(400);
    expect(seen.some((x) => x.path.startsWith('/v1/users/'))).toBe(false);
    nextLog = () => ({ status: 500, body: JSON.stringify({ error: { code: 'internal', message: 'x' } }) });
    const down = await fetch(`${base}/account/security`, { headers: { cookie: sid } });
    expect(down.status).toBe(503);
    expect(((await down.json()) as Json).error).toBe('security_log_unavailable');
    // Without the admin token the service does not ask at all.
    const noAdmin = await start();
    const sid2 = await signIn(noAdmin);
    const before = seen.length;
    expect((await fetch(`${noAdmin}/account/security`, { headers: { cookie: sid2 } })).status).toBe(503);
    expect(seen.slice(before).some((x) => x.path.startsWith('/v1/users/'))).toBe(false);
  });

  it('an empty log is a page that says so', async () => {
    const base = await start({ adminToken: 'admin-tok' });
    const sid = await signIn(base);
    const html = await (await fetch(`${base}/account/security`, { headers: { cookie: sid } })).text();
    expect(html).toContain('No recent activity.');
    expect(html).not.toContain('Older activity');
  });
});

// ---- sensitive changes --------------------------------------------------------------------------

describe('sensitive changes (POST /account/password, /account/email, /account/mfa)', () => {
  function decideWith(decision: string, notices: { code: string; message: string }[]): Reply {
    decisionSeq++;
    return { status: 200, body: JSON.stringify({ decision_id: `d-${decisionSeq}`, decision, score: 0, rules: [], notices }) };
  }

  /** Alice signs in (allowed): the session cookie, the device cookie, and the sign-in's decision id. */
  async function signIn(base: string): Promise<{ headers: Record<string, string>; loginDecision: string }> {
    const r = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(r.status).toBe(200);
    return { headers: { cookie: `did=${r.cookies.did}; sid=${r.cookies.sid}` }, loginDecision: 'd-' + decisionSeq };
  }
  const account = async (base: string, headers: Record<string, string>) => answer(await fetch(`${base}/account`, { headers }));

  it("allow: asks Vigil with account_change, the change and the sign-in's decision id, applies it, reports succeeded", async () => {
    const base = await start();
    const { headers, loginDecision } = await signIn(base);
    seen = [];
    const r = await post(base, '/account/email', { email: 'alice@example.org' }, headers);
    expect(r).toMatchObject({ status: 200, body: { status: 'changed', change: 'email' } });
    expect(evaluations()).toEqual([
      {
        type: 'account_change',
        change: 'email',
        login_decision_id: loginDecision,
        user: { id: 'u-alice', created_at: '2024-01-05T10:00:00Z', mfa: true },
        ip: '127.0.0.1',
        device: { id: headers.cookie!.match(/did=([^;]+)/)![1], user_agent: 'TestAgent/1.0' },
      },
    ]);
    expect(outcomes()).toEqual([{ decision_id: 'd-' + decisionSeq, outcome: 'succeeded' }]);
    expect((await account(base, headers)).body).toEqual({ user: 'u-alice', email: 'alice@example.org', mfa: true });

    // The second factor removed: the next evaluation says so (user.mfa false).
    expect((await post(base, '/account/mfa', { action: 'remove' }, headers)).status).toBe(200);
    expect((await account(base, headers)).body.mfa).toBe(false);
    await post(base, '/account/mfa', { action: 'add' }, headers);
    expect(evaluations().map((e) => [e.change, (e.user as Json).mfa])).toEqual([['email', true], ['mfa_remove', true], ['mfa_add', false]]);
  });

  it('a new password applies at once, ends the other sessions and keeps this one', async () => {
    const base = await start();
    const { headers } = await signIn(base);
    const other = await signIn(base);
    expect((await post(base, '/account/password', { password: 'a new one entirely' }, headers)).status).toBe(200);
    expect((await account(base, headers)).status).toBe(200);
    expect((await account(base, other.headers)).status).toBe(401);
    expect((await post(base, '/login', { username: 'alice', password: 'correct horse' })).status).toBe(401);
    expect((await post(base, '/login', { username: 'alice', password: 'a new one entirely' })).status).toBe(200);
  });

  it('step_up: nothing changes until the one-time code, from the same session and device; the notices are shown', async () => {
    const base = await start();
    const { headers } = await signIn(base);
    const notice = { code: 'session_moved', message: 'This request came from a different network or device than the sign-in it belongs to.' };
    nextReply = () => decideWith('step_up', [notice]);
    const r = await post(base, '/account/mfa', { action: 'remove' }, headers);
    expect(r).toMatchObject({ status: 202, body: { status: 'challenge', change: 'mfa_remove', notices: [notice.message] } });
    expect(notes.at(-1)).toEqual({ kind: 'code', purpose: 'change', userId: 'u-alice', code: DEV_CODE });
    expect((await account(base, headers)).body.mfa).toBe(true);
    const challenge = r.body.challenge as string;

    // Another session (even of the same user, on the same device) cannot answer it, nor can no session.
    nextReply = () => decide('allow');
    const other = await signIn(base);
    const otherSession = { cookie: headers.cookie!.replace(/sid=[^;]+/, other.headers.cookie!.match(/sid=[^;]+/)![0]) };
    expect((await post(base, '/account/verify', { challenge, code: DEV_CODE }, otherSession)).status).toBe(401);
    expect((await post(base, '/account/verify', { challenge, code: DEV_CODE })).status).toBe(401);
    // A wrong answer spends the challenge, as for sign-ins: the code no longer opens it.
    expect((await post(base, '/account/verify', { challenge, code: DEV_CODE }, headers)).status).toBe(401);
    expect((await account(base, headers)).body.mfa).toBe(true);
    // A sign-in's challenge is not a change's.
    nextReply = () => decideWith('step_up', [notice]);
    const again = await post(base, '/account/mfa', { action: 'remove' }, headers);
    expect((await post(base, '/login/verify', { challenge: again.body.challenge as string, code: DEV_CODE }, headers)).status).toBe(401);

    const third = await post(base, '/account/mfa', { action: 'remove' }, headers);
    const stepUpDecision = 'd-' + decisionSeq;
    const ok = await post(base, '/account/verify', { challenge: third.body.challenge as string, code: DEV_CODE }, headers);
    expect(ok).toMatchObject({ status: 200, body: { status: 'changed', change: 'mfa_remove' } });
    expect((await account(base, headers)).body.mfa).toBe(false);
    // The passed challenge is that decision's one outcome.
    expect(outcomes().filter((o) => o.decision_id === stepUpDecision)).toEqual([{ decision_id: stepUpDecision, outcome: 'challenge_passed' }]);
  });

  it('step_up with a wrong code: not applied, challenge_failed, and the challenge is spent', async () => {
    const base = await start();
    const { headers } = await signIn(base);
    nextReply = () => decide('step_up');
    const r = await post(base, '/account/email', { email: 'mallory@example.org' }, headers);
    expect(r.status).toBe(202);
    const wrong = await post(base, '/account/verify', { challenge: r.body.challenge as string, code: '000000' }, headers);
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    expect((await post(base, '/account/verify', { challenge: r.body.challenge as string, code: DEV_CODE }, headers)).status).toBe(401);
    expect((await account(base, headers)).body.email).toBeNull();
    expect(outcomes().at(-1)).toEqual({ decision_id: 'd-' + decisionSeq, outcome: 'challenge_failed' });
  });

  it("block: refused with the notices' messages, nothing applied, no outcome", async () => {
    const base = await start();
    const { headers } = await signIn(base);
    const notice = { code: 'sensitive_change', message: 'This change affects how you sign in and was stopped.' };
    nextReply = () => decideWith('block', [notice]);
    const before = outcomes().length;
    const r = await post(base, '/account/password', { password: 'attacker-chosen' }, headers);
    expect(r).toEqual({ status: 403, body: { error: 'blocked', message: 'this change cannot be made from this session', notices: [notice.message] }, cookies: {} });
    expect(outcomes().length).toBe(before);
    nextReply = () => decide('allow');
    expect((await post(base, '/login', { username: 'alice', password: 'correct horse' })).status).toBe(200);
  });

  it('a session opened without a Vigil decision (failed open) sends no login_decision_id and still works', async () => {
    nextReply = () => ({ status: 503, body: '{}' });
    const base = await start();
    const login = await post(base, '/login', { username: 'alice', password: 'correct horse' });
    expect(login.status).toBe(202);
    const dev = { cookie: `did=${login.cookies.did}` };
    const verified = await post(base, '/login/verify', { challenge: login.body.challenge as string, code: DEV_CODE }, dev);
    expect(verified.status).toBe(200);
    const headers = { cookie: `${dev.cookie}; sid=${verified.cookies.sid}` };
    nextReply = () => decide('allow');
    const r = await post(base, '/account/email', { email: 'alice@example.net' }, headers);
    expect(r.status).toBe(200);
    const sent = evaluations().at(-1)!;
    expect(sent.type).toBe('account_change');
    expect(Object.hasOwn(sent, 'login_decision_id')).toBe(false);
  });

  it('the sign-in pages show the notices of a step_up or a block; none when Vigil gives none', async () => {
    const base = await start();
    const msg = 'This sign-in came from a device not seen on this account before.';
    nextReply = () => decideWith('step_up', [{ code: 'new_device', message: msg }]);
    expect((await post(base, '/login', { username: 'alice', password: 'correct horse' })).body.notices).toEqual([msg]);
    nextReply = () => decideWith('block', [{ code: 'new_device', message: msg }]);
    expect((await post(base, '/login', { username: 'alice', password: 'correct horse' })).body).toEqual({ error: 'blocked', notices: [msg] });
    expect((await post(base, '/recover', { username: 'alice' })).body).toEqual({ error: 'blocked', notices: [msg] });
    // Malformed notices are dropped, not shown and not fatal.
    nextReply = () => ({ status: 200, body: JSON.stringify({ decision_id: 'd-x', decision: 'block', score: 0, rules: [], notices: [{ code: 1 }, 'x', null] }) });
    expect((await post(base, '/login', { username: 'alice', password: 'correct horse' })).body).toEqual({ error: 'blocked' });
  });

  it('bad input: not signed in, malformed fields, wrong method; Vigil is not asked', async () => {
    const base = await start();
    expect((await post(base, '/account/email', { email: 'a@b.org' })).status).toBe(401);
    expect((await post(base, '/account/password', { password: 'x' })).status).toBe(401);
    expect((await account(base, {})).status).toBe(401);
    const { headers } = await signIn(base);
    seen = [];
    for (const [path, body] of [
      ['/account/email', { email: 'not-an-address' }],
      ['/account/email', { email: 'a@b.org'.padStart(300, 'x') }],
      ['/account/email', {}],
      ['/account/mfa', { action: 'toggle' }],
      ['/account/password', { password: '' }],
      ['/account/verify', { challenge: 'x' }],
    ] as const) {
      const r = await post(base, path, body, headers);
      expect(r.status, path + JSON.stringify(body)).toBe(400);
      expect(r.body.error).toBe('bad_request');
    }
    expect((await post(base, '/account/verify', { challenge: 'forged', code: DEV_CODE }, headers)).status).toBe(401);
    expect((await fetch(`${base}/account/email`)).status).toBe(405);
    expect((await fetch(`${base}/account`, { method: 'POST' })).status).toBe(405);
    expect(evaluations()).toEqual([]);
  });
});
