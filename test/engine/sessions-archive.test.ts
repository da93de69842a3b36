// The linked sign-in past the session window: the store's session record has expired, and the
// decision log's row of the sign-in gives the same session.* features (features.md § Sensitive
// actions: "within retention"). On a real Redis with the log on PostgreSQL and on PGlite; without a
// log the features are missing; a log that fails leaves them missing, marks the event degraded and
// reports `decision_log`, never failing the answer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { compilePack, packFromFiles, type CompiledPack } from '../../dsl/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { createStore, type SignalStore } from '../../features/store/index.ts';
import { createDecisionLog, type DecisionLog } from '../../decisionlog/index.ts';
import { createEngine, type Engine, type EvaluateResult, type VigilEvent } from '../../engine/index.ts';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';
import { SESSION_FEATURES, sessionValues as session } from '../helpers/sessions.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';

const GEO = fileURLToPath(new URL('../../../shared/data/geoip/', import.meta.url));
const LONDON = '81.2.69.142';
const CHANGCHUN = '175.16.199.0';
const MIN = 60_000;
const UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36';
/** Seconds the store keeps a session record here: short, so a test can outlive it. */
const WINDOW_S = 1;

const PACK = `
pack archive version 1
rule new_device {
  on login
  when not device.known and history.logins > 0
  then step_up
  score 40
}
rule from_new_device {
  on account_change
  when session.new_device and (session.new_ip ?? true)
  then step_up
  score 40
}
`;

function compiled(): CompiledPack {
  const r = compilePack(packFromFiles({ 'main.rules': PACK }), { scheme: VIGIL_SCHEME });
  if (!r.pack) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.span.line}:${d.span.col} ${d.message}`).join('\n'));
  return r.pack;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let geoip: GeoIp;
beforeAll(async () => {
  await requireRedis();
  geoip = await createGeoIp({ cityPath: GEO + 'GeoIP2-City-Test.mmdb', asnPath: GEO + 'GeoLite2-ASN-Test.mmdb', watch: false });
});
afterAll(() => geoip.close());

interface Setup {
  readonly engine: Engine;
  readonly failures: string[];
  close(): Promise<void>;
}

async function setup(log: DecisionLog | undefined): Promise<Setup> {
  const prefix = uniquePrefix('sess-archive');
  const store: SignalStore = await createStore({ redisUrl: redisUrl(), hashSecret: 'archive-test-secret', prefix });
  const failures: string[] = [];
  const pack = compiled();
  const engine = createEngine({
    store,
    geoip,
    packs: () => ({ pack }),
    signalTimeoutMs: 2000,
    sessionWindowSeconds: WINDOW_S,
    onSignalFailure: (s) => failures.push(s),
    ...(log ? { log } : {}),
  });
  return {
    engine,
    failures,
    async close() {
      await engine.close();
      const r = new Redis(redisUrl());
      await deletePrefix(r, prefix);
      r.disconnect();
    },
  };
}

/** A user known on the laptop in London, then a sign-in on a new device from Changchun (stepped up, passed). */
async function signIns(engine: Engine, user: string, t0: number): Promise<EvaluateResult> {
  const ev = (over: Partial<VigilEvent>): VigilEvent => ({ type: 'login', userId: user, ip: LONDON, deviceId: 'd-laptop', userAgent: UA, time: t0, ...over });
  const first = await engine.evaluate(ev({ time: t0 - 60 * MIN }), { explain: true });
  expect(await engine.outcome(first.decision_id, 'succeeded')).toBe('ok');
  const l = await engine.evaluate(ev({ ip: CHANGCHUN, deviceId: 'd-phone' }), { explain: true });
  expect(l.decision).toBe('step_up');
  return l;
}

const change = (engine: Engine, user: string, t: number, over: Partial<VigilEvent>): Promise<EvaluateResult> =>
  engine.evaluate({ type: 'account_change', change: 'email', userId: user, ip: LONDON, deviceId: 'd-phone', userAgent: UA, time: t, ...over }, { explain: true });

const EXPECTED = {
  'session.age': 3600,
  'session.login_decision': 'step_up',
  'session.login_score': 40,
  'session.login_challenged': true,
  'session.new_device': true,
  'session.new_country': true,
  'session.new_ip': true,
  'session.ip_changed': true,
  'session.country_changed': true,
  'session.device_changed': false,
};

function withLog(name: string, open: () => Promise<{ log: DecisionLog; drop(): Promise<void> }>): void {
  describe(`past the session window, the decision log (${name})`, () => {
    let s: Setup;
    let log: DecisionLog;
    let drop: () => Promise<void>;
    beforeAll(async () => {
      ({ log, drop } = await open());
      s = await setup(log);
    });
    afterAll(async () => {
      await s.close();
      await log.close();
      await drop();
    });

    it('gives the same session features as the record did within the window', async () => {
      const t0 = Date.parse('2026-11-24T18:00:00Z');
      const l = await signIns(s.engine, 'u-archive', t0);
      const within = await change(s.engine, 'u-archive', t0 + 60 * MIN, { loginDecisionId: l.decision_id });
      expect(session(within)).toEqual(EXPECTED);
      await log.flush();
      await sleep(WINDOW_S * 1000 + 300);
      const past = await change(s.engine, 'u-archive', t0 + 60 * MIN, { loginDecisionId: l.decision_id });
      expect(session(past)).toEqual(EXPECTED);
      expect(past.decision).toBe('step_up');
      expect(past.degraded).toBe(false);
      expect(s.failures).toEqual([]);
    });

    it('another user\'s sign-in, a recovery\'s decision or an unknown id is no link', async () => {
      const t0 = Date.parse('2026-11-25T18:00:00Z');
      const other = await signIns(s.engine, 'u-other', t0);
      const rec = await s.engine.evaluate({ type: 'recovery', userId: 'u-mine', ip: LONDON, time: t0 });
      await log.flush();
      await sleep(WINDOW_S * 1000 + 300);
      const none = Object.fromEntries(SESSION_FEATURES.map((k) => [k, null]));
      for (const id of [other.decision_id, rec.decision_id, '01JD0000000000000000000000', 'not-an-id']) {
        const c = await change(s.engine, 'u-mine', t0 + MIN, { loginDecisionId: id });
        expect(session(c), id).toEqual(none);
        expect(c.degraded).toBe(false);
      }
    });
  });
}

withLog('PostgreSQL', async () => {
  await requirePostgres();
  const schema = uniqueSchema('sess_archive');
  const log = await createDecisionLog({ url: postgresUrl(), schema, requireDb: true, flushMs: 5 });
  return { log, drop: () => dropSchema(postgresUrl(), schema) };
});

withLog('PGlite', async () => ({ log: await createDecisionLog({ flushMs: 5 }), drop: async () => {} }));

describe('past the session window without a usable decision log', () => {
  it('without a log the session features are missing', async () => {
    const s = await setup(undefined);
    try {
      const t0 = Date.parse('2026-11-26T18:00:00Z');
      const l = await signIns(s.engine, 'u-nolog', t0);
      await sleep(WINDOW_S * 1000 + 300);
      const c = await change(s.engine, 'u-nolog', t0 + MIN, { loginDecisionId: l.decision_id });
      expect(c.features?.['session.login_decision']).toBeNull();
      expect(c.degraded).toBe(false);
    } finally {
      await s.close();
    }
  });

  it('a log that fails: features missing, the event degraded, decision_log reported, an answer all the same', async () => {
    const log = await createDecisionLog({ flushMs: 5 });
    const s = await setup(log);
    try {
      const t0 = Date.parse('2026-11-27T18:00:00Z');
      const l = await signIns(s.engine, 'u-broken', t0);
      await log.flush();
      await sleep(WINDOW_S * 1000 + 300);
      // Only the read breaks: the log's other calls keep working.
      log.get = () => Promise.reject(new Error('connection lost'));
      const c = await change(s.engine, 'u-broken', t0 + MIN, { loginDecisionId: l.decision_id });
      expect(c.features?.['session.login_decision']).toBeNull();
      expect(c.degraded).toBe(true);
      expect(s.failures).toContain('decision_log');
    } finally {
      await s.close();
      await log.close();
    }
  });
});
