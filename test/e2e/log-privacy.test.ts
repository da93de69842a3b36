// No log line carries a raw user id, device id or address (issue 15, point 5). A REAL `vigil serve`
// (the compiled server, VIGIL_LOG_LEVEL=trace, every byte of stdout and stderr kept) on its own
// Redis and a PostgreSQL decision log goes through a scenario with distinctive identifiers:
// sign-ins and recoveries from IPv4, IPv6 and IPv4-mapped addresses with devices, e-mail-like ids
// and ids that need escaping, outcomes, explain, bad requests, a decision search by user, a live
// list holding a user id, counters cleared, an erasure, a refused pack naming a user and an
// address, and Redis killed and restarted mid-run. Then every line it wrote is searched for each
// identifier as sent and in its common encodings (JSON-escaped, URL-encoded, canonical and
// expanded address forms). Needs Redis (a private redis-server) and PostgreSQL; FAILS without them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import { ADMIN_TOKEN, API_TOKEN, GEOIP_DIR, REPO_ROOT, call, clock, copyPack, eventBody, removeTempDirs, sleep, type EvaluateAnswer } from './helpers.ts';

const r = randomBytes(4).toString('hex');
/** A 4-digit hex group without a leading zero, so the address as built is already canonical. */
const hex = (): string => (0x1000 + (randomBytes(2).readUInt16BE(0) % 0xefff)).toString(16);

/** The identifiers the scenario sends: none may reach the logs in any form. */
const USERS = {
  email: `mallory.${r}@example.com`,
  plain: `u-${r}-7f3a`,
  escaped: `Jörg ${r}/Ø?&="o'brien"\\x`,
  recovery: `recover+${r}@example.org`,
} as const;
const DEVICES = { phone: `dev-${r}-9c2e`, laptop: `device:${r}:laptop` } as const;
const V6 = `2001:db8:${hex()}:${hex()}::${hex()}`;
const IPS = {
  // Places in the MaxMind test databases, so geo features and rule reasons have values to render.
  linkoping: '89.160.20.119',
  london: '81.2.69.142',
  docs4: '203.0.113.57',
  docs4b: '198.51.100.213',
  v6: V6.toUpperCase(),
  mapped: '::ffff:198.51.100.91',
} as const;
/** Values a rejected request carried in identifier fields. */
const INVALID = { ip: `999.${r}.1.1`, user: `too-long-${r}-`.padEnd(300, 'z') } as const;

const ADMIN = ADMIN_TOKEN;

function expandV6(a: string): string {
  const [head = '', tail = ''] = a.toLowerCase().split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

/** Every spelling of a value a log line could hold. */
function spellings(v: string): string[] {
  const out = new Set<string>([v, v.toLowerCase()]);
  out.add(JSON.stringify(v).slice(1, -1));
  out.add(encodeURIComponent(v));
  out.add(encodeURI(v));
  out.add(new URLSearchParams({ q: v }).toString().slice(2));
  out.add(JSON.stringify(v).slice(1, -1).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
  // An IPv6 address also as its expanded form; an IPv4-mapped one also as the IPv4 address.
  if (/^[0-9a-f:]+$/i.test(v) && v.includes('::')) out.add(expandV6(v));
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(v);
  if (mapped?.[1]) out.add(mapped[1]);
  out.delete('');
  return [...out];
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  output(): string;
}

let redis: RedisServer;
const schema = uniqueSchema('logprivacy');
let server: Server;

async function startServer(redisUrl: string): Promise<Server> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/vigil.js'), 'serve'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      REDIS_URL: redisUrl,
      VIGIL_RULES: copyPack(),
      VIGIL_HASH_SECRET: `log-privacy-secret-${r}-0123456789`,
      VIGIL_API_TOKEN: API_TOKEN,
      VIGIL_ADMIN_TOKEN: ADMIN,
      VIGIL_GEOIP_CITY: join(GEOIP_DIR, 'GeoIP2-City-Test.mmdb'),
      VIGIL_GEOIP_ASN: join(GEOIP_DIR, 'GeoLite2-ASN-Test.mmdb'),
      VIGIL_GEOIP_ANON: join(GEOIP_DIR, 'GeoIP2-Anonymous-IP-Test.mmdb'),
      VIGIL_DECISION_LOG: postgresUrl(),
      VIGIL_DECISION_LOG_SCHEMA: schema,
      VIGIL_MAX_SKEW: '7d',
      VIGIL_SIGNAL_TIMEOUT_MS: '250',
      VIGIL_LOG_LEVEL: 'trace',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Everything, unbounded: the point is to search all of it.
  const chunks: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => chunks.push(d));
  child.stderr!.on('data', (d: Buffer) => chunks.push(d));
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const s: Server = { url: `http://127.0.0.1:${port}`, child, exited, output: () => Buffer.concat(chunks).toString('utf8') };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`vigil serve exited ${child.exitCode}:\n${s.output()}`);
    try {
      const res = await fetch(`${s.url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return s;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`vigil serve was not ready within 90 s:\n${s.output()}`);
    }
    await sleep(200);
  }
}

async function waitReady(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/readyz`).catch(() => null);
    if (res) await res.arrayBuffer();
    if (res?.status === 200) return;
    await sleep(200);
  }
  throw new Error('the server did not become ready again after Redis came back');
}

beforeAll(async () => {
  await requirePostgres();
  redis = await startRedisServer();
  server = await startServer(redis.url);
}, 120_000);

afterAll(async () => {
  if (server && server.child.exitCode === null) {
    server.child.kill('SIGKILL');
    await server.exited;
  }
  await redis?.stop();
  await dropSchema(postgresUrl(), schema).catch(() => undefined);
  removeTempDirs();
});

describe('a scenario run at trace level', () => {
  it('leaves no raw user id, device id or address in any log line', async () => {
    const v = server.url;
    const at = clock();
    const ids: string[] = [];
    const statuses: Record<string, number[]> = {};
    const note = (what: string, status: number): void => {
      (statuses[what] ??= []).push(status);
    };
    const ev = async (body: Record<string, unknown>, explain = false): Promise<EvaluateAnswer> => {
      const res = await call<EvaluateAnswer>(v, 'POST', `/v1/evaluate${explain ? '?explain=1' : ''}`, { body });
      note('evaluate', res.status);
      if (res.status === 200) ids.push(res.body.decision_id);
      return res.body;
    };
    const admin = (method: string, path: string, body?: unknown) => call<unknown>(v, method, path, { token: ADMIN, ...(body !== undefined ? { body } : {}) });

    // Sign-ins: known and new devices, every address form, explain on some.
    let minute = 0;
    const plan: [string, string, string | undefined][] = [
      [USERS.email, IPS.linkoping, DEVICES.phone],
      [USERS.email, IPS.london, DEVICES.laptop],
      [USERS.plain, IPS.v6, DEVICES.phone],
      [USERS.plain, IPS.mapped, undefined],
      [USERS.escaped, IPS.docs4, DEVICES.laptop],
      [USERS.escaped, IPS.docs4b, DEVICES.phone],
    ];
    for (const [user, ip, device] of plan) {
      const a = await ev(eventBody({ user, ip, time: at(minute++), ...(device !== undefined ? { device, ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' } : {}) }), minute % 2 === 0);
      const o = await call(v, 'POST', '/v1/outcome', { body: { decision_id: a.decision_id, outcome: minute % 3 === 0 ? 'failed' : 'succeeded' } });
      note('outcome', o.status);
    }
    // A burst of failures from one address (velocity rules render counts and addresses in reasons).
    for (let i = 0; i < 8; i++) {
      const a = await ev(eventBody({ user: i % 2 === 0 ? USERS.email : USERS.plain, ip: IPS.docs4, device: DEVICES.phone, time: at(minute) }), true);
      const o = await call(v, 'POST', '/v1/outcome', { body: { decision_id: a.decision_id, outcome: 'failed' } });
      note('outcome', o.status);
    }
    await ev({ ...eventBody({ type: 'recovery', user: USERS.recovery, ip: IPS.v6, device: DEVICES.laptop, time: at(minute++) }) }, true);
    // Refused requests carrying identifier fields.
    note('bad', (await call(v, 'POST', '/v1/evaluate', { body: eventBody({ user: USERS.email, ip: INVALID.ip, time: at(minute) }) })).status);
    note('bad', (await call(v, 'POST', '/v1/evaluate', { body: eventBody({ user: INVALID.user, ip: IPS.london, time: at(minute) }) })).status);

    // The admin side: search by user, explain, live list, counters, erasure.
    note('search', (await admin('GET', `/v1/decisions?user=${encodeURIComponent(USERS.email)}`)).status);
    note('explain', (await admin('GET', `/v1/decisions/${ids[0]}?explain=1`)).status);
    note('list', (await admin('POST', '/v1/lists/vigil:blocked_users', { entries: [USERS.plain], ttl: '1h', reason: 'log privacy test' })).status);
    const blocked = await ev(eventBody({ user: USERS.plain, ip: IPS.linkoping, time: at(minute++) }));
    expect(blocked.decision).toBe('block');
    note('list', (await admin('GET', '/v1/lists/vigil:blocked_users')).status);
    note('list', (await admin('DELETE', '/v1/lists/vigil:blocked_users', { entries: [USERS.plain], reason: 'done' })).status);
    note('counters', (await admin('DELETE', '/v1/counters', { ip: IPS.docs4, user: USERS.email, subnet: true, reason: 'test' })).status);
    note('erase', (await admin('DELETE', `/v1/users/${encodeURIComponent(USERS.escaped)}/history`)).status);

    // A refused pack whose failing line names a user and an address.
    const source = `pack leaky version 99\n\nrule named_user {\n  when user.id == "${USERS.email}" and ip.address == "${IPS.docs4b}" and user.id > 3\n  then block\n}\n`;
    const refused = await fetch(`${v}/v1/packs/active`, { method: 'PUT', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, body: source });
    await refused.arrayBuffer();
    note('refused pack', refused.status);
    const validated = await fetch(`${v}/v1/packs/validate`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/plain' }, body: source });
    await validated.arrayBuffer();
    note('validate', validated.status);

    // Redis goes away mid-run: degraded answers, refused outcomes and erasures, then it comes back.
    await redis.kill();
    await ev(eventBody({ user: USERS.email, ip: IPS.london, device: DEVICES.phone, time: at(minute++) }));
    await ev(eventBody({ user: USERS.recovery, ip: IPS.v6, time: at(minute++) }));
    note('outcome down', (await call(v, 'POST', '/v1/outcome', { body: { decision_id: ids[ids.length - 1], outcome: 'succeeded' } })).status);
    note('erase down', (await admin('DELETE', `/v1/users/${encodeURIComponent(USERS.plain)}/history`)).status);
    note('counters down', (await admin('DELETE', '/v1/counters', { ip: IPS.london, user: USERS.recovery })).status);
    await redis.restart();
    await waitReady(v, 30_000);
    await ev(eventBody({ user: USERS.email, ip: IPS.linkoping, device: DEVICES.phone, time: at(minute++) }));

    // Stop it as an orchestrator would, so every line is written.
    server.child.kill('SIGTERM');
    await server.exited;

    // The scenario did what it says (else the search below would prove nothing).
    expect(statuses.evaluate!.filter((s) => s === 200).length).toBeGreaterThanOrEqual(18);
    expect(statuses.bad).toEqual([400, 400]);
    expect(statuses.search).toEqual([200]);
    expect(statuses.explain).toEqual([200]);
    expect(statuses.list).toEqual([200, 200, 200]);
    expect(statuses.counters).toEqual([200]);
    expect(statuses.erase).toEqual([200]);
    expect(statuses['refused pack']).toEqual([422]);
    expect(statuses.validate).toEqual([200]);
    expect(statuses['erase down']![0]).toBe(503);

    const out = server.output();
    const lines = out.split('\n').filter((l) => l.trim() !== '');
    // The logs hold what they should: an access line per request, the decision ids, trace-level start.
    expect(lines.filter((l) => l.includes('"msg":"request"')).length).toBeGreaterThanOrEqual(40);
    for (const id of ids.slice(0, 5)) expect(out).toContain(id);
    expect(out).toContain('"msg":"vigil listening"');
    expect(out).toContain('"action":"erase_user"');

    const identifiers = [...Object.values(USERS), ...Object.values(DEVICES), ...Object.values(IPS), INVALID.ip, INVALID.user];
    const leaks: string[] = [];
    for (const id of identifiers) {
      for (const s of spellings(id)) {
        for (const line of lines) if (line.includes(s)) leaks.push(`${JSON.stringify(s)} in: ${line.slice(0, 400)}`);
      }
    }
    expect(leaks).toEqual([]);
  }, 240_000);
});
