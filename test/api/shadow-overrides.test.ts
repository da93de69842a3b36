// Rule overrides, the shadow pack and forced activation through the API, over the real engine and
// real Redis, with two instances (pack manager + engine + app each) on one Redis: a change made on
// one applies on the other within a second, an override expires with nobody acting, a new instance
// picks up the shadow pack at start, the report counts what every instance evaluated, every change
// is in the audit log, and every bad input is a 4xx. Needs Redis on 127.0.0.1:6379; FAILS without it.
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../api/app.ts';
import { createMetrics } from '../../api/metrics.ts';
import { createMemoryAudit, type AuditEntry } from '../../engine/audit.ts';
import { createEngine, createRedisShadowReport, type Engine } from '../../engine/index.ts';
import { createRedisPackRepository, type PackManager } from '../../engine/packs/index.ts';
import { createStore } from '../../features/store/index.ts';
import { deletePrefix, redisUrl, requireRedis } from '../helpers/redis.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_PACK, errorCode, logSink, readFiles, testPackManager } from './helpers.ts';

const api = `Bearer ${API_TOKEN}`;
const admin = `Bearer ${ADMIN_TOKEN}`;
const GOOD_FILES = readFiles(GOOD_PACK);
const MAIN = GOOD_FILES['main.rules']!;
const EVENT = { type: 'login', user: { id: 'u-1', mfa: false }, ip: '192.0.2.10', device: { id: 'd-1' } };

let admin$: Redis;
const prefixes: string[] = [];

beforeAll(async () => {
  await requireRedis();
  admin$ = new Redis(redisUrl());
});
afterAll(async () => {
  for (const p of prefixes) {
    await deletePrefix(admin$, `{${p}:`);
    await deletePrefix(admin$, p);
  }
  admin$.disconnect();
});

interface Instance {
  readonly app: ReturnType<typeof createApp>;
  readonly packs: PackManager;
  readonly engine: Engine;
  readonly audit: ReturnType<typeof createMemoryAudit>;
  close(): Promise<void>;
}

const opened: Instance[] = [];
afterEach(async () => {
  for (const i of opened.splice(0)) await i.close().catch(() => undefined);
});

function newPrefix(): string {
  const p = `vigiltest-so-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  prefixes.push(p);
  return p;
}

async function instance(p: string): Promise<Instance> {
  const client = new Redis(redisUrl());
  const subscriber = new Redis(redisUrl());
  const logs = logSink();
  const audit = createMemoryAudit();
  const packs = testPackManager({ repo: createRedisPackRepository({ client, subscriber, prefix: p }), logger: logs.logger, audit });
  await packs.start();
  const metrics = createMetrics(new Registry());
  const engine = createEngine({
    store: await createStore({ redisUrl: redisUrl(), hashSecret: 'so-test-secret-0123', prefix: `${p}:` }),
    geoip: null,
    packs: () => packs.current(),
    signalTimeoutMs: 500,
    logger: logs.logger,
    shadowReport: createRedisShadowReport({ client, prefix: p, flushMs: 100 }),
  });
  const app = createApp({ engine, packs, logger: logs.logger, metrics, config: { apiToken: API_TOKEN, adminToken: ADMIN_TOKEN, maxSkewMs: 300_000 } });
  const i: Instance = {
    app,
    packs,
    engine,
    audit,
    async close() {
      await engine.close();
      await packs.close();
      client.disconnect();
    },
  };
  opened.push(i);
  return i;
}

/** Two instances on one Redis, the good pack active on both. */
async function pair(): Promise<[Instance, Instance]> {
  const p = newPrefix();
  const a = await instance(p);
  const b = await instance(p);
  return [a, b];
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

const evaluate = (i: Instance, body: object = EVENT) => request(i.app).post('/v1/evaluate').set('Authorization', api).send(body);
const decisionOn = async (i: Instance): Promise<string> => (await evaluate(i)).body.decision as string;

function putOverride(i: Instance, rule: string, body: unknown, actor?: string) {
  const r = request(i.app).put(`/v1/overrides/${rule}`).set('Authorization', admin);
  if (actor) r.set('X-Vigil-Actor', actor);
  return r.send(body as object);
}

function lastAudit(i: Instance): AuditEntry | undefined {
  return i.audit.entries[i.audit.entries.length - 1];
}

describe('overrides', () => {
  it('off on one instance silences the rule on the other within a second; DELETE lifts it everywhere', async () => {
    const [a, b] = await pair();
    expect(await decisionOn(b)).toBe('step_up');

    const set = await putOverride(a, 'no_mfa', { mode: 'off', reason: 'false positives after the SSO outage' }, 'alice');
    expect(set.status).toBe(200);
    expect(set.body.override).toMatchObject({ rule: 'no_mfa', mode: 'off', by: 'alice', expires_at: null, applies: true });
    expect(set.body.pack.hash).toBe(a.packs.current()!.meta.hash);
    expect(await decisionOn(a)).toBe('allow');
    const took = await until(() => b.packs.current()?.modes !== undefined, 1000);
    expect(took).toBeLessThan(1000);
    const live = await evaluate(b);
    expect(live.body).toMatchObject({ decision: 'allow', score: 0, rules: [], overrides: ['no_mfa'] });

    const list = await request(b.app).get('/v1/overrides').set('Authorization', admin);
    expect(list.status).toBe(200);
    expect(list.body.overrides).toEqual([
      { rule: 'no_mfa', mode: 'off', reason: 'false positives after the SSO outage', by: 'alice', set_at: expect.any(String), expires_at: null, applies: true },
    ]);
    expect(lastAudit(a)).toMatchObject({ action: 'override_set', by: 'alice', reason: 'false positives after the SSO outage', details: { rule: 'no_mfa', mode: 'off' } });

    const del = await request(b.app).delete('/v1/overrides/no_mfa').set('Authorization', admin).set('X-Vigil-Actor', 'bob').send({ reason: 'fixed' });
    expect(del.status).toBe(200);
    expect(del.body.removed).toMatchObject({ rule: 'no_mfa', mode: 'off' });
    expect(lastAudit(b)).toMatchObject({ action: 'override_clear', by: 'bob', reason: 'fixed', details: { rule: 'no_mfa' } });
    await until(() => a.packs.current()?.modes === undefined, 1000);
    const back = await evaluate(a);
    expect(back.body.decision).toBe('step_up');
    expect(back.body).not.toHaveProperty('overrides');
    expect((await request(a.app).get('/v1/overrides').set('Authorization', admin)).body).toEqual({ overrides: [] });
  });

  it('shadow reports the rule under shadow instead of rules', async () => {
    const [a] = await pair();
    expect((await putOverride(a, 'no_mfa', { mode: 'shadow', reason: 'watch it' })).status).toBe(200);
    const r = await evaluate(a);
    expect(r.body).toMatchObject({ decision: 'allow', rules: [], overrides: ['no_mfa'] });
    expect(r.body.shadow.map((h: { name: string }) => h.name)).toEqual(['no_mfa']);
    // another rule, untouched
    expect((await evaluate(a, { ...EVENT, ip: '203.0.113.9' })).body).toMatchObject({ decision: 'block', overrides: ['no_mfa'] });
  });

  it('expires after its ttl on every instance, with nobody acting', async () => {
    const [a, b] = await pair();
    const set = await putOverride(a, 'no_mfa', { mode: 'off', ttl: '1s', reason: 'one second' });
    expect(set.status).toBe(200);
    const expires = Date.parse(set.body.override.expires_at as string);
    expect(expires - Date.parse(set.body.override.set_at as string)).toBe(1000);
    await until(() => b.packs.current()?.modes !== undefined, 1000);
    expect(await decisionOn(b)).toBe('allow');
    await until(() => Date.now() > expires + 50, 2000);
    expect(await decisionOn(a)).toBe('step_up');
    expect(await decisionOn(b)).toBe('step_up');
    expect((await request(b.app).get('/v1/overrides').set('Authorization', admin)).body).toEqual({ overrides: [] });
    // An expired override is not in force: nothing to lift.
    expect((await request(a.app).delete('/v1/overrides/no_mfa').set('Authorization', admin)).status).toBe(404);
  });

  it('survives a pack change for rules the new pack keeps; lists an override of a rule it lost as not applying', async () => {
    const [a, b] = await pair();
    await putOverride(a, 'blocked_net', { mode: 'off', reason: 'r' }).expect(200);
    await putOverride(a, 'no_mfa', { mode: 'off', reason: 'r' }).expect(200);
    const v2 = MAIN.replace('version 1', 'version 2').replace(/rule blocked_net \{[\s\S]*?\n\}\n/, '').replace(/test "blocked range blocks" \{[\s\S]*?\n\}\n?/, '');
    const put = await request(a.app).put('/v1/packs/active').set('Authorization', admin).send({ files: { ...GOOD_FILES, 'main.rules': v2 } });
    expect(put.status).toBe(200);
    await until(() => b.packs.current()?.meta.version === 2, 1000);
    expect((await evaluate(b)).body).toMatchObject({ decision: 'allow', overrides: ['no_mfa'] });
    const list = (await request(b.app).get('/v1/overrides').set('Authorization', admin)).body.overrides as { rule: string; applies: boolean }[];
    expect(list.map((o) => [o.rule, o.applies])).toEqual([
      ['blocked_net', false],
      ['no_mfa', true],
    ]);
  });

  it('refuses bad input with 400, 404 or 415, never 500', async () => {
    const [a] = await pair();
    const bad: [string, unknown][] = [
      ['no reason', { mode: 'off' }],
      ['empty reason', { mode: 'off', reason: '   ' }],
      ['reason not a string', { mode: 'off', reason: 7 }],
      ['long reason', { mode: 'off', reason: 'x'.repeat(501) }],
      ['unknown mode', { mode: 'enforce', reason: 'r' }],
      ['no mode', { reason: 'r' }],
      ['bad ttl', { mode: 'off', ttl: '5x', reason: 'r' }],
      ['zero ttl', { mode: 'off', ttl: '0s', reason: 'r' }],
      ['ttl too long', { mode: 'off', ttl: '31d', reason: 'r' }],
      ['ttl a number', { mode: 'off', ttl: 30, reason: 'r' }],
      ['an array', [{ mode: 'off', reason: 'r' }]],
    ];
    for (const [what, body] of bad) {
      const res = await putOverride(a, 'no_mfa', body);
      expect([what, res.status, errorCode(res.body)]).toEqual([what, 400, 'invalid_request']);
    }
    const notJson = await request(a.app).put('/v1/overrides/no_mfa').set('Authorization', admin).set('Content-Type', 'application/json').send('{"mode":');
    expect([notJson.status, errorCode(notJson.body)]).toEqual([400, 'invalid_request']);
    const text = await request(a.app).put('/v1/overrides/no_mfa').set('Authorization', admin).set('Content-Type', 'text/plain').send('off');
    expect(text.status).toBe(415);
    for (const rule of ['nonexistent', 'Not-A-Rule', 'a'.repeat(200), '%E2%9C%93']) {
      const res = await putOverride(a, rule, { mode: 'off', reason: 'r' });
      expect([rule, res.status, errorCode(res.body)]).toEqual([rule, 404, 'not_found']);
    }
    expect((await request(a.app).delete('/v1/overrides/no_mfa').set('Authorization', admin)).status).toBe(404);
    expect((await request(a.app).delete('/v1/overrides/Bad-Name').set('Authorization', admin)).status).toBe(404);
    await putOverride(a, 'no_mfa', { mode: 'off', reason: 'r' }).expect(200);
    const badDelete = await request(a.app).delete('/v1/overrides/no_mfa').set('Authorization', admin).send({ reason: 3 });
    expect([badDelete.status, errorCode(badDelete.body)]).toEqual([400, 'invalid_request']);
    expect((await putOverride(a, 'no_mfa', { mode: 'off', reason: 'r' }, 'bad actor!')).status).toBe(400);
    expect((await request(a.app).get('/v1/overrides')).status).toBe(401);
    expect((await request(a.app).put('/v1/overrides/no_mfa').send({ mode: 'off', reason: 'r' })).status).toBe(401);
    // none of the refusals changed anything
    expect(a.audit.entries.filter((e) => e.action === 'override_set')).toHaveLength(1);
  });
});

const SHADOW_MAIN = `pack api_test version 2

list vip_users: string = redis "LIST_KEY"

rule blocked_net {
  when ip.address in ["203.0.113.0/24"]
  then block
}

rule vip_watch {
  when user.id in vip_users
  then block
}

rule no_mfa_strict {
  when user.mfa == false
  then block
  score 50
}
`;

describe('the shadow pack', () => {
  it('set on one instance, runs on the other within a second and on a new one from its start; the report counts both', async () => {
    const p = newPrefix();
    const a = await instance(p);
    const b = await instance(p);
    const listKey = `${p}:vips`;
    await admin$.sadd(listKey, 'u-vip');
    const files = { 'main.rules': SHADOW_MAIN.replace('LIST_KEY', listKey) };

    const before = await evaluate(b);
    const put = await request(a.app).put('/v1/packs/shadow?reason=try%20strict%20MFA').set('Authorization', admin).set('X-Vigil-Actor', 'carol').send({ files });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ status: 'set', shadow: { name: 'api_test', version: 2, by: 'carol' }, active: { version: 1 } });
    const shadowHash = put.body.shadow.hash as string;
    expect(lastAudit(a)).toMatchObject({ action: 'pack_shadow_set', by: 'carol', reason: 'try strict MFA', details: { hash: shadowHash } });
    // the active pack did not change
    expect(a.packs.current()!.meta.version).toBe(1);
    const took = await until(() => b.packs.shadow()?.meta.hash === shadowHash, 1000);
    expect(took).toBeLessThan(1000);
    const c = await instance(p);
    expect(c.packs.shadow()?.meta.hash).toBe(shadowHash);

    // The answer is what it was: the shadow pack never changes it.
    const after = await evaluate(b);
    const strip = ({ decision_id: _, ...rest }: Record<string, unknown>) => rest;
    expect(strip(after.body)).toEqual(strip(before.body));
    const vip = await evaluate(c, { ...EVENT, user: { id: 'u-vip', mfa: true } });
    expect(vip.body.decision).toBe('allow');
    const blocked = await evaluate(a, { ...EVENT, ip: '203.0.113.9' });
    expect(blocked.body.decision).toBe('block');

    const list = await request(a.app).get('/v1/packs').set('Authorization', admin);
    expect(list.body.shadow).toMatchObject({ hash: shadowHash, by: 'carol' });

    const report = await until(async () => {
      const r = await request(a.app).get('/v1/packs/shadow/report').set('Authorization', admin);
      return r.body.events === 3;
    }, 2000);
    expect(report).toBeLessThan(2000);
    const r = await request(a.app).get('/v1/packs/shadow/report').set('Authorization', admin);
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['active', 'events', 'matrix', 'rules', 'samples', 'shadow', 'since']);
    expect(r.body).toMatchObject({ active: a.packs.current()!.meta.hash, shadow: shadowHash, events: 3 });
    expect(r.body.since).toBe(new Date(Math.floor(Date.parse(put.body.shadow.activated_at as string) / 60_000) * 60_000).toISOString());
    expect(r.body.matrix).toEqual({
      allow: { allow: 0, step_up: 0, block: 1 },
      step_up: { allow: 0, step_up: 0, block: 1 },
      block: { allow: 0, step_up: 0, block: 1 },
    });
    expect(r.body.rules).toEqual({ live: { blocked_net: 1, no_mfa: 2 }, shadow: { blocked_net: 1, no_mfa_strict: 2, vip_watch: 1 } });
    expect(r.body.samples).toEqual({
      'allow>step_up': [],
      'allow>block': [vip.body.decision_id],
      'step_up>allow': [],
      'step_up>block': [after.body.decision_id],
      'block>allow': [],
      'block>step_up': [],
    });
    const later = await request(a.app).get(`/v1/packs/shadow/report?since=${encodeURIComponent(new Date(Date.now() + 120_000).toISOString())}`).set('Authorization', admin);
    expect([later.status, later.body.events]).toEqual([200, 0]);

    const del = await request(b.app).delete('/v1/packs/shadow').set('Authorization', admin).send({ reason: 'done' });
    expect(del.status).toBe(200);
    expect(del.body).toMatchObject({ status: 'cleared', shadow: { hash: shadowHash } });
    expect(lastAudit(b)).toMatchObject({ action: 'pack_shadow_clear', reason: 'done', details: { hash: shadowHash } });
    await until(() => a.packs.shadow() === null && c.packs.shadow() === null, 1000);
    expect(a.packs.current()!.shadow).toBeUndefined();
    expect((await request(a.app).get('/v1/packs/shadow/report').set('Authorization', admin)).status).toBe(404);
  });

  it('the same checks as the active pack; bad input is a 4xx, never a 500', async () => {
    const [a] = await pair();
    const put = (body: string | object, query = '') => {
      const r = request(a.app).put(`/v1/packs/shadow${query}`).set('Authorization', admin);
      return typeof body === 'string' ? r.set('Content-Type', 'text/plain').send(body) : r.send(body);
    };
    const broken = await put('pack x version 1\nrule r { when geo.contry == "BR" then block }\n');
    expect([broken.status, errorCode(broken.body)]).toEqual([422, 'pack_rejected']);
    expect(broken.body.error.details.diagnostics[0].code).toBe('E_UNKNOWN_NAME');
    const failing = await put('pack x version 1\nrule r { when user.mfa == false then step_up }\ntest "t" { event login given { user.mfa: false } expect block }\n');
    expect([failing.status, failing.body.error.details.tests.failed]).toEqual([422, 1]);
    expect((await put({ files: { 'main.rules': 'pack x version 1\nrule r { when true score 1 }\n' } }, '?force=1&reason=x')).status).toBe(400);
    expect((await put({ files: { 'main.rules': 'pack x version 1\nrule r { when true score 1 }\n' } }, '?what=1')).status).toBe(400);
    expect((await put({ nope: 1 })).status).toBe(400);
    expect((await put('  ')).status).toBe(400);
    expect((await request(a.app).put('/v1/packs/shadow').set('Authorization', admin).set('Content-Type', 'application/xml').send('<x/>')).status).toBe(415);
    expect(a.packs.shadow()).toBeNull();
    expect(a.audit.entries.filter((e) => e.action === 'pack_shadow_set')).toEqual([]);

    expect((await request(a.app).delete('/v1/packs/shadow').set('Authorization', admin)).status).toBe(404);
    expect((await request(a.app).get('/v1/packs/shadow/report').set('Authorization', admin)).status).toBe(404);
    await put({ files: { 'main.rules': 'pack x version 1\nrule r { when true score 1 }\n' } }).expect(200);
    const again = await put({ files: { 'main.rules': 'pack x version 1\nrule r { when true score 1 }\n' } });
    expect(again.body.status).toBe('unchanged');
    for (const q of ['?since=yesterday', '?since=2026-13-01T00:00:00Z', '?since=1&since=2', '?until=2026-01-01T00:00:00Z']) {
      const res = await request(a.app).get(`/v1/packs/shadow/report${q}`).set('Authorization', admin);
      expect([q, res.status, errorCode(res.body)]).toEqual([q, 400, 'invalid_request']);
    }
    const badDelete = await request(a.app).delete('/v1/packs/shadow').set('Authorization', admin).send({ reason: '' });
    expect(badDelete.status).toBe(400);
    expect((await request(a.app).get('/v1/packs/shadow/report')).status).toBe(401);
    expect(a.packs.shadow()).not.toBeNull();
  });
});

describe('forced activation', () => {
  const FAILING = `pack api_test version 5

rule no_mfa {
  when user.mfa == false
  then step_up
}

test "expects the wrong thing" {
  event login
  given { user.mfa: false }
  expect block
}
`;

  it('activates a pack whose own tests fail, audited as forced; every instance follows', async () => {
    const [a, b] = await pair();
    const refused = await request(a.app).put('/v1/packs/active').set('Authorization', admin).set('Content-Type', 'text/plain').send(FAILING);
    expect(refused.status).toBe(422);
    const forced = await request(a.app)
      .put('/v1/packs/active?force=1&reason=the%20test%20is%20wrong')
      .set('Authorization', admin)
      .set('X-Vigil-Actor', 'dave')
      .set('Content-Type', 'text/plain')
      .send(FAILING);
    expect(forced.status).toBe(200);
    expect(forced.body).toMatchObject({ status: 'activated', active: { version: 5, forced: true, by: 'dave' }, tests: { failed: 1 } });
    expect(lastAudit(a)).toMatchObject({
      action: 'pack_activate',
      by: 'dave',
      reason: 'the test is wrong',
      details: { forced: true, tests_failed: 1, hash: forced.body.active.hash },
    });
    await until(() => b.packs.current()?.meta.version === 5, 1000);
    expect(b.packs.current()!.meta.forced).toBe(true);
    const list = await request(b.app).get('/v1/packs').set('Authorization', admin);
    expect(list.body.active).toMatchObject({ version: 5, forced: true });
  });

  it('never past an error; a reason is required; a bad flag is a 400', async () => {
    const [a] = await pair();
    const broken = await request(a.app)
      .put('/v1/packs/active?force=1&reason=x')
      .set('Authorization', admin)
      .set('Content-Type', 'text/plain')
      .send('pack api_test version 6\nrule r { when geo.contry == "BR" then block }\n');
    expect([broken.status, errorCode(broken.body)]).toEqual([422, 'pack_rejected']);
    for (const q of ['?force=1', '?force=yes&reason=x', '?force=1&reason=', '?force=1&force=1&reason=x']) {
      const res = await request(a.app).put(`/v1/packs/active${q}`).set('Authorization', admin).set('Content-Type', 'text/plain').send(FAILING);
      expect([q, res.status, errorCode(res.body)]).toEqual([q, 400, 'invalid_request']);
    }
    expect(a.packs.current()!.meta.version).toBe(1);
    // force on a pack whose tests pass: an ordinary activation
    const ok = await request(a.app)
      .put('/v1/packs/active?force=1&reason=routine')
      .set('Authorization', admin)
      .send({ files: { ...GOOD_FILES, 'main.rules': MAIN.replace('version 1', 'version 7') } });
    expect(ok.status).toBe(200);
    expect(ok.body.active.forced).toBeUndefined();
    expect(lastAudit(a)).toMatchObject({ action: 'pack_activate', reason: 'routine', details: { forced: false } });
  });
});
