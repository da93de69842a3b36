// GET/POST/DELETE /v1/lists/:name through the real engine, the real Redis store and the real app:
// two instances on one Redis (a change made through one decides the other's next evaluation), CIDR
// ranges, expiry without anyone acting, every kind, the audit entries (counts, never entries), and
// every refusal (never a 500). Redis must answer: these tests fail without it.
import request from 'supertest';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryAudit } from '../../engine/audit.ts';
import { LIST_LIMITS } from '../../features/store/lists.ts';
import { requireRedis, startRedisServer } from '../helpers/redis.ts';
import { errorCode } from './helpers.ts';
import { admin, deployment, type Deployment, type Instance } from './live-helpers.ts';

beforeAll(async () => {
  await requireRedis();
});

let dep: Deployment;
let a: Instance;
let b: Instance;
beforeEach(async () => {
  dep = await deployment('lists-api');
  a = await dep.instance({ audit: createMemoryAudit() });
  b = await dep.instance();
});
afterEach(async () => {
  await dep.close();
});

const url = (name: string): string => `/v1/lists/${encodeURIComponent(name)}`;
const evaluate = (i: Instance, over: Record<string, unknown> = {}) =>
  request(i.app)
    .post('/v1/evaluate')
    .send({ type: 'login', user: { id: 'u-ok', mfa: true }, ip: '192.0.2.10', ...over });
const decisionOf = async (i: Instance, over: Record<string, unknown> = {}): Promise<{ decision: string; rules: string[] }> => {
  const res = await evaluate(i, over);
  expect(res.status).toBe(200);
  expect(res.body.degraded).toBe(false);
  return { decision: res.body.decision as string, rules: (res.body.rules as { name: string }[]).map((r) => r.name) };
};

describe('live lists across instances', () => {
  it('a range added through one instance blocks every address in it on the other at once; removing it unblocks', async () => {
    const add = await request(a.app)
      .post(url(dep.names.ips))
      .set('Authorization', admin)
      .set('X-Vigil-Actor', 'oncall@example.com')
      .send({ entries: ['203.0.113.0/24', '2001:DB8:7::/48', '198.51.100.7/32'], reason: 'incident 42' });
    expect(add.status).toBe(200);
    expect(add.body).toEqual({
      name: dep.names.ips,
      kind: 'ip',
      entries: [{ value: '198.51.100.7' }, { value: '2001:db8:7::/48' }, { value: '203.0.113.0/24' }],
    });
    for (const ip of ['203.0.113.1', '203.0.113.254', '2001:db8:7:1::5', '198.51.100.7', '::ffff:203.0.113.9']) {
      expect(await decisionOf(b, { ip })).toEqual({ decision: 'block', rules: ['blocked_ip'] });
    }
    for (const ip of ['203.0.114.1', '2001:db8:8::1', '198.51.100.8']) expect((await decisionOf(b, { ip })).decision).toBe('allow');

    const got = await request(b.app).get(url(dep.names.ips)).set('Authorization', admin);
    expect(got.status).toBe(200);
    expect(got.body).toEqual(add.body);

    const del = await request(b.app).delete(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['203.0.113.0/24'], reason: 'resolved' });
    expect(del.status).toBe(200);
    expect(del.body.entries).toEqual([{ value: '198.51.100.7' }, { value: '2001:db8:7::/48' }]);
    expect((await decisionOf(a, { ip: '203.0.113.1' })).decision).toBe('allow');
  });

  it('an entry with a ttl stops matching by itself within about a second, on every instance', async () => {
    const t0 = Date.now();
    const add = await request(a.app).post(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['198.51.100.0/24'], ttl: '1s' });
    expect(add.status).toBe(200);
    const [entry] = add.body.entries as { value: string; expires_at: string }[];
    expect(entry?.value).toBe('198.51.100.0/24');
    const exp = Date.parse(entry?.expires_at ?? '');
    expect(exp).toBeGreaterThanOrEqual(t0 + 1000);
    expect(exp).toBeLessThanOrEqual(Date.now() + 1000);
    expect((await decisionOf(b, { ip: '198.51.100.20' })).decision).toBe('block');
    // Nobody acts: the sweepers remove it. Past its expiry, it must be gone within about a second.
    let allowedAt = 0;
    while (Date.now() < exp + 3000) {
      if ((await decisionOf(b, { ip: '198.51.100.20' })).decision === 'allow') {
        allowedAt = Date.now();
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(allowedAt).toBeGreaterThan(0);
    expect(allowedAt - exp).toBeLessThan(1200);
    expect((await request(a.app).get(url(dep.names.ips)).set('Authorization', admin)).body.entries).toEqual([]);
    expect(await dep.redis.exists(dep.names.ips, `${dep.names.ips}:expires`)).toBe(0);
  });

  it('the last add decides an entry\'s expiry: re-added without a ttl it stays', async () => {
    await request(a.app).post(url(dep.names.users)).set('Authorization', admin).send({ entries: ['u-evil'], ttl: '1s' }).expect(200);
    const again = await request(b.app).post(url(dep.names.users)).set('Authorization', admin).send({ entries: ['u-evil'] });
    expect(again.body.entries).toEqual([{ value: 'u-evil' }]);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await decisionOf(a, { user: { id: 'u-evil', mfa: true } })).decision).toBe('block');
  });

  it('string and number lists match exactly; a declared list no rule reads is managed too', async () => {
    await request(a.app).post(url(dep.names.users)).set('Authorization', admin).send({ entries: ['u-evil', 'ünï cødé'] }).expect(200);
    expect(await decisionOf(b, { user: { id: 'u-evil', mfa: true } })).toEqual({ decision: 'block', rules: ['blocked_user'] });
    expect(await decisionOf(b, { user: { id: 'ünï cødé', mfa: true } })).toEqual({ decision: 'block', rules: ['blocked_user'] });
    expect((await decisionOf(b, { user: { id: 'u-evil2', mfa: true } })).decision).toBe('allow');

    const hours = await request(a.app).post(url(dep.names.hours)).set('Authorization', admin).send({ entries: [18, '3'] });
    expect(hours.body).toEqual({ name: dep.names.hours, kind: 'number', entries: [{ value: '18' }, { value: '3' }] });
    expect(await decisionOf(b)).toEqual({ decision: 'step_up', rules: ['quiet_hour'] });

    const spare = await request(b.app).post(url(dep.names.spare)).set('Authorization', admin).send({ entries: ['x'] });
    expect(spare.status).toBe(200);
    expect(spare.body).toEqual({ name: dep.names.spare, kind: 'string', entries: [{ value: 'x' }] });
  });

  it('an operator’s own SADD entries keep working and can be removed in the spelling they were given', async () => {
    await dep.redis.sadd(dep.names.ips, '192.0.2.0/24', '198.51.100.9/32');
    expect((await decisionOf(a, { ip: '192.0.2.77' })).decision).toBe('block');
    expect((await decisionOf(a, { ip: '198.51.100.9' })).decision).toBe('block');
    const del = await request(a.app).delete(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['198.51.100.9/32'] });
    expect(del.body.entries).toEqual([{ value: '192.0.2.0/24' }]);
    expect((await decisionOf(a, { ip: '198.51.100.9' })).decision).toBe('allow');
  });

  it('audits every change with the actor, the reason and counts, never the entries', async () => {
    await request(a.app)
      .post(url(dep.names.ips))
      .set('Authorization', admin)
      .set('X-Vigil-Actor', 'oncall')
      .send({ entries: ['203.0.113.0/24', '198.51.100.7'], ttl: '2h', reason: 'incident 42' })
      .expect(200);
    await request(a.app).post(url(dep.names.users)).set('Authorization', admin).send({ entries: ['victim-user-9f2'] }).expect(200);
    await request(a.app).delete(url(dep.names.users)).set('Authorization', admin).send({ entries: ['victim-user-9f2', 'nobody'] }).expect(200);

    const res = await request(a.app).get('/v1/audit').set('Authorization', admin);
    expect(res.status).toBe(200);
    const entries = res.body.entries as { at: string; by: string; action: string; reason?: string; details: Record<string, unknown> }[];
    expect(entries.map((e) => e.action).sort()).toEqual(['list_add', 'list_add', 'list_remove']);
    expect(entries.find((e) => e.reason === 'incident 42')).toMatchObject({
      by: 'oncall',
      action: 'list_add',
      at: '2026-11-24T18:00:00.000Z',
      details: { list: dep.names.ips, kind: 'ip', entries: 2, added: 2, size: 2, ttl_s: 7200 },
    });
    expect(entries.find((e) => e.action === 'list_remove')).toMatchObject({ by: 'admin', details: { list: dep.names.users, entries: 2, removed: 1 } });
    const text = JSON.stringify(res.body) + JSON.stringify(a.logs.lines);
    for (const raw of ['203.0.113.0', '198.51.100.7', 'victim-user-9f2']) expect(text).not.toContain(raw);
    expect(a.logs.lines.filter((l) => l.audit === true && l.action === 'list_add')).toHaveLength(2);
  });
});

describe('refusals (never a 500)', () => {
  const post = (name: string, body: unknown) => request(a.app).post(url(name)).set('Authorization', admin).send(body as object);

  it('a list the active pack does not declare is 404, for every method', async () => {
    for (const name of ['nope', `${dep.prefix}{lists}:nope`, 'x'.repeat(600)]) {
      expect(errorCode((await request(a.app).get(url(name)).set('Authorization', admin)).body)).toBe('not_found');
      const p = await post(name, { entries: ['1.2.3.4'] });
      expect([p.status, errorCode(p.body)]).toEqual([404, 'not_found']);
      const d = await request(a.app).delete(url(name)).set('Authorization', admin).send({ entries: ['1.2.3.4'] });
      expect([d.status, errorCode(d.body)]).toEqual([404, 'not_found']);
    }
  });

  it('a bool list is not managed here (409)', async () => {
    const res = await post(dep.names.flags, { entries: [true] });
    expect([res.status, errorCode(res.body)]).toEqual([409, 'conflict']);
    expect(res.body.error.message).toMatch(/bool/);
  });

  it('an entry of the wrong kind is 422 naming each bad entry, and nothing is added', async () => {
    const res = await post(dep.names.ips, { entries: ['203.0.113.0/24', '203.0.113.7/24', 'not-an-ip', 7, '10.0.0.0/7'] });
    expect([res.status, errorCode(res.body)]).toEqual([422, 'invalid_entry']);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual(['entries.1', 'entries.2', 'entries.3', 'entries.4']);
    expect(res.body.error.details[0]).toMatchObject({ code: 'invalid_entry', message: expect.stringMatching(/host bits.*203\.0\.113\.0\/24/) });
    expect(res.body.error.message).toMatch(/^entries\.1 /);
    expect((await request(a.app).get(url(dep.names.ips)).set('Authorization', admin)).body.entries).toEqual([]);

    const num = await post(dep.names.hours, { entries: ['eighteen'] });
    expect([num.status, num.body.error.details[0].path]).toEqual([422, 'entries.0']);
    const str = await post(dep.names.users, { entries: ['ok', ''] });
    expect([str.status, str.body.error.details[0].path]).toEqual([422, 'entries.1']);
    const del = await request(a.app).delete(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['nope'] });
    expect([del.status, errorCode(del.body)]).toEqual([422, 'invalid_entry']);
  });

  it('more entries than one request may carry is 400; a list past its bound is 409 and nothing is added', async () => {
    const many = await post(dep.names.users, { entries: Array.from({ length: LIST_LIMITS.maxPerRequest + 1 }, (_, i) => `u${i}`) });
    expect([many.status, errorCode(many.body), many.body.error.details[0].path]).toEqual([400, 'invalid_request', 'entries']);

    const fill = Array.from({ length: LIST_LIMITS.maxEntries - 1 }, (_, i) => `f${i}`);
    for (let i = 0; i < fill.length; i += 10_000) await dep.redis.sadd(dep.names.users, ...fill.slice(i, i + 10_000));
    expect((await post(dep.names.users, { entries: ['last'] })).status).toBe(200);
    const full = await post(dep.names.users, { entries: ['one-more', 'last'] });
    expect([full.status, errorCode(full.body)]).toEqual([409, 'conflict']);
    expect(full.body.error.message).toContain(String(LIST_LIMITS.maxEntries));
    expect(await dep.redis.sismember(dep.names.users, 'one-more')).toBe(0);
    // Entries it already holds can still be re-added (to change their expiry).
    expect((await post(dep.names.users, { entries: ['last'], ttl: '1h' })).status).toBe(200);
  });

  it('a bad ttl is 400 naming ttl; so is a ttl on a list whose name cannot hold expiries', async () => {
    for (const ttl of ['2 hours', '0s', '500ms', '366d', '', 7200, true]) {
      const res = await post(dep.names.ips, { entries: ['203.0.113.0/24'], ttl });
      expect([res.status, errorCode(res.body), res.body.error.details[0].path], JSON.stringify(ttl)).toEqual([400, 'invalid_request', 'ttl']);
    }
    const odd = await post(dep.names.odd, { entries: ['d-1'], ttl: '2h' });
    expect([odd.status, odd.body.error.details[0].path]).toEqual([400, 'ttl']);
    expect((await post(dep.names.odd, { entries: ['d-1'] })).status).toBe(200);
    expect((await decisionOf(b, { device: { id: 'd-1' } })).rules).toEqual(['odd_device']);
  });

  it('a malformed body is 400: missing or empty entries, not an array, not an object, bad JSON, bad reason', async () => {
    for (const body of [{}, { entries: [] }, { entries: 'x' }, { entries: null }, [['1.2.3.4']], { entries: ['1.2.3.4'], reason: '' }, { entries: ['1.2.3.4'], reason: 'r'.repeat(501) }]) {
      const res = await post(dep.names.ips, body);
      expect([res.status, errorCode(res.body)], JSON.stringify(body)).toEqual([400, 'invalid_request']);
    }
    const json = await request(a.app).post(url(dep.names.ips)).set('Authorization', admin).set('Content-Type', 'application/json').send('{"entries": [');
    expect([json.status, errorCode(json.body)]).toEqual([400, 'invalid_request']);
    const bare = await request(a.app).post(url(dep.names.ips)).set('Authorization', admin).set('Content-Type', 'application/json').send('"1.2.3.4"');
    expect([bare.status, errorCode(bare.body)]).toEqual([400, 'invalid_request']);
    const text = await request(a.app).post(url(dep.names.ips)).set('Authorization', admin).set('Content-Type', 'text/plain').send('1.2.3.4');
    expect([text.status, errorCode(text.body)]).toEqual([415, 'unsupported_media_type']);
    const del = await request(a.app).delete(url(dep.names.ips)).set('Authorization', admin).send({ entries: [] });
    expect([del.status, errorCode(del.body)]).toEqual([400, 'invalid_request']);
  });

  it('needs the admin token; a bad actor is 400; without VIGIL_ADMIN_TOKEN the routes do not exist', async () => {
    expect((await request(a.app).get(url(dep.names.ips))).status).toBe(401);
    expect((await request(a.app).post(url(dep.names.ips)).set('Authorization', 'Bearer wrong').send({ entries: ['1.2.3.4'] })).status).toBe(401);
    const actor = await request(a.app).post(url(dep.names.ips)).set('Authorization', admin).set('X-Vigil-Actor', 'bad actor!').send({ entries: ['1.2.3.4'] });
    expect([actor.status, errorCode(actor.body)]).toEqual([400, 'invalid_request']);
    const closed = await dep.instance({ adminToken: undefined });
    expect((await request(closed.app).get(url(dep.names.ips))).status).toBe(404);
  });

  it('a list key someone filled with another Redis type is 409, and the store stays available', async () => {
    await dep.redis.set(dep.names.users, 'not a set');
    const res = await request(a.app).get(url(dep.names.users)).set('Authorization', admin);
    expect([res.status, errorCode(res.body)]).toEqual([409, 'conflict']);
    expect(res.body.error.message).toMatch(/set/);
    expect((await post(dep.names.users, { entries: ['x'] })).status).toBe(409);
    expect((await request(a.app).get('/readyz')).status).toBe(200);
  });
});

describe('Redis down', () => {
  it('the list and counter routes answer 503, never 500; the sweeper logs once and carries on', async () => {
    const server = await startRedisServer();
    try {
      const d = await dep.instance({ redisUrl: server.url });
      await request(d.app).post(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['203.0.113.0/24'] }).expect(200);
      await server.kill();
      const get = await request(d.app).get(url(dep.names.ips)).set('Authorization', admin);
      expect([get.status, errorCode(get.body)]).toEqual([503, 'unavailable']);
      const post = await request(d.app).post(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['198.51.100.0/24'], ttl: '1h' });
      expect([post.status, errorCode(post.body)]).toEqual([503, 'unavailable']);
      const del = await request(d.app).delete(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['203.0.113.0/24'] });
      expect([del.status, errorCode(del.body)]).toEqual([503, 'unavailable']);
      const clear = await request(d.app).delete('/v1/counters').set('Authorization', admin).send({ ip: '203.0.113.1' });
      expect([clear.status, errorCode(clear.body)]).toEqual([503, 'unavailable']);
      // Evaluations go on, degraded; the list's rule cannot match.
      const ev = await evaluate(d, { ip: '203.0.113.1' });
      expect([ev.status, ev.body.degraded, ev.body.decision]).toEqual([200, true, 'allow']);
      await new Promise((r) => setTimeout(r, 400));
      expect(d.logs.lines.filter((l) => l.msg === 'live-list sweeper failed; expired entries stay until it works again')).toHaveLength(1);
    } finally {
      await server.stop();
    }
  });
});

describe('the in-process store', () => {
  it('serves the same routes (a single-node trial)', async () => {
    const m = await dep.instance({ memory: true });
    await request(m.app).post(url(dep.names.ips)).set('Authorization', admin).send({ entries: ['203.0.113.0/24'], ttl: '1s' }).expect(200);
    expect((await decisionOf(m, { ip: '203.0.113.5' })).decision).toBe('block');
    await new Promise((r) => setTimeout(r, 1400));
    expect((await decisionOf(m, { ip: '203.0.113.5' })).decision).toBe('allow');
    expect((await request(m.app).get(url(dep.names.ips)).set('Authorization', admin)).body.entries).toEqual([]);
  });
});
