// The HTTP API through supertest: auth, validation of every evaluate field, outcome, admin routes,
// operations routes, request ids and log hygiene, the error shape on every error, metrics.
import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, NOW, errorCode, testApp, type TestApp } from './helpers.ts';

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});

const api = `Bearer ${API_TOKEN}`;
const admin = `Bearer ${ADMIN_TOKEN}`;

function evaluate(body: unknown, auth = api) {
  return request(t.app).post('/v1/evaluate').set('Authorization', auth).send(body as object);
}

function short(v: unknown): string {
  const j = JSON.stringify(v) ?? 'undefined';
  return j.length > 24 ? `${j.slice(0, 12)}…(${j.length} chars)` : j;
}

function withField(path: string, value: unknown): Record<string, unknown> {
  const body = structuredClone(GOOD_EVENT) as Record<string, unknown>;
  const keys = path.split('.');
  let o = body;
  for (const k of keys.slice(0, -1)) o = o[k] as Record<string, unknown>;
  if (value === undefined) delete o[keys.at(-1)!];
  else o[keys.at(-1)!] = value;
  return body;
}

describe('POST /v1/evaluate', () => {
  it('answers a decision from the active pack', async () => {
    const res = await evaluate(GOOD_EVENT);
    expect(res.status).toBe(200);
    expect(res.body.decision).toBe('step_up');
    expect(res.body.score).toBe(30);
    expect(res.body.rules.map((r: { name: string }) => r.name)).toEqual(['no_mfa']);
    expect(res.body.pack.name).toBe('api_test');
    expect(res.body.pack.hash).toMatch(/^sha256:/);
    expect(typeof res.body.decision_id).toBe('string');
    expect(res.body.features).toBeUndefined();
    const ev = t.engine.events[0]!;
    expect(ev).toEqual({
      type: 'login',
      userId: 'u-123',
      userCreatedAt: Date.parse('2024-01-05T10:00:00Z'),
      mfa: false,
      ip: '81.2.69.142',
      deviceId: 'd-9f2c',
      userAgent: 'Mozilla/5.0',
      time: NOW,
    });
  });

  it('?explain=1 adds the features', async () => {
    const res = await request(t.app).post('/v1/evaluate?explain=1').set('Authorization', api).send(GOOD_EVENT);
    expect(res.status).toBe(200);
    expect(res.body.features['ip.address']).toBe('81.2.69.142');
  });

  it('needs only type, user.id and ip; time defaults to the server clock', async () => {
    const res = await evaluate({ type: 'recovery', user: { id: 'u' }, ip: '::1' });
    expect(res.status).toBe(200);
    expect(t.engine.events[0]).toEqual({ type: 'recovery', userId: 'u', ip: '::1', time: NOW });
  });

  it.each([
    ['::ffff:81.2.69.142', '81.2.69.142'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
  ])('hands the engine the canonical address: %s → %s', async (ip, canonical) => {
    expect((await evaluate({ ...GOOD_EVENT, ip })).status).toBe(200);
    expect(t.engine.events[0]!.ip).toBe(canonical);
  });

  it('ignores unknown fields at every level and treats null optionals as absent', async () => {
    const res = await evaluate({
      ...GOOD_EVENT,
      extra: { deep: [1, 2] },
      user: { id: 'u-1', mfa: null, created_at: null, nickname: 'x' },
      device: { id: null, user_agent: null, color: 'red' },
      time: null,
    });
    expect(res.status).toBe(200);
    expect(t.engine.events[0]).toEqual({ type: 'login', userId: 'u-1', ip: '81.2.69.142', time: NOW });
  });

  it('accepts a date-only created_at, an offset time, the longest fields', async () => {
    const res = await evaluate({
      ...GOOD_EVENT,
      user: { id: 'u'.repeat(256), created_at: '2024-01-05', mfa: true },
      device: { id: 'd'.repeat(256), user_agent: 'a'.repeat(1024) },
      time: '2026-11-24T19:04:00+01:00',
    });
    expect(res.status).toBe(200);
    expect(t.engine.events[0]!.time).toBe(NOW + 4 * 60_000);
  });

  it.each([
    ['type', undefined],
    ['type', 'logout'],
    ['type', 5],
    ['user', undefined],
    ['user', 'u-1'],
    ['user.id', undefined],
    ['user.id', ''],
    ['user.id', 'u'.repeat(257)],
    ['user.id', 42],
    ['user.created_at', 'yesterday'],
    ['user.created_at', '2024-02-30'],
    ['user.created_at', 1700000000],
    ['user.mfa', 'yes'],
    ['user.mfa', 1],
    ['ip', undefined],
    ['ip', '1.2.3'],
    ['ip', '127.1'],
    ['ip', '010.1.1.1'],
    ['ip', '256.0.0.1'],
    ['ip', 'fe80::1%eth0'],
    ['ip', '::g'],
    ['ip', ' 1.2.3.4'],
    ['ip', 16909060],
    ['device', 'd-1'],
    ['device.id', ''],
    ['device.id', 'd'.repeat(257)],
    ['device.user_agent', 'a'.repeat(1025)],
    ['device.user_agent', ['Mozilla']],
    ['time', 'now'],
    ['time', '2026-11-24 18:00:00'],
    ['time', '2026-11-24T18:00Z'],
    ['time', 1795000000000],
  ].map(([path, value]) => [String(path), short(value), value] as const))('%s = %s → 400 naming the field', async (path, _label, value) => {
    const res = await evaluate(withField(path, value));
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
    const paths = (res.body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toContain(path);
    expect(t.engine.events).toHaveLength(0);
  });

  it.each([
    ['2026-11-24T18:05:01Z', 400],
    ['2026-11-24T17:54:59Z', 400],
    ['2026-11-24T18:05:00Z', 200],
    ['2026-11-24T17:55:00Z', 200],
  ])('time %s against VIGIL_MAX_SKEW 5m → %i', async (time, status) => {
    const res = await evaluate({ ...GOOD_EVENT, time });
    expect(res.status).toBe(status);
    if (status === 400) expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'time', code: 'skew' })]);
  });

  it('a raised VIGIL_MAX_SKEW admits recorded traffic', async () => {
    t = await testApp({ maxSkewMs: 400 * 86_400_000 });
    const res = await evaluate({ ...GOOD_EVENT, time: '2026-01-01T00:00:00Z' });
    expect(res.status).toBe(200);
    expect(t.engine.events[0]!.time).toBe(Date.parse('2026-01-01T00:00:00Z'));
  });

  it('malformed JSON → 400', async () => {
    const res = await request(t.app)
      .post('/v1/evaluate')
      .set('Authorization', api)
      .set('Content-Type', 'application/json')
      .send('{"type": "login", ');
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.js:\d+/);
  });

  it.each([['[]'], ['"login"'], ['null'], ['42']])('a non-object body %s → 400', async (text) => {
    const res = await request(t.app).post('/v1/evaluate').set('Authorization', api).set('Content-Type', 'application/json').send(text);
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
  });

  it('no body → 400; a non-JSON Content-Type → 415', async () => {
    const none = await request(t.app).post('/v1/evaluate').set('Authorization', api);
    expect(none.status).toBe(400);
    expect(errorCode(none.body)).toBe('invalid_request');
    const text = await request(t.app).post('/v1/evaluate').set('Authorization', api).set('Content-Type', 'text/plain').send('type=login');
    expect(text.status).toBe(415);
    expect(errorCode(text.body)).toBe('unsupported_media_type');
  });

  it('bodies over 16 KB → 413; just under is fine', async () => {
    const big = { ...GOOD_EVENT, pad: 'x'.repeat(16 * 1024) };
    const res = await evaluate(big);
    expect(res.status).toBe(413);
    expect(errorCode(res.body)).toBe('payload_too_large');
    const fits = { ...GOOD_EVENT, pad: 'x'.repeat(15 * 1024) };
    expect((await evaluate(fits)).status).toBe(200);
  });

  it('503 while no pack is loaded', async () => {
    const original = t.packs.current;
    (t.packs as { current: () => null }).current = () => null;
    const res = await evaluate(GOOD_EVENT);
    (t.packs as { current: typeof original }).current = original;
    expect(res.status).toBe(503);
    expect(errorCode(res.body)).toBe('unavailable');
  });

  it('an engine failure is a 500 without internals, logged with the request id', async () => {
    t.engine.evaluate = async () => {
      throw new Error('secret internal detail');
    };
    const res = await evaluate(GOOD_EVENT).set('X-Request-Id', 'req-boom');
    expect(res.status).toBe(500);
    expect(errorCode(res.body)).toBe('internal');
    expect(JSON.stringify(res.body)).not.toContain('secret internal detail');
    expect(JSON.stringify(res.body)).not.toContain('.ts:');
    const logged = t.logs.lines.find((l) => l.msg === 'unhandled error');
    expect(logged?.req_id).toBe('req-boom');
  });
});

describe('auth', () => {
  it('evaluate and outcome need the API token when it is set', async () => {
    for (const auth of [undefined, 'Bearer nope', `Basic ${API_TOKEN}`, `Bearer ${API_TOKEN}x`, `Bearer ${ADMIN_TOKEN}`, 'Bearer']) {
      const req = request(t.app).post('/v1/evaluate');
      if (auth) req.set('Authorization', auth);
      const res = await req.send(GOOD_EVENT);
      expect(res.status).toBe(401);
      expect(errorCode(res.body)).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
      const out = await request(t.app).post('/v1/outcome').send({ decision_id: 'x', outcome: 'failed' });
      expect(out.status).toBe(401);
    }
    expect(t.engine.events).toHaveLength(0);
  });

  it('the Bearer scheme is case-insensitive', async () => {
    expect((await evaluate(GOOD_EVENT, `bearer ${API_TOKEN}`)).status).toBe(200);
  });

  it('auth is checked before the body is parsed', async () => {
    const res = await request(t.app).post('/v1/evaluate').set('Content-Type', 'application/json').send('{not json');
    expect(res.status).toBe(401);
  });

  it('evaluate is open when VIGIL_API_TOKEN is unset', async () => {
    t = await testApp({ apiToken: undefined });
    expect((await request(t.app).post('/v1/evaluate').send(GOOD_EVENT)).status).toBe(200);
  });

  const adminRoutes: [string, string][] = [
    ['get', '/v1/decisions/abc'],
    ['delete', '/v1/users/u-1/history'],
    ['post', '/v1/packs/validate'],
    ['put', '/v1/packs/active'],
    ['get', '/v1/packs'],
    ['post', '/v1/packs/rollback'],
  ];

  it.each(adminRoutes)('admin %s %s is 404 when VIGIL_ADMIN_TOKEN is unset, even with a token', async (method, path) => {
    t = await testApp({ adminToken: undefined });
    const res = await request(t.app)[method as 'get'](path).set('Authorization', admin);
    expect(res.status).toBe(404);
    expect(errorCode(res.body)).toBe('not_found');
  });

  it.each(adminRoutes)('admin %s %s needs the admin token (the API token is not enough)', async (method, path) => {
    for (const auth of [undefined, api, 'Bearer wrong']) {
      const req = request(t.app)[method as 'get'](path);
      if (auth) req.set('Authorization', auth);
      const res = await req;
      expect(res.status).toBe(401);
      expect(errorCode(res.body)).toBe('unauthorized');
    }
  });
});

describe('POST /v1/outcome', () => {
  it('204 for a known decision; the engine records the outcome', async () => {
    const id = (await evaluate(GOOD_EVENT)).body.decision_id as string;
    const res = await request(t.app).post('/v1/outcome').set('Authorization', api).send({ decision_id: id, outcome: 'challenge_passed' });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(t.engine.decisions.get(id)?.outcome).toBe('challenge_passed');
  });

  it('404 for an unknown decision id', async () => {
    const res = await request(t.app).post('/v1/outcome').set('Authorization', api).send({ decision_id: '01JUNKNOWN', outcome: 'failed' });
    expect(res.status).toBe(404);
    expect(errorCode(res.body)).toBe('not_found');
  });

  it.each([
    [{ decision_id: 'x' }, 'outcome'],
    [{ decision_id: 'x', outcome: 'won' }, 'outcome'],
    [{ outcome: 'failed' }, 'decision_id'],
    [{ decision_id: '', outcome: 'failed' }, 'decision_id'],
    [{ decision_id: 'x'.repeat(129), outcome: 'failed' }, 'decision_id'],
    [{ decision_id: 7, outcome: 'failed' }, 'decision_id'],
  ])('%j → 400 naming %s', async (body, path) => {
    const res = await request(t.app).post('/v1/outcome').set('Authorization', api).send(body);
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toContain(path);
  });
});

describe('admin: decisions and users', () => {
  it('GET /v1/decisions/:id returns the stored decision; unknown → 404', async () => {
    const id = (await evaluate(GOOD_EVENT)).body.decision_id as string;
    const res = await request(t.app).get(`/v1/decisions/${id}`).set('Authorization', admin);
    expect(res.status).toBe(200);
    expect(res.body.decision_id).toBe(id);
    expect(res.body.result.decision).toBe('step_up');
    const missing = await request(t.app).get('/v1/decisions/nope').set('Authorization', admin);
    expect(missing.status).toBe(404);
    expect(errorCode(missing.body)).toBe('not_found');
    const long = await request(t.app).get(`/v1/decisions/${'x'.repeat(200)}`).set('Authorization', admin);
    expect(long.status).toBe(404);
  });

  it('DELETE /v1/users/:id/history erases, audits the actor, never logs the id', async () => {
    const res = await request(t.app).delete('/v1/users/alice%40example.com/history').set('Authorization', admin).set('X-Vigil-Actor', 'oncall@example.com');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ keys: 3, decisions: 2 });
    expect(t.engine.erased).toEqual(['alice@example.com']);
    const auditLine = t.logs.lines.find((l) => l.audit === true && l.action === 'erase_user');
    expect(auditLine).toMatchObject({ by: 'oncall@example.com', keys: 3, decisions: 2 });
    const all = JSON.stringify(t.logs.lines);
    expect(all).not.toContain('alice');
    expect(all).toContain('/v1/users/:id/history');
  });

  it('GET /v1/decisions searches by user, rule, decision and time, pages with a cursor, never logs the user', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await evaluate({ ...GOOD_EVENT, user: { id: 'searched@example.com' } })).body.decision_id as string);
    await evaluate({ ...GOOD_EVENT, user: { id: 'someone-else' } });
    const first = await request(t.app).get('/v1/decisions?user=searched%40example.com&limit=2&since=1d').set('Authorization', admin);
    expect(first.status).toBe(200);
    expect(first.body.decisions.map((d: { decision_id: string }) => d.decision_id)).toEqual([ids[2], ids[1]]);
    expect(typeof first.body.cursor).toBe('string');
    const next = await request(t.app).get(`/v1/decisions?user=searched%40example.com&limit=2&cursor=${encodeURIComponent(first.body.cursor)}`).set('Authorization', admin);
    expect(next.body).toMatchObject({ cursor: null });
    expect(next.body.decisions.map((d: { decision_id: string }) => d.decision_id)).toEqual([ids[0]]);
    const none = await request(t.app).get('/v1/decisions?decision=block&until=2000-01-01T00:00:00Z').set('Authorization', admin);
    expect(none.body).toEqual({ decisions: [], cursor: null });
    expect(JSON.stringify(t.logs.lines)).not.toContain('searched');
  });

  it('GET /v1/decisions refuses bad filters with 400 naming each, and needs the admin token', async () => {
    const cases: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=ten', 'limit'],
      ['decision=deny', 'decision'],
      ['rule=Bad-Rule', 'rule'],
      ['since=yesterday', 'since'],
      ['since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', 'since'],
      ['rule=a&rule=b', 'rule'],
      ['colour=red', '(body)'],
      [`user=${'u'.repeat(257)}`, 'user'],
    ];
    for (const [q, path] of cases) {
      const res = await request(t.app).get(`/v1/decisions?${q}`).set('Authorization', admin);
      expect(res.status, q).toBe(400);
      expect(errorCode(res.body)).toBe('invalid_request');
      expect(res400Path(res.body), q).toEqual([path]);
    }
    expect((await request(t.app).get('/v1/decisions')).status).toBe(401);
  });

  it('a too-long user id or a bad actor header → 400', async () => {
    const long = await request(t.app).delete(`/v1/users/${'u'.repeat(257)}/history`).set('Authorization', admin);
    expect(long.status).toBe(400);
    expect(errorCode(long.body)).toBe('invalid_request');
    const actor = await request(t.app).delete('/v1/users/u-1/history').set('Authorization', admin).set('X-Vigil-Actor', 'a b');
    expect(actor.status).toBe(400);
    expect(res400Path(actor.body)).toEqual(['headers.x-vigil-actor']);
    expect(t.engine.erased).toEqual([]);
  });
});

function res400Path(body: { error: { details: { path: string }[] } }): string[] {
  return body.error.details.map((d) => d.path);
}

describe('operations routes', () => {
  it('/healthz is 200', async () => {
    const res = await request(t.app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('/readyz is 200 with the pack, 503 when the engine is not ready or shutting down', async () => {
    const ok = await request(t.app).get('/readyz');
    expect(ok.status).toBe(200);
    expect(ok.body.pack.name).toBe('api_test');
    expect(ok.body.checks).toMatchObject({ pack: true, engine: true, store: true, accepting: true });
    t.engine.readyState.ok = false;
    const down = await request(t.app).get('/readyz');
    expect(down.status).toBe(503);
    expect(errorCode(down.body)).toBe('unavailable');
    expect(down.body.error.details.checks).toMatchObject({ store: false, engine: false });
    t.engine.readyState.ok = true;
    t.shuttingDown = true;
    const draining = await request(t.app).get('/readyz');
    expect(draining.status).toBe(503);
    expect(draining.body.error.details.checks.accepting).toBe(false);
  });

  it('/readyz is 503 when the engine readiness check hangs', async () => {
    t.engine.ready = () => new Promise(() => undefined);
    const res = await request(t.app).get('/readyz');
    expect(res.status).toBe(503);
  });

  it('unknown paths and methods → 404 in the error shape', async () => {
    for (const [m, p] of [
      ['get', '/nope'],
      ['get', '/v1/evaluate'],
      ['patch', '/v1/packs/active'],
      ['get', '/%E0%A4%A'],
    ] as const) {
      const res = await request(t.app)[m](p);
      expect([400, 404]).toContain(res.status);
      errorCode(res.body);
    }
  });
});

describe('request ids and logs', () => {
  it('honours a well-formed X-Request-Id and mints a ULID otherwise', async () => {
    const given = await request(t.app).get('/healthz').set('X-Request-Id', 'abc-123');
    expect(given.headers['x-request-id']).toBe('abc-123');
    const bad = await request(t.app).get('/healthz').set('X-Request-Id', 'has spaces and {braces}');
    expect(bad.headers['x-request-id']).toMatch(/^[0-9A-HJKMNP-TV-Z]{26}$/);
    const line = t.logs.lines.find((l) => l.msg === 'request' && l.req_id === 'abc-123');
    expect(line).toMatchObject({ method: 'GET', route: '/healthz', status: 200 });
  });

  it('logs no identifier, address, token or body', async () => {
    await evaluate(GOOD_EVENT);
    await evaluate({ ...GOOD_EVENT, ip: 'bad' });
    await evaluate(GOOD_EVENT, 'Bearer leaked-token-value');
    const all = JSON.stringify(t.logs.lines);
    for (const secret of ['u-123', '81.2.69.142', 'd-9f2c', 'Mozilla', API_TOKEN, 'leaked-token-value']) expect(all).not.toContain(secret);
    const line = t.logs.lines.find((l) => l.msg === 'request' && l.status === 200 && l.route === '/v1/evaluate');
    expect(line).toMatchObject({ decision: 'step_up' });
    expect(typeof line?.decision_id).toBe('string');
  });
});

describe('GET /metrics', () => {
  it('exposes decisions, latency, rule hits, signal failures and the pack', async () => {
    await evaluate(GOOD_EVENT);
    await evaluate({ ...GOOD_EVENT, ip: '203.0.113.5' });
    await evaluate({ ...GOOD_EVENT, type: 'recovery' });
    t.metrics.signalFailure('geoip');
    const res = await request(t.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const text = res.text;
    expect(text).toContain('vigil_decisions_total{type="login",decision="step_up"} 1');
    expect(text).toContain('vigil_decisions_total{type="login",decision="block"} 1');
    expect(text).toContain('vigil_decisions_total{type="recovery",decision="step_up"} 1');
    expect(text).toContain('vigil_evaluate_duration_seconds_count{type="login"} 2');
    expect(text).toContain('vigil_rule_hits_total{rule="no_mfa",mode="enforce"} 3');
    expect(text).toContain('vigil_rule_hits_total{rule="blocked_net",mode="enforce"} 1');
    expect(text).toContain('vigil_rule_hits_total{rule="watch_recovery",mode="shadow"} 1');
    expect(text).toContain('vigil_signal_failures_total{source="geoip"} 1');
    expect(text).toMatch(/vigil_pack_info\{name="api_test",version="1",hash="sha256:[0-9a-f]+"\} 1/);
    expect(text).toContain('vigil_http_requests_total{route="/v1/evaluate",method="POST",status="200"} 3');
  });
});
