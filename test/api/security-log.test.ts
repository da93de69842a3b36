// GET /v1/users/:id/security-log end to end: the real engine on the real Redis store, the GeoIP test
// databases, and the decision log on the real PostgreSQL and on PGlite (the embedded default).
// Sign-ins and a recovery become entries newest first with coarse fields only; the stored rows hold
// no raw user id, address or device id; pages follow the cursor; bad limits and cursors are 400;
// the user's erasure and the retention empty it; the route answers 401 without the admin token and
// 404 when the admin API is off. Needs Redis and PostgreSQL; FAILS without them.
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { createMetrics } from '../../api/metrics.ts';
import { createDecisionLog, type DecisionLog, type DecisionLogOptions } from '../../decisionlog/index.ts';
import { createPgliteDb } from '../../decisionlog/db.ts';
import { createEngine } from '../../engine/index.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { openGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createStore } from '../../features/store/index.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';
import { ADMIN_TOKEN, API_TOKEN, errorCode, logSink, testPackManager } from './helpers.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip', import.meta.url));
const api = `Bearer ${API_TOKEN}`;
const admin = `Bearer ${ADMIN_TOKEN}`;
const DAY = 86_400_000;

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const CHROME_WIN = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
/** Distinctive raw values: none may be found in a stored row. */
const USER = 'alice.seclog@example.com';
const OTHER = 'bob.seclog@example.com';
const LONDON = '81.2.69.142';
const LINKOPING = '89.160.20.112';
const PHONE = 'device-seclog-9f2c77';

interface Backend {
  readonly name: 'postgres' | 'pglite';
  options(): DecisionLogOptions;
  /** Every stored row of the decision log's tables, as JSON text (for PGlite: the log must be closed). */
  rawRows(o: DecisionLogOptions): Promise<string[]>;
  teardown(): Promise<void>;
}

const TABLES = ['decisions', 'decision_rules', 'decision_outcomes', 'security_log'];

function postgresBackend(): Backend {
  const schemas: string[] = [];
  return {
    name: 'postgres',
    options() {
      const schema = uniqueSchema('seclog');
      schemas.push(schema);
      return { url: postgresUrl(), schema, requireDb: true, flushMs: 5, maintainEveryMs: 0 };
    },
    async rawRows(o) {
      const c = new pg.Client({ connectionString: postgresUrl() });
      await c.connect();
      try {
        const out: string[] = [];
        for (const t of TABLES) out.push(...(await c.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM "${o.schema}".${t} x`)).rows.map((r) => r.j));
        return out;
      } finally {
        await c.end();
      }
    },
    async teardown() {
      for (const s of schemas) await dropSchema(postgresUrl(), s);
    },
  };
}

function pgliteBackend(): Backend {
  const base = mkdtempSync(join(tmpdir(), 'vigil-seclog-'));
  return {
    name: 'pglite',
    options() {
      // A data directory of its own: a PGlite directory may be open in one instance at a time.
      return { dataDir: join(base, uniqueSchema('seclog')), schema: 'vigil', flushMs: 5, maintainEveryMs: 0 };
    },
    async rawRows(o) {
      const db = await createPgliteDb(o.dataDir);
      try {
        const out: string[] = [];
        for (const t of TABLES) out.push(...(await db.query<{ j: string }>(`SELECT row_to_json(x)::text AS j FROM "${o.schema}".${t} x`)).map((r) => r.j));
        return out;
      } finally {
        await db.close();
      }
    },
    async teardown() {
      await rm(base, { recursive: true, force: true });
    },
  };
}

for (const backend of [postgresBackend(), pgliteBackend()]) {
  describe(`GET /v1/users/:id/security-log (${backend.name})`, () => {
    const prefix = uniquePrefix('seclog');
    let redis: Redis;
    let geoip: GeoIp;
    let packs: PackManager;
    let opts: DecisionLogOptions;
    let log: DecisionLog;
    let engine: Engine;
    let app: ReturnType<typeof createApp>;
    const t0 = Date.now() - 60 * 60_000;
    const at = (min: number): string => new Date(t0 + min * 60_000).toISOString();

    async function open(extra: Partial<DecisionLogOptions> = {}): Promise<void> {
      log = await createDecisionLog({ ...opts, ...extra });
      const logs = logSink();
      engine = createEngine({
        store: await createStore({ redisUrl: redisUrl(), hashSecret: 'seclog-secret-0123456789', prefix }),
        geoip,
        packs: () => packs.current(),
        signalTimeoutMs: 1000,
        log,
        logger: logs.logger,
      });
      app = createApp({ engine, packs, logger: logs.logger, metrics: createMetrics(new Registry()), config: { apiToken: API_TOKEN, adminToken: ADMIN_TOKEN, maxSkewMs: 7 * DAY } });
    }

    beforeAll(async () => {
      await requireRedis();
      if (backend.name === 'postgres') await requirePostgres();
      redis = new Redis(redisUrl());
      geoip = await openGeoIp({ city: join(GEO, 'GeoIP2-City-Test.mmdb'), asn: join(GEO, 'GeoLite2-ASN-Test.mmdb'), watch: false });
      packs = testPackManager({ logger: logSink().logger });
      await packs.start();
      opts = backend.options();
      await open();
    });

    afterAll(async () => {
      await engine?.close();
      await packs?.close();
      geoip?.close();
      if (redis) {
        await deletePrefix(redis, prefix);
        redis.disconnect();
      }
      await backend.teardown();
    });

    async function evaluate(type: 'login' | 'recovery', user: string, ip: string, ua: string, min: number, mfa = true): Promise<string> {
      const r = await request(app)
        .post('/v1/evaluate')
        .set('Authorization', api)
        .send({ type, user: { id: user, mfa }, ip, device: { id: PHONE, user_agent: ua }, time: at(min) });
      expect(r.status).toBe(200);
      return r.body.decision as string;
    }

    const get = (user: string, query: Record<string, string> = {}, auth: string | null = admin) => {
      const req = request(app).get(`/v1/users/${encodeURIComponent(user)}/security-log`).query(query);
      return auth === null ? req : req.set('Authorization', auth);
    };

    it('lists sign-ins and a recovery newest first, with coarse fields only', async () => {
      expect(await evaluate('login', USER, LONDON, FIREFOX, 0)).toBe('allow');
      expect(await evaluate('login', USER, LINKOPING, CHROME_WIN, 10, false)).toBe('step_up');
      expect(await evaluate('recovery', USER, LONDON, FIREFOX, 20)).toBe('allow');
      await evaluate('login', OTHER, LONDON, FIREFOX, 5);

      const r = await get(USER);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({
        entries: [
          { at: at(20), type: 'recovery', decision: 'allow', country: 'GB', city: 'London', browser: 'Firefox', os: 'Linux', notices: [] },
          { at: at(10), type: 'login', decision: 'step_up', country: 'SE', city: 'Linköping', browser: 'Chrome', os: 'Windows', notices: [] },
          { at: at(0), type: 'login', decision: 'allow', country: 'GB', city: 'London', browser: 'Firefox', os: 'Linux', notices: [] },
        ],
        cursor: null,
      });
      // Nothing in the answer names the address, the device or the rules.
      const text = JSON.stringify(r.body);
      for (const raw of [LONDON, LINKOPING, PHONE, USER, 'no_mfa']) expect(text).not.toContain(raw);
      expect((await get('nobody@example.com')).body).toEqual({ entries: [], cursor: null });
    });

    it('pages with the cursor; refuses bad limits and cursors with 400', async () => {
      const first = await get(USER, { limit: '2' });
      expect(first.status).toBe(200);
      expect(first.body.entries.map((e: { at: string }) => e.at)).toEqual([at(20), at(10)]);
      expect(typeof first.body.cursor).toBe('string');
      const second = await get(USER, { limit: '2', cursor: first.body.cursor as string });
      expect(second.body.entries.map((e: { at: string }) => e.at)).toEqual([at(0)]);
      expect(second.body.cursor).toBeNull();
      expect((await get(USER, { limit: '100' })).status).toBe(200);
      const bads: Record<string, string>[] = [{ limit: '0' }, { limit: '101' }, { limit: '-1' }, { limit: '2.5' }, { limit: 'ten' }, { limit: '' }, { cursor: 'not-a-cursor' }, { cursor: '' }, { since: '1h' }];
      for (const bad of bads) {
        const res = await get(USER, bad);
        expect(res.status, JSON.stringify(bad)).toBe(400);
        expect(errorCode(res.body)).toBe('invalid_request');
      }
      const twice = await request(app).get(`/v1/users/${USER}/security-log?limit=1&limit=2`).set('Authorization', admin);
      expect(twice.status).toBe(400);
      const tooLong = await get('x'.repeat(300));
      expect(tooLong.status).toBe(400);
      expect(tooLong.body.error.details[0].path).toBe('params.id');
    });

    it('answers 401 without the admin token, 404 with the admin API off', async () => {
      expect((await get(USER, {}, null)).status).toBe(401);
      expect((await get(USER, {}, api)).status).toBe(401);
      const off = createApp({ engine, packs, logger: logSink().logger, metrics: createMetrics(new Registry()), config: { apiToken: API_TOKEN, adminToken: undefined, maxSkewMs: 7 * DAY } });
      expect((await request(off).get(`/v1/users/${USER}/security-log`)).status).toBe(404);
    });

    it('stores no raw user id, address or device id', async () => {
      await engine.close();
      try {
        const rows = await backend.rawRows(opts);
        expect(rows.length).toBeGreaterThanOrEqual(4 * 2);
        const all = rows.join('\n');
        // The view shows the city; the rows hold only keyed hashes and a /24 prefix.
        expect(all).toContain('Linköping');
        for (const raw of [USER, OTHER, LONDON, LINKOPING, PHONE, 'alice', 'device-seclog']) expect(all).not.toContain(raw);
        const view = rows.filter((j) => 'browser' in (JSON.parse(j) as object));
        expect(view.length).toBe(4);
        for (const j of view) {
          expect(Object.keys(JSON.parse(j) as object).sort()).toEqual(['at', 'browser', 'change', 'city', 'country', 'decision', 'id', 'notices', 'os', 'type', 'user_h']);
        }
      } finally {
        await open();
      }
    });

    it("the user's erasure empties it; another user's stays", async () => {
      const erased = await request(app).delete(`/v1/users/${encodeURIComponent(USER)}/history`).set('Authorization', admin);
      expect(erased.status).toBe(200);
      expect(erased.body.decisions).toBe(3);
      expect((await get(USER)).body).toEqual({ entries: [], cursor: null });
      expect((await get(OTHER)).body.entries).toHaveLength(1);
    });

    it('the retention drops old entries', async () => {
      await evaluate('login', OTHER, LINKOPING, CHROME_WIN, 30);
      expect((await get(OTHER)).body.entries).toHaveLength(2);
      await engine.close();
      await open({ retentionDays: 2 });
      // Four days on, today's partition lies past a two-day retention.
      await log.maintain(Date.now() + 4 * DAY);
      expect((await get(OTHER)).body).toEqual({ entries: [], cursor: null });
    });
  });
}
