// End-to-end: the example auth service (examples/auth-service, run in-process on an ephemeral port)
// in front of a spawned `vigil serve` on a private redis-server. Its callers are "browsers" with
// cookie jars behind one trusted proxy, whose X-Forwarded-For chooses the address Vigil sees. A
// normal login succeeds; a login from a new country on a new device needs the one-time code; a
// burst of wrong passwords from one address ends in the service refusing; sensitive changes from a
// session are allowed at home, stepped up when the session's cookie turns up on another device in
// another country, and blocked when that session's sign-in was itself challenged. The service's log is
// watched so a fail-open step_up (Vigil unreachable or refusing) can never pass for a real one.
// Needs redis-server and FAILS without it.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthService, type Logger, type Notification } from '../../examples/auth-service/service.ts';
import { ADMIN_TOKEN, API_TOKEN, CHROME_WIN, FIREFOX, ownRedis, place, startVigil, uid, type VigilProcess } from './helpers.ts';

interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
  readonly obj: Record<string, unknown>;
}

const ALICE = { name: 'alice', id: uid('u-alice'), password: 'correct horse battery staple' };
const BOB = { name: 'bob', id: uid('u-bob'), password: 'hunter2hunter2' };
const CAROL = { name: 'carol', id: uid('u-carol'), password: 'a long and private passphrase' };

const redis = ownRedis();
let vigil: VigilProcess;
let server: http.Server;
let base: string;
const notes: Notification[] = [];
const log: LogEntry[] = [];

const logger: Logger = {
  info: (obj, msg) => log.push({ level: 'info', msg, obj: { ...obj } }),
  warn: (obj, msg) => log.push({ level: 'warn', msg, obj: { ...obj } }),
  error: (obj, msg) => log.push({ level: 'error', msg, obj: { ...obj } }),
};

/** A browser: its own cookie jar (the device cookie `did`, the session `sid`), one address, one agent. */
class Browser {
  private readonly jar = new Map<string, string>();
  constructor(
    readonly ip: string,
    readonly ua: string,
  ) {}

  async post(path: string, body: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.request('POST', path, body);
  }

  async get(path: string): Promise<{ status: number; body: Record<string, unknown> }> {
    return this.request('GET', path);
  }

  /** The session cookie, to hand to another browser (a stolen or shared session). */
  session(): string {
    return this.jar.get('sid')!;
  }

  useSession(sid: string): void {
    this.jar.set('sid', sid);
  }

  private async request(method: string, path: string, body?: Record<string, string>) {
    const headers: Record<string, string> = { 'x-forwarded-for': this.ip, 'user-agent': this.ua, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(base + path, { method, headers, body: body && JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
}

/** The decisions the service logged since `from`, and whether any was the fail-open default. */
function evaluated(from: number): { decisions: unknown[]; failOpen: boolean[] } {
  const lines = log.slice(from).filter((l) => l.msg === 'login evaluated');
  return { decisions: lines.map((l) => l.obj.decision), failOpen: lines.map((l) => l.obj.failOpen === true) };
}

/** The changes the service logged since `from`: decision, fail-open, and whether the session's sign-in was linked. */
function changes(from: number): { decision: unknown; failOpen: unknown; linked: unknown }[] {
  return log
    .slice(from)
    .filter((l) => l.msg === 'change evaluated')
    .map((l) => ({ decision: l.obj.decision, failOpen: l.obj.failOpen, linked: l.obj.linked }));
}

function lastCode(purpose: 'login' | 'recovery' | 'change'): string {
  const n = notes.filter((x): x is Extract<Notification, { kind: 'code' }> => x.kind === 'code' && x.purpose === purpose).at(-1);
  return n!.code;
}

function problems(): LogEntry[] {
  return log.filter((l) => l.level !== 'info');
}

beforeAll(async () => {
  vigil = await startVigil({ redisUrl: redis.url });
  const svc = createAuthService({
    vigilUrl: vigil.url,
    apiToken: API_TOKEN,
    adminToken: ADMIN_TOKEN,
    users: {
      [ALICE.name]: { id: ALICE.id, password: ALICE.password, createdAt: '2024-01-05T10:00:00Z', mfa: true },
      [BOB.name]: { id: BOB.id, password: BOB.password },
      [CAROL.name]: { id: CAROL.id, password: CAROL.password, createdAt: '2024-03-01T08:00:00Z', mfa: true },
    },
    // The test plays the one reverse proxy in front of the service.
    trustProxyHops: 1,
    notify: (n) => notes.push(n),
    logger,
  });
  await svc.ready;
  server = svc.createServer();
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((ok) => server.close(() => ok()));
  }
});

describe('the example auth service in front of a running Vigil', () => {
  const home = new Browser(place.linkoping(0), FIREFOX);

  it('a normal login succeeds and opens a session; the next one on that browser too', async () => {
    const mark = log.length;
    const first = await home.post('/login', { username: ALICE.name, password: ALICE.password });
    expect(first).toEqual({ status: 200, body: { status: 'ok', user: ALICE.id } });
    expect((await home.get('/me')).body).toEqual({ user: ALICE.id });

    const again = await home.post('/login', { username: ALICE.name, password: ALICE.password });
    expect(again.status).toBe(200);
    expect(evaluated(mark)).toEqual({ decisions: ['allow', 'allow'], failOpen: [false, false] });
    expect(problems()).toEqual([]);
  });

  it('a login from a new country on a new device needs the one-time code, then succeeds', async () => {
    const away = new Browser(place.changchun(0), CHROME_WIN);
    const mark = log.length;
    const codes = notes.length;
    const login = await away.post('/login', { username: ALICE.name, password: ALICE.password });
    expect(login.status).toBe(202);
    expect(login.body.status).toBe('challenge');
    // Vigil itself said step_up: not the service's fail-open default.
    expect(evaluated(mark)).toEqual({ decisions: ['step_up'], failOpen: [false] });
    expect((await away.get('/me')).status).toBe(401);

    const sent = notes.slice(codes);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'code', purpose: 'login', userId: ALICE.id });
    const code = (sent[0] as Extract<Notification, { kind: 'code' }>).code;
    const verified = await away.post('/login/verify', { challenge: String(login.body.challenge), code });
    expect(verified).toEqual({ status: 200, body: { status: 'ok', user: ALICE.id } });
    expect((await away.get('/me')).body).toEqual({ user: ALICE.id });

    // The passed challenge taught Vigil this device and country: the next login there is plain.
    const next = await away.post('/login', { username: ALICE.name, password: ALICE.password });
    expect(next.status).toBe(200);
    expect(problems()).toEqual([]);
  });

  it('a wrong code fails the challenge', async () => {
    const away = new Browser(place.changchun(1), FIREFOX);
    const login = await bobFromAbroad(away);
    const wrong = await away.post('/login/verify', { challenge: String(login.body.challenge), code: '000000' });
    expect(wrong).toMatchObject({ status: 401, body: { error: 'invalid_code' } });
    expect((await away.get('/me')).status).toBe(401);
  });

  it("the account page shows alice's own sign-ins, newest first, coarse: no address, no device", async () => {
    const page = await home.get('/account/security');
    expect(page.status).toBe(200);
    const entries = page.body.entries as Record<string, unknown>[];
    expect(entries.map((e) => [e.type, e.decision, e.country, e.browser, e.os])).toEqual([
      ['login', 'allow', 'CN', 'Chrome', 'Windows'],
      ['login', 'step_up', 'CN', 'Chrome', 'Windows'],
      ['login', 'allow', 'SE', 'Firefox', 'Linux'],
      ['login', 'allow', 'SE', 'Firefox', 'Linux'],
    ]);
    expect(entries[3]!.city).toBe('Linköping');
    const times = entries.map((e) => Date.parse(String(e.at)));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const text = JSON.stringify(page.body);
    for (const raw of [place.linkoping(0), place.changchun(0), ALICE.id, BOB.id]) expect(text).not.toContain(raw);
    expect(Object.keys(entries[0]!).sort()).toEqual(['at', 'browser', 'city', 'country', 'decision', 'notices', 'os', 'type']);
    expect((await new Browser(place.linkoping(0), FIREFOX).get('/account/security')).status).toBe(401);
    expect(problems()).toEqual([]);
  });

  it('a burst of wrong passwords from one address ends in the service refusing, even the right password', async () => {
    const attacker = place.milton(0);
    const mark = log.length;
    const statuses: number[] = [];
    // Each attempt from a fresh browser (no cookies: a new device id) against bob or a guessed name.
    for (let i = 0; i < 60 && !statuses.includes(403); i++) {
      const bot = new Browser(attacker, 'python-requests/2.32');
      const r = await bot.post('/login', { username: i % 3 === 0 ? BOB.name : `guess${i}`, password: `wrong-${i}` });
      statuses.push(r.status);
    }
    const firstRefusal = statuses.indexOf(403);
    expect(firstRefusal).toBeGreaterThan(0);
    expect(statuses.slice(0, firstRefusal).every((s) => s === 401)).toBe(true);
    // login_core blocks a burst under way (stuffing_ip_spray_early): 4 accounts and 3 failures in an
    // hour from one address, on a device the account never used. bob, guess1, guess2, (bob again),
    // guess4: the 4th distinct account arrives at the 5th attempt.
    expect(firstRefusal).toBe(4);
    const seen = evaluated(mark);
    expect(seen.failOpen.every((f) => !f)).toBe(true);
    expect(seen.decisions.at(-1)).toBe('block');
    expect(seen.decisions.slice(0, -1)).not.toContain('block');

    // Refused before the password is looked at: the right one changes nothing from there.
    const owner = new Browser(attacker, FIREFOX);
    expect(await owner.post('/login', { username: BOB.name, password: BOB.password })).toMatchObject({ status: 403, body: { error: 'blocked' } });
    // Alice, at home, is not affected.
    expect((await home.post('/login', { username: ALICE.name, password: ALICE.password })).status).toBe(200);
    expect(problems()).toEqual([]);
  });
});

describe('sensitive changes from a session, judged with its sign-in', () => {
  const home = new Browser(place.linkoping(3), FIREFOX);

  it('a usual change right after a normal sign-in is applied at once', async () => {
    expect((await home.post('/login', { username: CAROL.name, password: CAROL.password })).status).toBe(200);
    const mark = log.length;
    expect(await home.post('/account/email', { email: 'carol@example.org' })).toEqual({ status: 200, body: { status: 'changed', change: 'email' } });
    expect(await home.post('/account/password', { password: 'another private passphrase' })).toEqual({
      status: 200,
      body: { status: 'changed', change: 'password' },
    });
    expect(changes(mark)).toEqual([
      { decision: 'allow', failOpen: false, linked: true },
      { decision: 'allow', failOpen: false, linked: true },
    ]);
    expect((await home.get('/account')).body).toEqual({ user: CAROL.id, email: 'carol@example.org', mfa: true });
    CAROL.password = 'another private passphrase';
    expect(problems()).toEqual([]);
  });

  it("the session's cookie on another device in another country: the change waits for the code", async () => {
    const elsewhere = new Browser(place.milton(2), CHROME_WIN);
    elsewhere.useSession(home.session());
    const mark = log.length;
    const r = await elsewhere.post('/account/mfa', { action: 'remove' });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ status: 'challenge', change: 'mfa_remove' });
    // Vigil's own step_up (not the fail-open one), with a notice the user may read.
    expect(changes(mark)).toEqual([{ decision: 'step_up', failOpen: false, linked: true }]);
    expect((r.body.notices as string[]).length).toBeGreaterThan(0);
    expect((await home.get('/account')).body.mfa).toBe(true);

    const done = await elsewhere.post('/account/verify', { challenge: String(r.body.challenge), code: lastCode('change') });
    expect(done).toEqual({ status: 200, body: { status: 'changed', change: 'mfa_remove' } });
    expect((await home.get('/account')).body.mfa).toBe(false);
    expect(problems()).toEqual([]);
  });

  it("a challenged sign-in's session, moved to another device and country: the change is refused with notices", async () => {
    const abroad = new Browser(place.changchun(7), CHROME_WIN);
    const login = await abroad.post('/login', { username: CAROL.name, password: CAROL.password });
    expect(login.status).toBe(202);
    expect((login.body.notices as string[]).length).toBeGreaterThan(0);
    expect((await abroad.post('/login/verify', { challenge: String(login.body.challenge), code: lastCode('login') })).status).toBe(200);

    const thief = new Browser(place.boxford(5), FIREFOX);
    thief.useSession(abroad.session());
    const mark = log.length;
    const r = await thief.post('/account/email', { email: 'thief@example.net' });
    expect(r.status).toBe(403);
    expect(r.body.error).toBe('blocked');
    const notices = r.body.notices as string[];
    expect(notices.length).toBeGreaterThan(0);
    // User-safe: nothing of the pack (no rule name, no feature name, no score).
    for (const n of notices) expect(n).not.toMatch(/change_|session\.[a-z]|score|\d{2,}/);
    expect(changes(mark)).toEqual([{ decision: 'block', failOpen: false, linked: true }]);
    expect((await home.get('/account')).body.email).toBe('carol@example.org');
    expect(problems()).toEqual([]);
  });

  it("carol's security page lists the changes, each with its change and decision", async () => {
    const page = await home.get('/account/security');
    expect(page.status).toBe(200);
    const entries = (page.body.entries as Record<string, unknown>[]).filter((e) => e.type === 'account_change');
    expect(entries.map((e) => [e.change, e.decision, e.country])).toEqual([
      ['email', 'block', 'GB'],
      ['mfa_remove', 'step_up', 'US'],
      ['password', 'allow', 'SE'],
      ['email', 'allow', 'SE'],
    ]);
    expect(entries[0]!.notices).toContain('session_moved');
    const text = JSON.stringify(page.body);
    for (const raw of [place.boxford(5), place.milton(2), CAROL.id]) expect(text).not.toContain(raw);
  });
});

/** Bob signs in at home once, then from `away` (another country, new device): a challenge. */
async function bobFromAbroad(away: Browser): Promise<{ status: number; body: Record<string, unknown> }> {
  const bobHome = new Browser(place.boxford(0), FIREFOX);
  expect((await bobHome.post('/login', { username: BOB.name, password: BOB.password })).status).toBe(200);
  const login = await away.post('/login', { username: BOB.name, password: BOB.password });
  expect(login.status).toBe(202);
  return login;
}
