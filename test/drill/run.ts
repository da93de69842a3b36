// `npm run drill`: an end-to-end attack drill. Debian's `hydra` (/usr/bin/hydra) guesses passwords
// against the example auth service (examples/auth-service, in process on loopback) for a few user
// names with http-post-form, while a legitimate user keeps signing in alongside. The service calls a
// real `vigil serve` (its own redis-server on a free port, decision log off) through a recording
// relay, so the drill knows every decision Vigil gave, in the order Vigil gave them.
// One machine, one source address: the service trusts one proxy hop (TRUST_PROXY_HOPS=1), and hydra
// sends `X-Forwarded-For: 203.0.113.50` with each attempt (its `H=` option) while the legitimate
// user comes from 81.2.69.142 — the addresses Vigil sees, as behind a real load balancer.
// Reports the attacker's attempt at which Vigil first asked for a step-up and first blocked (and the
// rules), what hydra found, and the legitimate user's sign-ins during the attack (directly, after the
// one-time code, refused). Fails (exit 1) when Vigil never blocks the source, when an attempt after
// the first block is let through, when the attacker gets a session, or when a legitimate sign-in
// during the attack is refused. A right password met by a step-up is reported, not failed: hydra
// counts the service's 202 challenge as a hit, yet the attacker holds no session.
// DRILL_PASSWORDS (passwords per user, default 40), DRILL_TASKS (hydra's parallel tasks, default 4),
// DRILL_ORDER (`user`: one name after another, hydra's default; `password`: spraying, hydra -u).
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAuthService, DEV_CODE, type Logger } from '../../examples/auth-service/service.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { REPO_ROOT, sleep, startServe, type ServeProcess } from '../helpers/serve.ts';

export const HYDRA = process.env.HYDRA ?? '/usr/bin/hydra';
const API_TOKEN = 'drill-api-token-0123456789abcdef';
export const ATTACKER_IP = '203.0.113.50';
export const USER_IP = '81.2.69.142';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

const USERS = {
  alice: { id: 'u-alice', password: 'correct horse battery staple', createdAt: '2024-01-05T10:00:00Z', mfa: true },
  bob: { id: 'u-bob', password: 'hunter2hunter2', createdAt: '2025-06-01T00:00:00Z', mfa: false },
};
const COMMON = [
  '123456', 'password', '123456789', '12345678', 'qwerty', 'abc123', '111111', 'letmein', 'iloveyou', 'admin',
  'welcome', 'monkey', 'dragon', 'football', 'baseball', 'sunshine', 'princess', 'trustno1', 'master', 'shadow',
  'superman', 'qazwsx', 'michael', 'password1', 'hello123', 'charlie', 'donald', 'freedom', 'whatever', 'qwerty123',
  'starwars', 'passw0rd', 'zaq12wsx', 'mustang', 'access', 'batman', 'login', 'solo', 'ninja', 'azerty',
];

export interface Attempt {
  readonly n: number;
  readonly user: string;
  readonly decision: string;
  readonly rules: readonly string[];
  /** What the service reported: `failed` (wrong password), `succeeded` (a session), none (blocked, or a challenge issued). */
  readonly outcome: string | null;
}

export interface DrillReport {
  readonly attempts: readonly Attempt[];
  readonly firstStepUp: Attempt | null;
  readonly firstBlock: Attempt | null;
  /** Attacker attempts after the first block that were not blocked. */
  readonly unblockedAfterBlock: number;
  readonly hydraFound: readonly string[];
  /** Attempts whose password was right but met a step-up (the challenge stopped them). */
  readonly confirmed: readonly number[];
  readonly hydraSeconds: number;
  readonly legit: { readonly direct: number; readonly viaCode: number; readonly refused: number; readonly statuses: string[] };
  readonly order: 'user' | 'password';
  readonly problems: string[];
}

export interface DrillOptions {
  readonly passwords: number;
  readonly tasks: number;
  /** `user`: every password for one name, then the next (brute force, hydra's default); `password`: each password for every name (spraying, hydra -u). */
  readonly order?: 'user' | 'password';
  readonly progress?: (line: string) => void;
}

/** The legitimate user: a browser with a cookie jar, at one address. */
class Browser {
  private readonly jar = new Map<string, string>();
  constructor(private readonly base: string) {}
  async post(path: string, body: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-forwarded-for': USER_IP, 'user-agent': FIREFOX };
    if (this.jar.size > 0) headers.cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(this.base + path, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      this.jar.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return { status: res.status, body: (await res.json().catch(() => ({}))) as Record<string, unknown> };
  }
  /** Sign in; with a challenge, answer it with the development code. */
  async signIn(): Promise<'direct' | 'code' | string> {
    const r = await this.post('/login', { username: 'alice', password: USERS.alice.password });
    if (r.status === 200) return 'direct';
    if (r.status === 202 && typeof r.body.challenge === 'string') {
      const v = await this.post('/login/verify', { challenge: r.body.challenge, code: DEV_CODE });
      return v.status === 200 ? 'code' : `verify ${v.status}`;
    }
    return `login ${r.status} ${JSON.stringify(r.body)}`;
  }
}

/** A relay in front of Vigil that notes each evaluation's address, user and answer (in memory only). */
interface Seen {
  readonly ip: string;
  readonly user: string;
  readonly id: string;
  readonly decision: string;
  readonly rules: string[];
  outcome?: string;
}

function relay(target: string, seen: Seen[]): Promise<Server> {
  const t = new URL(target);
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: req.headers }, (ur) => {
        const back: Buffer[] = [];
        ur.on('data', (c: Buffer) => back.push(c));
        ur.on('end', () => {
          const answer = Buffer.concat(back);
          if (req.url === '/v1/evaluate' && ur.statusCode === 200) {
            const ev = JSON.parse(body.toString()) as { ip: string; user: { id: string } };
            const a = JSON.parse(answer.toString()) as { decision_id: string; decision: string; rules: { name: string }[] };
            seen.push({ ip: ev.ip, user: ev.user.id, id: a.decision_id, decision: a.decision, rules: a.rules.map((r) => r.name) });
          } else if (req.url === '/v1/outcome') {
            const o = JSON.parse(body.toString()) as { decision_id: string; outcome: string };
            const s = seen.find((x) => x.id === o.decision_id);
            if (s) s.outcome = o.outcome;
          }
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          res.end(answer);
        });
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      up.end(body);
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const say = o.progress ?? ((l: string) => process.stderr.write(`drill: ${l}\n`));
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-drill-'));
  const problems: string[] = [];
  let redis: RedisServer | undefined;
  let vigil: ServeProcess | undefined;
  const servers: Server[] = [];
  try {
    redis = await startRedisServer();
    cpSync(join(REPO_ROOT, 'rules/login_core'), join(tmp, 'rules'), { recursive: true });
    vigil = await startServe({
      REDIS_URL: redis.url,
      VIGIL_DECISION_LOG: 'off',
      VIGIL_API_TOKEN: API_TOKEN,
      VIGIL_HASH_SECRET: 'drill-hash-secret-0123456789abcdef',
      VIGIL_RULES: join(tmp, 'rules'),
      VIGIL_LOG_LEVEL: 'warn',
      // The e2e tests' budget: on a loaded machine a healthy Redis round trip can pass the 25 ms
      // default, and a degraded answer (velocity missing) would change the decisions measured.
      VIGIL_SIGNAL_TIMEOUT_MS: '250',
    });
    const seen: Seen[] = [];
    const rel = await relay(vigil.url, seen);
    servers.push(rel);
    const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
    const failOpen: string[] = [];
    const auth = createAuthService({
      vigilUrl: `http://127.0.0.1:${(rel.address() as AddressInfo).port}`,
      apiToken: API_TOKEN,
      users: USERS,
      trustProxyHops: 1,
      vigilTimeoutMs: 5000,
      logger: { ...quiet, warn: (obj, msg) => failOpen.push(`${msg} ${JSON.stringify(obj)}`) },
    });
    await auth.ready;
    const svc = auth.createServer();
    servers.push(svc);
    await new Promise<void>((r) => svc.listen(0, '127.0.0.1', () => r()));
    const port = (svc.address() as AddressInfo).port;
    const base = `http://127.0.0.1:${port}`;
    say(`vigil on ${vigil.port}, auth service on ${port}`);

    // The legitimate user has signed in before, from this browser.
    const alice = new Browser(base);
    for (let i = 0; i < 3; i++) {
      const r = await alice.signIn();
      if (r !== 'direct' && r !== 'code') problems.push(`the legitimate user could not sign in before the attack: ${r}`);
    }

    const users = ['alice', 'bob', 'carol', 'dave'];
    const passwords = COMMON.slice(0, Math.max(1, o.passwords - 1));
    // bob's real password sits near the end of the list: the drill checks hydra never gets to use it.
    passwords.splice(Math.max(0, passwords.length - 3), 0, USERS.bob.password);
    writeFileSync(join(tmp, 'users.txt'), users.join('\n') + '\n');
    writeFileSync(join(tmp, 'passwords.txt'), passwords.join('\n') + '\n');
    const args = [
      '-L', join(tmp, 'users.txt'), '-P', join(tmp, 'passwords.txt'),
      '-s', String(port), '-t', String(o.tasks), '-I', '-q', ...(o.order === 'password' ? ['-u'] : []),
      '127.0.0.1', 'http-post-form',
      // hydra 9.4 wants the optional parameters (g=: no pre-request; H=: a header) before the
      // condition; any answer holding "error" (401 invalid_credentials, 403 blocked) is a miss.
      `/login:username=^USER^&password=^PASS^:g=:H=X-Forwarded-For\\: ${ATTACKER_IP}:F=error`,
    ];
    say(`hydra: ${users.length} users × ${passwords.length} passwords (${o.order === 'password' ? 'spraying: each password for every user' : 'one user after another'}), ${o.tasks} tasks, X-Forwarded-For ${ATTACKER_IP}`);
    const started = Date.now();
    let hydraOut = '';
    const hydra = spawn(HYDRA, args, { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    hydra.stdout.on('data', (d: Buffer) => (hydraOut += d.toString()));
    hydra.stderr.on('data', (d: Buffer) => (hydraOut += d.toString()));
    const hydraDone = new Promise<number | null>((r) => hydra.once('exit', (code) => r(code)));
    hydra.once('error', (err) => problems.push(`hydra could not run (${HYDRA}): ${err.message}`));

    // Meanwhile the legitimate user keeps signing in.
    const legit = { direct: 0, viaCode: 0, refused: 0, statuses: [] as string[] };
    let attacking = true;
    const legitLoop = (async () => {
      while (attacking) {
        const r = await alice.signIn();
        if (r === 'direct') legit.direct++;
        else if (r === 'code') legit.viaCode++;
        else {
          legit.refused++;
          legit.statuses.push(r);
        }
        await sleep(400);
      }
    })();
    const code = await hydraDone;
    attacking = false;
    await legitLoop;
    const hydraSeconds = (Date.now() - started) / 1000;
    if (code !== 0) problems.push(`hydra exited with ${code}: ${hydraOut.slice(-2000)}`);

    const attempts: Attempt[] = seen
      .filter((s) => s.ip === ATTACKER_IP)
      .map((s, i) => ({ n: i + 1, user: s.user, decision: s.decision, rules: s.rules, outcome: s.outcome ?? null }));
    const sessions = attempts.filter((a) => a.outcome === 'succeeded');
    // A step-up with no failure reported: the password was right and the service sent a challenge.
    const confirmed = attempts.filter((a) => a.decision === 'step_up' && a.outcome === null);
    const firstStepUp = attempts.find((a) => a.decision === 'step_up') ?? null;
    const firstBlock = attempts.find((a) => a.decision === 'block') ?? null;
    const unblockedAfterBlock = firstBlock ? attempts.filter((a) => a.n > firstBlock.n && a.decision !== 'block').length : 0;
    const hydraFound = [...hydraOut.matchAll(/login:\s*(\S+)\s+password:\s*(.*)$/gm)].map((m) => `${m[1]} / ${m[2]!.trim()}`);
    if (attempts.length === 0) problems.push("Vigil saw none of hydra's attempts");
    if (sessions.length > 0) problems.push(`the attacker got ${sessions.length} session(s): attempt(s) ${sessions.map((a) => a.n).join(', ')}`);
    if (!firstBlock) problems.push('Vigil never blocked the attacking address');
    if (unblockedAfterBlock > 0) problems.push(`${unblockedAfterBlock} attempts after the first block were not blocked`);
    if (legit.refused > 0) problems.push(`${legit.refused} legitimate sign-ins during the attack were refused: ${legit.statuses.slice(0, 3).join('; ')}`);
    if (legit.direct + legit.viaCode === 0) problems.push('no legitimate sign-in ran during the attack');
    if (failOpen.length > 0) problems.push(`the service failed open ${failOpen.length} times (Vigil unreachable or refusing): ${failOpen[0]}`);
    return { attempts, firstStepUp, firstBlock, unblockedAfterBlock, hydraFound, confirmed: confirmed.map((a) => a.n), hydraSeconds, legit, order: o.order ?? 'user', problems };
  } finally {
    for (const s of servers) s.closeAllConnections?.();
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    await vigil?.stop();
    await redis?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

export function formatDrill(r: DrillReport): string {
  const at = (a: Attempt | null): string => (a ? `attempt ${a.n} (user ${a.user}; rules ${a.rules.join(', ') || '-'})` : 'never');
  const counts = new Map<string, number>();
  for (const a of r.attempts) counts.set(a.decision, (counts.get(a.decision) ?? 0) + 1);
  return [
    `drill: hydra (${r.order === 'password' ? 'spraying' : 'one user after another'}) made ${r.attempts.length} attempts in ${r.hydraSeconds.toFixed(1)} s from ${ATTACKER_IP} (Vigil's decisions: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')})`,
    `first step-up: ${at(r.firstStepUp)}`,
    `first block:   ${at(r.firstBlock)}; not blocked after it: ${r.unblockedAfterBlock}`,
    `hydra found: ${r.hydraFound.length === 0 ? 'no password' : r.hydraFound.join(', ')}${
      r.confirmed.length > 0 ? ` (a right password met a step-up at attempt ${r.confirmed.join(', ')}: the service's 202 challenge tells the attacker it was right, but no session was given)` : ''
    }`,
    `decisions in order: ${r.attempts.map((a) => a.decision[0]).join('')} (a allow, s step_up, b block)`,
    `legitimate user from ${USER_IP} during the attack: ${r.legit.direct + r.legit.viaCode} signed in (${r.legit.direct} directly, ${r.legit.viaCode} after the one-time code), ${r.legit.refused} refused`,
    r.problems.length === 0 ? 'PASS' : `FAIL:\n${r.problems.map((p) => `  - ${p}`).join('\n')}`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const n = (name: string, d: number): number => {
    const v = Number(process.env[name] ?? d);
    if (!Number.isInteger(v) || v < 1) {
      process.stderr.write(`${name} must be a whole number ≥ 1\n`);
      process.exit(2);
    }
    return v;
  };
  const order = process.env.DRILL_ORDER ?? 'user';
  if (order !== 'user' && order !== 'password') {
    process.stderr.write('DRILL_ORDER must be user or password\n');
    process.exit(2);
  }
  const report = await runDrill({ passwords: n('DRILL_PASSWORDS', 40), tasks: n('DRILL_TASKS', 4), order });
  process.stdout.write(`${formatDrill(report)}\n`);
  process.exit(report.problems.length === 0 ? 0 : 1);
}
