// The API over the production engine (engine/index.ts) with the in-process signal store and the
// GeoIP test databases: evaluate → outcome → audit → erase, explain, metrics, and two processes of
// `node bin/vigil.js serve` on one Redis following a pack change within a second.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { createMetrics, type VigilMetrics } from '../../api/metrics.ts';
import { createEngine } from '../../engine/index.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { openGeoIp } from '../../features/geoip.ts';
import { createMemoryStore } from '../../features/store/index.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_PACK, errorCode, logSink, testPackManager } from './helpers.ts';
import { createDecisionLog } from '../../decisionlog/index.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip', import.meta.url));
const api = `Bearer ${API_TOKEN}`;
const admin = `Bearer ${ADMIN_TOKEN}`;

let app: ReturnType<typeof createApp>;
let engine: Engine;
let packs: PackManager;
let metrics: VigilMetrics;
const schemas: string[] = [];

beforeAll(() => requirePostgres());
afterAll(async () => {
  for (const s of schemas) await dropSchema(postgresUrl(), s);
});

beforeEach(async () => {
  const logs = logSink();
  metrics = createMetrics(new Registry());
  packs = testPackManager({ logger: logs.logger, metrics });
  await packs.start();
  const geoip = await openGeoIp({ city: join(GEO, 'GeoIP2-City-Test.mmdb'), asn: join(GEO, 'GeoLite2-ASN-Test.mmdb'), watch: false });
  const schema = uniqueSchema('app');
  schemas.push(schema);
  engine = createEngine({
    store: createMemoryStore({ hashSecret: 'test-secret-0123456789' }),
    geoip,
    packs: () => packs.current(),
    signalTimeoutMs: 25,
    // The decision log on the real PostgreSQL (the in-process store keeps the window).
    log: await createDecisionLog({ url: postgresUrl(), schema, requireDb: true, flushMs: 5 }),
    logger: logs.logger,
    onSignalFailure: (s) => metrics.signalFailure(s),
  });
  app = createApp({ engine, packs, logger: logs.logger, metrics, config: { apiToken: API_TOKEN, adminToken: ADMIN_TOKEN, maxSkewMs: 300_000 } });
});

afterEach(async () => {
  await engine.close();
  await packs.close();
});

const EVENT = { type: 'login', user: { id: 'u-real', mfa: false }, ip: '81.2.69.142', device: { id: 'd-1', user_agent: 'Mozilla/5.0' } };

describe('the API over the real engine', () => {
  it('evaluate → outcome → audit → erase', async () => {
    const ev = await request(app).post('/v1/evaluate').set('Authorization', api).send(EVENT);
    expect(ev.status).toBe(200);
    expect(ev.body).toMatchObject({ decision: 'step_up', score: 30, pack: { name: 'api_test', version: 1 } });
    expect(ev.body.rules.map((r: { name: string }) => r.name)).toEqual(['no_mfa']);
    const id = ev.body.decision_id as string;

    expect((await request(app).post('/v1/outcome').set('Authorization', api).send({ decision_id: id, outcome: 'challenge_passed' })).status).toBe(204);
    const unknown = await request(app).post('/v1/outcome').set('Authorization', api).send({ decision_id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', outcome: 'failed' });
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown.body)).toBe('not_found');

    const stored = await request(app).get(`/v1/decisions/${id}`).set('Authorization', admin);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ decision_id: id, outcome: 'challenge_passed', result: { decision: 'step_up' } });
    expect(JSON.stringify(stored.body.request)).not.toContain('u-real');

    const erased = await request(app).delete('/v1/users/u-real/history').set('Authorization', admin);
    expect(erased.status).toBe(200);
    expect(typeof erased.body.keys).toBe('number');
  });

  it('explain returns the computed features; a blocked range blocks', async () => {
    const ev = await request(app).post('/v1/evaluate?explain=1').set('Authorization', api).send({ ...EVENT, ip: '203.0.113.7' });
    expect(ev.status).toBe(200);
    expect(ev.body.decision).toBe('block');
    expect(ev.body.features['ip.address']).toBe('203.0.113.7');
    const text = (await request(app).get('/metrics')).text;
    expect(text).toContain('vigil_decisions_total{type="login",decision="block"} 1');
    expect(text).toContain('vigil_rule_hits_total{rule="blocked_net",mode="enforce"} 1');
  });

  it('/readyz is ready', async () => {
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body.checks.pack).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Two `vigil serve` processes on one Redis (database 13 keeps their keys apart from other tests).
// ---------------------------------------------------------------------------------------------

const REDIS_DB_URL = `${process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'}/13`;
const BIN = new URL('../../bin/vigil.js', import.meta.url).pathname;
let redis: Redis;
const children: ChildProcess[] = [];
const dirs: string[] = [];

async function clearPackKeys(): Promise<void> {
  const keys = await redis.keys('{vigil:packs}:*');
  if (keys.length) await redis.del(...keys);
}

beforeAll(async () => {
  redis = new Redis(REDIS_DB_URL, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await redis.connect(); // throws (the suite fails) when Redis is absent
  await clearPackKeys();
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await clearPackKeys();
  redis.disconnect();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function serve(rules: string): Promise<number> {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      REDIS_URL: REDIS_DB_URL,
      VIGIL_RULES: rules,
      VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
      VIGIL_HASH_SECRET: 'test-secret-0123456789',
      VIGIL_GEOIP_CITY: join(GEO, 'GeoIP2-City-Test.mmdb'),
      VIGIL_GEOIP_ASN: join(GEO, 'GeoLite2-ASN-Test.mmdb'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vigil serve did not start: ${err}`)), 20_000);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /"port":(\d+)[^\n]*"msg":"vigil listening"/.exec(buf);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once('exit', (code) => reject(new Error(`vigil serve exited ${code}: ${err}`)));
  });
}

async function version(port: number): Promise<number> {
  const r = await fetch(`http://127.0.0.1:${port}/v1/packs`, { headers: { Authorization: admin } });
  return ((await r.json()) as { active: { version: number } }).active.version;
}

describe('two `vigil serve` processes on one Redis', () => {
  it('a pack activated on one serves on the other within a second; rollback too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-bin-'));
    dirs.push(dir);
    cpSync(GOOD_PACK, dir, { recursive: true });
    const [a, b] = await Promise.all([serve(dir), serve(dir)]);
    const main = readFileSync(join(dir, 'main.rules'), 'utf8');
    const t0 = Date.now();
    const put = await fetch(`http://127.0.0.1:${a}/v1/packs/active`, {
      method: 'PUT',
      headers: { Authorization: admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ files: { 'main.rules': main.replace('version 1', 'version 2'), 'lists/blocked.txt': '203.0.113.0/24\n' } }),
    });
    expect(put.status).toBe(200);
    while ((await version(b)) !== 2) {
      if (Date.now() - t0 > 1000) throw new Error('instance b did not follow within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    const ev = await fetch(`http://127.0.0.1:${b}/v1/evaluate`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(EVENT),
    });
    expect(((await ev.json()) as { pack: { version: number } }).pack.version).toBe(2);

    const t1 = Date.now();
    expect((await fetch(`http://127.0.0.1:${b}/v1/packs/rollback`, { method: 'POST', headers: { Authorization: admin } })).status).toBe(200);
    while ((await version(a)) !== 1) {
      if (Date.now() - t1 > 1000) throw new Error('instance a did not follow the rollback within 1 s');
      await new Promise((r) => setTimeout(r, 10));
    }
  });
});
