// Property test: arbitrary JSON bodies, headers, methods and paths never make the API answer 5xx
// or anything but the one error shape.
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, errorCode, testApp } from './helpers.ts';

let server: Server;
beforeAll(async () => {
  const t = await testApp();
  server = createServer(t.app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function check(status: number, body: unknown, text: string): void {
  expect(status).toBeLessThan(500);
  if (status >= 400) errorCode(body);
  expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
}

const auths = fc.constantFrom(undefined, `Bearer ${API_TOKEN}`, `Bearer ${ADMIN_TOKEN}`, 'Bearer x', '', 'Basic Zm9vOmJhcg==');
const contentTypes = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin-9',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
);

// Bodies near the valid shape find deeper paths than random JSON alone.
const nearEvent = fc.record(
  {
    type: fc.oneof(fc.constantFrom('login', 'recovery'), fc.jsonValue()),
    user: fc.oneof(
      fc.record({ id: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()), mfa: fc.jsonValue(), created_at: fc.oneof(fc.string(), fc.jsonValue()) }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.ipV4Extended(), fc.string(), fc.jsonValue()),
    device: fc.oneof(fc.record({ id: fc.jsonValue(), user_agent: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
    time: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.string(), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

describe('fuzz', () => {
  it('POST /v1/evaluate and /v1/outcome with arbitrary JSON', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/evaluate', '/v1/evaluate?explain=1', '/v1/outcome', '/v1/packs/validate', '/v1/packs/active'),
        fc.oneof(nearEvent, fc.jsonValue()),
        auths,
        async (path, body, auth) => {
          const req = request(server).post(path).set('Content-Type', 'application/json');
          if (auth !== undefined) req.set('Authorization', auth);
          const res = await req.send(JSON.stringify(body));
          check(res.status, res.body, res.text);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('raw bytes with arbitrary content types', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/evaluate', '/v1/outcome', '/v1/packs/validate', '/v1/packs/active'),
        contentTypes,
        fc.oneof(fc.string({ maxLength: 200 }), fc.constant(JSON.stringify(GOOD_EVENT).slice(0, 40))),
        async (path, ct, raw) => {
          const res = await request(server)
            [path === '/v1/packs/active' ? 'put' : 'post'](path)
            .set('Authorization', path.startsWith('/v1/packs') ? `Bearer ${ADMIN_TOKEN}` : `Bearer ${API_TOKEN}`)
            .set('Content-Type', ct)
            .send(raw);
          check(res.status, res.body, res.text);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('arbitrary methods, paths and headers', async () => {
    const segment = fc.oneof(
      fc.constantFrom('v1', 'evaluate', 'decisions', 'users', 'history', 'packs', 'active', 'rollback', 'healthz', 'readyz', 'metrics', '..', '%', '%zz', '%00', '%E0%A4%A'),
      fc.string({ unit: fc.constantFrom(...'abc-_.~%:@!$&()*+,;=0123456789'.split('')), maxLength: 20 }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('get', 'post', 'put', 'delete', 'patch', 'head', 'options'),
        fc.array(segment, { minLength: 0, maxLength: 5 }),
        auths,
        fc.dictionary(
          fc.constantFrom('x-request-id', 'x-vigil-actor', 'accept', 'content-encoding', 'x-forwarded-for'),
          fc.string({ unit: fc.constantFrom(...'ab c{}\t-_;=/:,0'.split('')), maxLength: 40 }),
        ),
        async (method, segs, auth, headers) => {
          const req = request(server)[method as 'get'](`/${segs.join('/')}`);
          if (auth !== undefined) req.set('Authorization', auth);
          for (const [k, v] of Object.entries(headers)) req.set(k, v);
          const res = await req;
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400 && method !== 'head') errorCode(res.body);
        },
      ),
      { numRuns: 200 },
    );
  });
});
