// Identifiers as text (issue 15, point 3): every identifier field of every endpoint refuses a lone
// surrogate (sent as a JSON escape, `"\ud800"`) or bytes that are not UTF-8 with a 400 naming the
// field, limits count UTF-8 bytes, and the history of "a\uFFFD" is reachable by that id only (a
// lone surrogate or an invalid byte would otherwise turn into U+FFFD and land on it).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, createHttpServer } from '../../api/app.ts';
import { createMetrics } from '../../api/metrics.ts';
import { createEngine } from '../../engine/index.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { createStore } from '../../features/store/index.ts';
import { deletePrefix, redisUrl, requireRedis, uniquePrefix } from '../helpers/redis.ts';
import { deployment } from './live-helpers.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, errorCode, logSink, testApp, testPackManager, type TestApp } from './helpers.ts';

const api = `Bearer ${API_TOKEN}`;
const admin = `Bearer ${ADMIN_TOKEN}`;

/** JSON.stringify writes a lone surrogate as its escape: the raw text a client sends. */
function raw(body: unknown): string {
  const text = JSON.stringify(body);
  expect(text).toMatch(/\\ud[89a-f][0-9a-f]{2}/);
  return text;
}

interface Issue {
  path: string;
  code: string;
}

function issuesOf(body: unknown): Issue[] {
  expect(errorCode(body)).toBe('invalid_request');
  return (body as { error: { details: Issue[] } }).error.details;
}

const LONE = ['a\uD800', '\uDC00b', 'x\uDBFF', '\uDC00\uD800'];
/** 64 four-byte emoji: 256 UTF-8 bytes, 128 UTF-16 units. */
const EMOJI_256 = '😀'.repeat(64);

describe('identifier fields refuse lone surrogates and count bytes', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await testApp();
  });

  const evaluate = (text: string) =>
    request(t.app).post('/v1/evaluate').set('Authorization', api).set('Content-Type', 'application/json').send(text);

  it.each(LONE)('evaluate: user.id, device.id and device.user_agent holding %j are 400 naming the field', async (bad) => {
    for (const [path, body] of [
      ['user.id', { ...GOOD_EVENT, user: { ...GOOD_EVENT.user, id: bad } }],
      ['device.id', { ...GOOD_EVENT, device: { ...GOOD_EVENT.device, id: bad } }],
      ['device.user_agent', { ...GOOD_EVENT, device: { ...GOOD_EVENT.device, user_agent: bad } }],
    ] as const) {
      const res = await evaluate(raw(body));
      expect(res.status, path).toBe(400);
      expect(issuesOf(res.body), path).toContainEqual(expect.objectContaining({ path, code: 'invalid_format' }));
    }
    expect(t.engine.events).toHaveLength(0);
  });

  it('evaluate: a user id of 64 four-byte emoji (256 bytes) is accepted, one byte more is refused', async () => {
    const ok = await evaluate(JSON.stringify({ ...GOOD_EVENT, user: { id: EMOJI_256 } }));
    expect(ok.status).toBe(200);
    expect(t.engine.events[0]?.userId).toBe(EMOJI_256);
    for (const id of [EMOJI_256 + 'a', '😀'.repeat(65), 'é'.repeat(129)]) {
      const res = await evaluate(JSON.stringify({ ...GOOD_EVENT, user: { id } }));
      expect(res.status, `${id.length} units`).toBe(400);
      expect(issuesOf(res.body)).toContainEqual(expect.objectContaining({ path: 'user.id', code: 'too_big' }));
    }
    // The same for the device id (256 bytes) and the user agent (1024 bytes).
    const dev = await evaluate(JSON.stringify({ ...GOOD_EVENT, device: { id: EMOJI_256 + 'x' } }));
    expect(issuesOf(dev.body)).toContainEqual(expect.objectContaining({ path: 'device.id', code: 'too_big' }));
    const ua = await evaluate(JSON.stringify({ ...GOOD_EVENT, device: { user_agent: '😀'.repeat(256) + 'x' } }));
    expect(issuesOf(ua.body)).toContainEqual(expect.objectContaining({ path: 'device.user_agent', code: 'too_big' }));
    expect((await evaluate(JSON.stringify({ ...GOOD_EVENT, device: { user_agent: '😀'.repeat(256) } }))).status).toBe(200);
  });

  it('outcome: a decision id with a lone surrogate is 400 naming decision_id', async () => {
    const res = await request(t.app)
      .post('/v1/outcome')
      .set('Authorization', api)
      .set('Content-Type', 'application/json')
      .send(raw({ decision_id: '01JD\uD800', outcome: 'failed' }));
    expect(res.status).toBe(400);
    expect(issuesOf(res.body)).toContainEqual(expect.objectContaining({ path: 'decision_id', code: 'invalid_format' }));
  });

  it('counters: a user with a lone surrogate is 400 naming user; over 256 bytes too', async () => {
    const del = (text: string) =>
      request(t.app).delete('/v1/counters').set('Authorization', admin).set('Content-Type', 'application/json').send(text);
    const bad = await del(raw({ user: 'a\uD800' }));
    expect(bad.status).toBe(400);
    expect(issuesOf(bad.body)).toContainEqual(expect.objectContaining({ path: 'user', code: 'invalid_format' }));
    const long = await del(JSON.stringify({ user: EMOJI_256 + 'a' }));
    expect(issuesOf(long.body)).toContainEqual(expect.objectContaining({ path: 'user', code: 'too_big' }));
    expect((await del(JSON.stringify({ user: EMOJI_256 }))).status).toBe(200);
    expect(t.engine.cleared).toEqual([{ user: EMOJI_256 }]);
  });

  it('erase: a path id that is not UTF-8 is 400; bytes are counted (256 accepted, 257 refused)', async () => {
    for (const enc of ['a%ED%A0%80', 'a%FF', '%C3']) {
      const res = await request(t.app).delete(`/v1/users/${enc}/history`).set('Authorization', admin);
      expect(res.status, enc).toBe(400);
      expect(issuesOf(res.body)).toEqual([expect.objectContaining({ path: 'params', code: 'invalid_format' })]);
      // The undecodable text is not echoed back.
      expect(JSON.stringify(res.body)).not.toContain(enc);
    }
    const ok = await request(t.app).delete(`/v1/users/${encodeURIComponent(EMOJI_256)}/history`).set('Authorization', admin);
    expect(ok.status).toBe(200);
    expect(t.engine.erased).toEqual([EMOJI_256]);
    const over = await request(t.app).delete(`/v1/users/${encodeURIComponent('é'.repeat(129))}/history`).set('Authorization', admin);
    expect(over.status).toBe(400);
    expect(issuesOf(over.body)).toEqual([expect.objectContaining({ path: 'params.id', code: 'too_big' })]);
  });

  it('decision search: ?user= that is not UTF-8 is 400 naming query.user (not a search for "a\\uFFFD")', async () => {
    for (const enc of ['a%FF', 'a%ED%A0%80']) {
      const res = await request(t.app).get(`/v1/decisions?user=${enc}`).set('Authorization', admin);
      expect(res.status, enc).toBe(400);
      expect(issuesOf(res.body)).toEqual([expect.objectContaining({ path: 'query.user', code: 'invalid_format' })]);
    }
    const long = await request(t.app).get(`/v1/decisions?user=${encodeURIComponent(EMOJI_256 + 'a')}`).set('Authorization', admin);
    expect(long.status).toBe(400);
    expect(issuesOf(long.body)).toContainEqual(expect.objectContaining({ path: 'user', code: 'too_big' }));
  });

});

describe('live lists (real engine, Redis)', () => {
  it('a string entry with a lone surrogate is 422 naming it; 1024 bytes of emoji are taken, one byte more is not', async () => {
    await requireRedis();
    const dep = await deployment('unicode-lists');
    try {
      const a = await dep.instance();
      const post = (text: string) =>
        request(a.app).post(`/v1/lists/${encodeURIComponent(dep.names.users)}`).set('Authorization', admin).set('Content-Type', 'application/json').send(text);
      const bad = await post(raw({ entries: ['ok', 'a\uD800'] }));
      expect(bad.status).toBe(422);
      expect(errorCode(bad.body)).toBe('invalid_entry');
      expect((bad.body as { error: { details: Issue[] } }).error.details).toEqual([expect.objectContaining({ path: 'entries.1' })]);
      const long = await post(JSON.stringify({ entries: ['😀'.repeat(256) + 'x'] }));
      expect(long.status).toBe(422);
      const ok = await post(JSON.stringify({ entries: ['😀'.repeat(256)] }));
      expect(ok.status).toBe(200);
      expect(ok.body.entries).toEqual([{ value: '😀'.repeat(256) }]);
    } finally {
      await dep.close();
    }
  });
});

describe('bytes that are not UTF-8', () => {
  let t: TestApp;
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    t = await testApp();
    server = createHttpServer(t.app);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    port = typeof a === 'object' && a ? a.port : 0;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  function post(path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent: false,
          headers: { authorization: api, 'content-type': 'application/json', 'content-length': String(body.length), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  it('a user id holding the byte FF (which would decode as U+FFFD) is 400, plain or chunked', async () => {
    const [head, tail] = JSON.stringify({ ...GOOD_EVENT, user: { id: 'a#' } }).split('#') as [string, string];
    const body = Buffer.concat([Buffer.from(head), Buffer.from([0xff]), Buffer.from(tail)]);
    const plain = await post('/v1/evaluate', body);
    expect(plain.status).toBe(400);
    expect(issuesOf(plain.body)).toEqual([expect.objectContaining({ path: '(body)', code: 'invalid_format' })]);
    const other = await post('/v1/evaluate', body, { 'content-type': 'application/json; charset=UTF-8' });
    expect(other.status).toBe(400);
    expect(t.engine.events).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// The real engine on the real Redis: "a\uFFFD" keeps its own history.
// ---------------------------------------------------------------------------------------------

describe('the history of "a\\uFFFD" is its own (real engine, Redis)', () => {
  const prefix = uniquePrefix('unicode');
  let dir: string;
  let packs: PackManager;
  let engine: Engine;
  let app: ReturnType<typeof createApp>;
  let node: Redis;

  beforeAll(async () => {
    await requireRedis();
    node = new Redis(redisUrl());
    dir = mkdtempSync(join(tmpdir(), 'vigil-unicode-'));
    writeFileSync(
      join(dir, 'main.rules'),
      'pack unicode_test version 1\n\nrule returning {\n  when history.logins >= 1 and device.known\n  score 1\n}\n\npolicy {\n  step_up when score >= 50\n}\n',
    );
  });
  afterAll(async () => {
    await deletePrefix(node, prefix);
    node.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    const logs = logSink();
    const metrics = createMetrics(new Registry());
    packs = testPackManager({ logger: logs.logger, metrics, rulesPath: dir });
    await packs.start();
    const store = await createStore({ redisUrl: redisUrl(), hashSecret: 'unicode-secret-0123456789', prefix });
    engine = createEngine({ store, geoip: null, packs: () => packs.current(), signalTimeoutMs: 1000, logger: logs.logger });
    app = createApp({ engine, packs, logger: logs.logger, metrics, config: { apiToken: API_TOKEN, adminToken: ADMIN_TOKEN, maxSkewMs: 300_000 } });
  });
  afterEach(async () => {
    await engine.close();
    await packs.close();
  });

  const event = (id: string) => ({ type: 'login', user: { id }, ip: '192.0.2.10', device: { id: 'dev-1' } });
  async function logins(text: string): Promise<{ status: number; logins: unknown; degraded: unknown }> {
    const res = await request(app).post('/v1/evaluate?explain=1').set('Authorization', api).set('Content-Type', 'application/json').send(text);
    return { status: res.status, logins: res.body.features?.['history.logins'], degraded: res.body.degraded };
  }

  it('a\\uFFFD signs in; a\\uD800, a\\uDC00 and "a" never read its history', async () => {
    const first = await request(app).post('/v1/evaluate').set('Authorization', api).send(event('a\uFFFD'));
    expect(first.status).toBe(200);
    expect(first.body.degraded).toBe(false);
    const out = await request(app).post('/v1/outcome').set('Authorization', api).send({ decision_id: first.body.decision_id, outcome: 'succeeded' });
    expect(out.status).toBe(204);
    expect(await logins(JSON.stringify(event('a\uFFFD')))).toEqual({ status: 200, logins: 1, degraded: false });
    for (const id of ['a\uD800', 'a\uDC00', 'a\uDBFF']) expect((await logins(raw(event(id)))).status).toBe(400);
    for (const id of ['a', 'a\uFFFD\uFFFD', 'a?']) expect(await logins(JSON.stringify(event(id)))).toEqual({ status: 200, logins: 0, degraded: false });
  });
});
