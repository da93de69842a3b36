// The admin routes' guard (api/guard.ts): a per-client rate limit that counts failed
// authentications too and answers 429 in the error shape with Retry-After, leaving /v1/evaluate
// alone; OPTIONS on every admin route answered like the route (401 without the token, 404 without an
// admin API), never Express's unauthenticated 200; no Access-Control-Allow-* header on any answer;
// and every admin route inside the guarded paths (walked from the app, so a new route cannot
// escape the guard unnoticed).
import type { Express } from 'express';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_ADMIN_RATE_LIMIT, loadConfig } from '../../api/config.ts';
import { ADMIN_PATHS } from '../../api/guard.ts';
import { PUBLIC_ROUTES, routesOf, type RouteInfo } from '../helpers/routes.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, errorCode, testApp } from './helpers.ts';

const ADMIN = `Bearer ${ADMIN_TOKEN}`;

/** A concrete URL for a route template. */
function concrete(path: string): string {
  return path.replace(/:(\w+)/g, (_m, name: string) => (name === 'name' ? 'vigil%3Ablocked_users' : name === 'hash' ? 'sha256:abc' : `some-${name}`));
}

function adminRoutes(app: Express): RouteInfo[] {
  return routesOf(app).filter((r) => !PUBLIC_ROUTES.has(r.path));
}

function accessControlHeaders(headers: Record<string, unknown>): string[] {
  return Object.keys(headers).filter((h) => h.toLowerCase().startsWith('access-control-'));
}

describe('the admin paths', () => {
  it('hold every admin route the app serves', async () => {
    const { app } = await testApp();
    const admin = adminRoutes(app);
    expect(admin.length).toBeGreaterThan(20);
    const outside = admin.filter((r) => !ADMIN_PATHS.some((p) => r.path === p || r.path.startsWith(`${p}/`)));
    expect(outside).toEqual([]);
    // And no public route lies under them (it would be limited and need the token for OPTIONS).
    for (const p of PUBLIC_ROUTES) expect(ADMIN_PATHS.some((a) => p === a || p.startsWith(`${a}/`))).toBe(false);
  });
});

describe('OPTIONS and CORS on admin routes', () => {
  it('answers 401 in the error shape, without CORS headers, on every admin route without the token', async () => {
    const { app } = await testApp({ adminRateLimit: 0 });
    const routes = adminRoutes(app);
    for (const r of routes) {
      const url = concrete(r.path);
      for (const auth of [undefined, 'Bearer wrong-token-0123456789abcdef', `Bearer ${API_TOKEN}`]) {
        const req = request(app).options(url).set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'DELETE').set('Access-Control-Request-Headers', 'authorization');
        if (auth !== undefined) req.set('Authorization', auth);
        const res = await req;
        expect({ url, auth, status: res.status }).toEqual({ url, auth, status: 401 });
        expect(errorCode(res.body)).toBe('unauthorized');
        expect(res.headers['www-authenticate']).toBe('Bearer realm="vigil"');
        expect(res.headers.allow).toBeUndefined();
        expect(accessControlHeaders(res.headers)).toEqual([]);
      }
    }
  });

  it('with the token, lists the route\'s methods, still without CORS headers', async () => {
    const { app } = await testApp({ adminRateLimit: 0 });
    const res = await request(app).options('/v1/packs/active').set('Authorization', ADMIN).set('Origin', 'https://evil.example');
    // 204 with the methods in Allow and no body: every body of this API is JSON.
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(res.headers['content-type']).toBeUndefined();
    expect(res.headers.allow).toContain('PUT'); // and GET: /v1/packs/:hash matches too
    expect(accessControlHeaders(res.headers)).toEqual([]);
    const audit = await request(app).options('/v1/audit').set('Authorization', ADMIN);
    expect(audit.status).toBe(204);
    expect(audit.headers.allow).toContain('GET');
  });

  it('answers 404 on every admin route when there is no admin API', async () => {
    const { app: withAdmin } = await testApp();
    const { app } = await testApp({ adminToken: undefined });
    for (const r of adminRoutes(withAdmin)) {
      const res = await request(app).options(concrete(r.path)).set('Origin', 'https://evil.example');
      expect({ path: r.path, status: res.status }).toEqual({ path: r.path, status: 404 });
      expect(errorCode(res.body)).toBe('not_found');
      expect(res.headers.allow).toBeUndefined();
    }
  });

  it('an unknown path under an admin prefix meets the token first', async () => {
    const { app } = await testApp();
    const res = await request(app).options('/v1/packs/nope/deeper');
    expect(res.status).toBe(401);
    const authed = await request(app).options('/v1/packs/nope/deeper').set('Authorization', ADMIN);
    expect(authed.status).toBe(404);
    expect(errorCode(authed.body)).toBe('not_found');
  });
});

describe('OPTIONS on public routes', () => {
  it('/v1/evaluate and /v1/outcome need the API token when it is set, then list POST', async () => {
    const { app } = await testApp();
    for (const path of ['/v1/evaluate', '/v1/outcome']) {
      const bare = await request(app).options(path).set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
      expect(bare.status).toBe(401);
      expect(errorCode(bare.body)).toBe('unauthorized');
      expect(accessControlHeaders(bare.headers)).toEqual([]);
      const authed = await request(app).options(path).set('Authorization', `Bearer ${API_TOKEN}`);
      expect(authed.status).toBe(204);
      expect(authed.headers.allow).toBe('POST');
      expect(accessControlHeaders(authed.headers)).toEqual([]);
    }
  });

  it('without an API token, and on the operations routes, list the methods, without CORS headers', async () => {
    const { app } = await testApp({ apiToken: undefined });
    for (const [path, allow] of [
      ['/v1/evaluate', 'POST'],
      ['/healthz', 'GET, HEAD'],
      ['/readyz', 'GET, HEAD'],
      ['/metrics', 'GET, HEAD'],
      ['/console', 'GET, HEAD'],
    ] as const) {
      const res = await request(app).options(path).set('Origin', 'https://evil.example').set('Access-Control-Request-Method', 'POST');
      expect({ path, status: res.status, allow: res.headers.allow }).toEqual({ path, status: 204, allow });
      expect(accessControlHeaders(res.headers)).toEqual([]);
    }
  });

  it('no answer carries CORS headers, whatever the Origin', async () => {
    const { app } = await testApp({ adminRateLimit: 0 });
    const answers = [
      await request(app).post('/v1/evaluate').set('Authorization', `Bearer ${API_TOKEN}`).set('Origin', 'https://evil.example').send(GOOD_EVENT),
      await request(app).get('/v1/audit').set('Authorization', ADMIN).set('Origin', 'https://evil.example'),
      await request(app).get('/healthz').set('Origin', 'https://evil.example'),
      await request(app).get('/console').set('Origin', 'https://evil.example'),
    ];
    for (const res of answers) {
      expect(res.status).toBe(200);
      expect(accessControlHeaders(res.headers)).toEqual([]);
    }
  });
});

describe('the admin rate limit', () => {
  it('answers 429 in the error shape with Retry-After past the limit, failed authentications counted', async () => {
    const { app } = await testApp({ adminRateLimit: 5 });
    for (let i = 0; i < 3; i++) expect((await request(app).get('/v1/audit').set('Authorization', 'Bearer guess-0123456789abcdef-' + i)).status).toBe(401);
    expect((await request(app).options('/v1/packs')).status).toBe(401);
    const ok = await request(app).get('/v1/audit').set('Authorization', ADMIN);
    expect(ok.status).toBe(200);
    expect(ok.headers['ratelimit-limit']).toBe('5');
    expect(ok.headers['ratelimit-remaining']).toBe('0');
    // The sixth request of the minute, with the right token: refused all the same.
    const res = await request(app).get('/v1/audit').set('Authorization', ADMIN);
    expect(res.status).toBe(429);
    expect(errorCode(res.body)).toBe('rate_limited');
    const retry = Number(res.headers['retry-after']);
    expect(Number.isInteger(retry) && retry >= 1 && retry <= 60).toBe(true);
    expect(res.body.error.details).toEqual({ limit: 5, window_s: 60, retry_after_s: retry });
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    // Every admin path shares the one budget, whatever the method.
    for (const [method, path] of [
      ['put', '/v1/packs/active'],
      ['delete', '/v1/users/u-1/history'],
      ['options', '/v1/lists/x'],
      ['get', '/v1/decisions/01JD'],
    ] as const) {
      const r = await request(app)[method](path).set('Authorization', ADMIN);
      expect({ method, path, status: r.status }).toEqual({ method, path, status: 429 });
    }
  });

  it('leaves /v1/evaluate, /v1/outcome and the operations routes alone', async () => {
    const { app } = await testApp({ adminRateLimit: 1 });
    await request(app).get('/v1/audit').set('Authorization', ADMIN);
    expect((await request(app).get('/v1/audit').set('Authorization', ADMIN)).status).toBe(429);
    for (let i = 0; i < 15; i++) {
      const res = await request(app).post('/v1/evaluate').set('Authorization', `Bearer ${API_TOKEN}`).send(GOOD_EVENT);
      expect(res.status).toBe(200);
      expect(res.headers['ratelimit-limit']).toBeUndefined();
    }
    expect((await request(app).post('/v1/outcome').set('Authorization', `Bearer ${API_TOKEN}`).send({ decision_id: '01JD0000000000000000000000', outcome: 'failed' })).status).toBe(404);
    expect((await request(app).get('/healthz')).status).toBe(200);
    expect((await request(app).get('/metrics')).status).toBe(200);
    expect((await request(app).get('/console')).status).toBe(200);
  });

  it('0 turns it off', async () => {
    const { app } = await testApp({ adminRateLimit: 0 });
    for (let i = 0; i < 30; i++) expect((await request(app).get('/v1/audit').set('Authorization', ADMIN)).status).toBe(200);
    expect((await request(app).get('/v1/audit').set('Authorization', ADMIN)).headers['ratelimit-limit']).toBeUndefined();
  });

  it('is on by default, at the documented default', async () => {
    const { app } = await testApp();
    const res = await request(app).get('/v1/audit').set('Authorization', ADMIN);
    expect(res.headers['ratelimit-limit']).toBe(String(DEFAULT_ADMIN_RATE_LIMIT));
  });

  it('does not apply when there is no admin API (the routes are 404)', async () => {
    const { app } = await testApp({ adminToken: undefined, adminRateLimit: 1 });
    for (let i = 0; i < 3; i++) expect((await request(app).get('/v1/audit')).status).toBe(404);
  });

  it('VIGIL_ADMIN_RATE_LIMIT: default, 0, and a bad value stops the start', () => {
    expect(loadConfig({}).adminRateLimit).toBe(DEFAULT_ADMIN_RATE_LIMIT);
    expect(loadConfig({ VIGIL_ADMIN_RATE_LIMIT: '0' }).adminRateLimit).toBe(0);
    expect(loadConfig({ VIGIL_ADMIN_RATE_LIMIT: '600' }).adminRateLimit).toBe(600);
    for (const bad of ['-1', 'ten', '1.5', '99999999']) {
      expect(() => loadConfig({ VIGIL_ADMIN_RATE_LIMIT: bad })).toThrow(ConfigError);
      try {
        loadConfig({ VIGIL_ADMIN_RATE_LIMIT: bad });
      } catch (err) {
        expect((err as ConfigError).issues.map((i) => i.variable)).toEqual(['VIGIL_ADMIN_RATE_LIMIT']);
      }
    }
  });
});
