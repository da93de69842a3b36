// DELETE /v1/counters (a false positive's undo) through the real engine on a real Redis, with two
// instances: failures reported through one, the undo through the other, the next sign-in allowed
// again; the raw address and user id never reach a log or the audit. GET /v1/audit (filters,
// refusals) and the erasure's audit entry. Redis must answer: these tests fail without it.
import request from 'supertest';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryAudit } from '../../engine/audit.ts';
import { requireRedis } from '../helpers/redis.ts';
import { errorCode, testApp } from './helpers.ts';
import { admin, deployment, type Deployment, type Instance } from './live-helpers.ts';

beforeAll(async () => {
  await requireRedis();
});

let dep: Deployment;
let a: Instance;
let b: Instance;
beforeEach(async () => {
  dep = await deployment('counters-api');
  a = await dep.instance({ audit: createMemoryAudit() });
  b = await dep.instance();
});
afterEach(async () => {
  await dep.close();
});

const USER = 'victim-7f3a@example.com';
const IP = '192.0.2.77';
const signIn = async (i: Instance): Promise<{ id: string; decision: string; rules: string[] }> => {
  const res = await request(i.app).post('/v1/evaluate').send({ type: 'login', user: { id: USER, mfa: true }, ip: IP });
  expect(res.status).toBe(200);
  return { id: res.body.decision_id, decision: res.body.decision, rules: res.body.rules.map((r: { name: string }) => r.name) };
};
const clear = (i: Instance, body: unknown) => request(i.app).delete('/v1/counters').set('Authorization', admin).send(body as object);

describe('DELETE /v1/counters', () => {
  it('undoes a velocity block: cleared through one instance, the next sign-in through the other is allowed', async () => {
    for (let n = 0; n < 3; n++) {
      const { id } = await signIn(a);
      expect((await request(a.app).post('/v1/outcome').send({ decision_id: id, outcome: 'failed' })).status).toBe(204);
    }
    expect(await signIn(a)).toMatchObject({ decision: 'block', rules: ['ip_burst', 'subnet_burst', 'user_failures'] });

    // The address: its own counters; the /24's stays (others share it) unless asked for.
    const ip = await clear(b, { ip: IP, reason: 'office NAT, ticket 77' });
    expect(ip.status).toBe(200);
    expect(ip.body).toEqual({ cleared: 2 });
    expect(await signIn(a)).toMatchObject({ decision: 'step_up', rules: ['subnet_burst', 'user_failures'] });

    // A login-only user has no recovery counter: failures and distinct addresses.
    expect((await clear(b, { user: USER })).body).toEqual({ cleared: 2 });
    expect(await signIn(a)).toMatchObject({ decision: 'step_up', rules: ['subnet_burst'] });

    expect((await clear(a, { ip: `::ffff:${IP}`, subnet: true })).body).toEqual({ cleared: 2 });
    expect(await signIn(b)).toMatchObject({ decision: 'allow', rules: [] });

    // Nothing left to clear is not an error.
    expect((await clear(a, { ip: '198.51.100.1', user: 'nobody' })).body).toEqual({ cleared: 0 });
  });

  it('audits which kinds and how many keys, never the address or the user id; logs neither', async () => {
    await signIn(a);
    await clear(a, { ip: IP, user: USER, reason: 'false positive' }).expect(200);
    const audit = await request(a.app).get('/v1/audit?action=counters_clear').set('Authorization', admin);
    expect(audit.body.entries).toEqual([
      { at: '2026-11-24T18:00:00.000Z', by: 'admin', action: 'counters_clear', reason: 'false positive', details: { ip: true, subnet: false, user: true, keys: 2 } },
    ]);
    const text = JSON.stringify(audit.body) + JSON.stringify(a.logs.lines);
    expect(text).not.toContain(IP);
    expect(text).not.toContain(USER);
    expect(a.logs.lines.some((l) => l.audit === true && l.action === 'counters_clear')).toBe(true);
  });

  it('refuses (400) a body with neither ip nor user, a bad address or user, subnet without ip, a non-object', async () => {
    const bodies: unknown[] = [
      {},
      { ip: null, user: null },
      { ip: 'localhost' },
      { ip: '192.0.2.0/24' },
      { ip: 42 },
      { user: '' },
      { user: 'x'.repeat(257) },
      { user: 'u', subnet: true },
      { ip: IP, subnet: 'yes' },
      { ip: IP, reason: '' },
      ['192.0.2.1'],
    ];
    for (const body of bodies) {
      const res = await clear(a, body);
      expect([res.status, errorCode(res.body)], JSON.stringify(body)).toEqual([400, 'invalid_request']);
    }
    const bad = await clear(a, { ip: 'nope' });
    expect(bad.body.error.details.map((d: { path: string }) => d.path)).toEqual(['ip']);
    const sub = await clear(a, { user: 'u', subnet: true });
    expect(sub.body.error.details.map((d: { path: string }) => d.path)).toEqual(['subnet']);
    const json = await request(a.app).delete('/v1/counters').set('Authorization', admin).set('Content-Type', 'application/json').send('{"ip":');
    expect([json.status, errorCode(json.body)]).toEqual([400, 'invalid_request']);
    expect((await request(a.app).delete('/v1/counters').send({ ip: IP })).status).toBe(401);
    const closed = await dep.instance({ adminToken: undefined });
    expect((await request(closed.app).delete('/v1/counters').send({ ip: IP })).status).toBe(404);
  });
});

describe('GET /v1/audit', () => {
  it('lists admin changes newest first, filtered by since and action', async () => {
    const t = await testApp();
    await request(t.app).delete('/v1/users/alice%40example.com/history').set('Authorization', admin).set('X-Vigil-Actor', 'dpo').expect(200);
    await request(t.app).delete('/v1/counters').set('Authorization', admin).send({ user: 'alice@example.com' }).expect(200);
    expect(t.engine.cleared).toEqual([{ user: 'alice@example.com' }]);

    const all = await request(t.app).get('/v1/audit').set('Authorization', admin);
    expect(all.status).toBe(200);
    // The pack manager shares the log: the start's activation is there too.
    expect(all.body.entries.map((e: { action: string }) => e.action).sort()).toEqual(['counters_clear', 'pack_activate', 'user_erase']);
    const erase = await request(t.app).get('/v1/audit?action=user_erase&since=2026-11-24T17:00:00Z').set('Authorization', admin);
    // The default audit of createApp: an in-process log.
    expect(erase.body).toEqual({ entries: [{ at: '2026-11-24T18:00:00.000Z', by: 'dpo', action: 'user_erase', details: { keys: 3, decisions: 2 } }] });
    expect(JSON.stringify(all.body)).not.toContain('alice');
    expect((await request(t.app).get('/v1/audit?since=2026-11-24T18:00:01Z').set('Authorization', admin)).body).toEqual({ entries: [] });
    expect((await request(t.app).get('/v1/audit?since=1h&limit=1').set('Authorization', admin)).body.entries).toHaveLength(1);
  });

  it('refuses (400, naming the parameter) a bad since, action or limit, and unknown or repeated parameters', async () => {
    const t = await testApp();
    for (const [q, path] of [
      ['since=yesterday', 'since'],
      ['since=2026-11-24', 'since'],
      ['action=list_add_all', 'action'],
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['action=list_add&action=list_remove', 'action'],
      ['user=alice', ''],
    ] as const) {
      const res = await request(t.app).get(`/v1/audit?${q}`).set('Authorization', admin);
      expect([res.status, errorCode(res.body)], q).toEqual([400, 'invalid_request']);
      if (path !== '') expect(res.body.error.details.map((d: { path: string }) => d.path), q).toContain(path);
    }
    expect((await request(t.app).get('/v1/audit')).status).toBe(401);
    const closed = await testApp({ adminToken: undefined });
    expect((await request(closed.app).get('/v1/audit')).status).toBe(404);
  });
});
