// The OpenAPI description (api/openapi.ts): every route Express registers is in it with its methods
// (found by walking the app's router stack, so a new route without a description fails here);
// docs/openapi.yaml is what `npm run docs:openapi` generates (with UPDATE_DOCS=1 this test rewrites
// it instead of checking it); GET /openapi.json serves it, without the admin operations when the
// admin API is off; and real answers of a real app (real engine, real Redis) to scenario requests,
// successes and errors alike, validate against it with ajv. Needs Redis and FAILS without it.
import { readFileSync, writeFileSync } from 'node:fs';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import type { Express } from 'express';
import request, { type Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { isAdminOperation, OPERATIONS, openApiDocument } from '../../api/openapi.ts';
import { requireRedis } from '../helpers/redis.ts';
import { API_TOKEN, GOOD_PACK, readFiles, testApp, BROKEN_PACK } from './helpers.ts';
import { admin, deployment, type Deployment, type Instance } from './live-helpers.ts';

const DOC_FILE = new URL('../../docs/openapi.yaml', import.meta.url);
const doc = openApiDocument({ admin: true });
type Doc = typeof doc;

/** Every (METHOD, OpenAPI path) an Express app answers, from its router stack. */
function registeredRoutes(app: Express): string[] {
  interface Layer {
    readonly route?: { readonly path: string | string[]; readonly methods: Record<string, boolean> };
    readonly handle?: { readonly stack?: readonly Layer[] };
  }
  const out = new Set<string>();
  const walk = (stack: readonly Layer[]): void => {
    for (const l of stack) {
      if (l.route) {
        for (const p of Array.isArray(l.route.path) ? l.route.path : [l.route.path]) {
          // OPTIONS answers (api/guard.ts, the evaluate routes) are the preflight of a documented route, not operations.
          for (const [m, on] of Object.entries(l.route.methods)) if (on && m !== 'options') out.add(`${m.toUpperCase()} ${p.replace(/:(\w+)/g, '{$1}')}`);
        }
      } else if (l.handle?.stack) walk(l.handle.stack);
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack);
  return [...out].sort();
}

function documented(d: Doc): string[] {
  const out: string[] = [];
  for (const [path, item] of Object.entries(d.paths ?? {})) {
    for (const m of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const) if (item?.[m]) out.push(`${m.toUpperCase()} ${path}`);
  }
  return out.sort();
}

describe('the document covers every route', () => {
  it('every route Express registers (admin on) is described with its methods, and nothing more', async () => {
    const { app } = await testApp();
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(30);
    expect(routes).toContain('PUT /v1/packs/active');
    expect(documented(doc)).toEqual(routes);
  });

  it('with the admin API off, the app serves exactly the public operations and /openapi.json describes those', async () => {
    const { app } = await testApp({ adminToken: undefined });
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const served = res.body as Doc;
    expect(documented(served)).toEqual(OPERATIONS.filter((o) => !isAdminOperation(o)).map((o) => `${o.method.toUpperCase()} ${o.path}`).sort());
    // The admin routes stay registered (each answers 404); the console's are not registered at all.
    const adminOps = new Set(OPERATIONS.filter(isAdminOperation).map((o) => `${o.method.toUpperCase()} ${o.path}`));
    expect(documented(served)).toEqual(registeredRoutes(app).filter((r) => !adminOps.has(r)));
    expect(registeredRoutes(app).some((r) => r.includes('/console'))).toBe(false);
    expect((await request(app).get('/v1/packs')).status).toBe(404);
    expect(JSON.stringify(served)).not.toContain('/v1/packs');
  });

  it('the served document (admin on) is the full one and holds no token', async () => {
    const { app } = await testApp();
    const res = await request(app).get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(JSON.stringify(doc)));
    expect(res.text).not.toContain(API_TOKEN);
    expect(res.text).not.toMatch(/admin-token-/);
  });

  it('names every error code of the registry and the one error shape', () => {
    const error = doc.components?.schemas?.Error as { properties: { error: { properties: { code: { enum: string[] } }; required: string[] } } };
    expect(error.properties.error.required).toEqual(['code', 'message', 'details']);
    expect(new Set(error.properties.error.properties.code.enum)).toEqual(
      new Set(['invalid_request', 'unauthorized', 'not_found', 'conflict', 'payload_too_large', 'unsupported_media_type', 'pack_rejected', 'model_rejected', 'invalid_entry', 'internal', 'unavailable', 'rate_limited', 'request_timeout', 'pack_check_aborted', 'pack_check_busy']),
    );
    // Every admin operation says 401 and 404, every operation 500.
    for (const [path, item] of Object.entries(doc.paths ?? {})) {
      for (const op of [item?.get, item?.put, item?.post, item?.delete]) {
        if (!op) continue;
        expect(Object.keys(op.responses ?? {}), path).toContain('500');
        if (op.tags?.includes('admin')) expect(Object.keys(op.responses ?? {}), path).toEqual(expect.arrayContaining(['401', '404']));
      }
    }
  });

  it('docs/openapi.yaml is what npm run docs:openapi generates (UPDATE_DOCS=1 rewrites it)', () => {
    const want = `# Generated from api/openapi.ts by \`npm run docs:openapi\`; do not edit.\n${YAML.stringify(doc, { lineWidth: 0 })}`;
    if (process.env.UPDATE_DOCS === '1') writeFileSync(DOC_FILE, want);
    let have = '';
    try {
      have = readFileSync(DOC_FILE, 'utf8');
    } catch {
      // Missing: fails below with the same message.
    }
    expect(have === want, 'docs/openapi.yaml is stale: run npm run docs:openapi').toBe(true);
    expect(YAML.parse(have)).toEqual(JSON.parse(JSON.stringify(doc)));
  });
});

// ---- real answers validate against the document ---------------------------------------------------

const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ $id: 'vigil-openapi', components: JSON.parse(JSON.stringify(doc.components)) as unknown });
const validators = new Map<string, ValidateFunction>();
/** What each (operation, status) validated, for the coverage check at the end. */
const seen = new Set<string>();

/** The answer's status is documented for the operation and its body validates against that status's schema. */
function conforms(method: string, path: string, res: Response): void {
  const op = (doc.paths?.[path] as Record<string, { responses?: Record<string, { content?: Record<string, { schema: unknown }> }> }> | undefined)?.[method];
  expect(op, `${method.toUpperCase()} ${path} is not in the document`).toBeDefined();
  const r = op?.responses?.[String(res.status)];
  expect(r, `${method.toUpperCase()} ${path} answered ${res.status}, which the document does not list: ${res.text.slice(0, 300)}`).toBeDefined();
  const content = r?.content;
  if (!content) {
    expect(res.text).toBe('');
  } else {
    const [type, media] = Object.entries(content)[0]!;
    expect(res.headers['content-type']).toMatch(new RegExp(`^${type.replace('/', '\\/')}`));
    const key = `${method} ${path} ${res.status}`;
    let v = validators.get(key);
    if (!v) {
      const schema = JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components/', '"vigil-openapi#/components/')) as object;
      v = ajv.compile(schema);
      validators.set(key, v);
    }
    const body: unknown = type === 'application/json' ? JSON.parse(res.text) : res.text;
    const ok = v(body);
    expect(ok, `${method.toUpperCase()} ${path} ${res.status}: ${ajv.errorsText(v.errors)}\n${res.text.slice(0, 600)}`).toBe(true);
  }
  seen.add(`${method.toUpperCase()} ${path} ${res.status}`);
}

/** A request against `app` by its OpenAPI path and parameters; the answer is checked against the document. */
async function call(
  app: Express,
  method: 'get' | 'post' | 'put' | 'delete',
  path: string,
  o: { params?: Record<string, string>; query?: Record<string, string>; body?: unknown; auth?: string; type?: string } = {},
): Promise<Response> {
  let url = path.replace(/\{(\w+)\}/g, (_m, k: string) => encodeURIComponent(o.params?.[k] ?? ''));
  if (o.query) url += `?${new URLSearchParams(o.query).toString()}`;
  let t = request(app)[method](url);
  if (o.auth !== undefined) t = t.set('Authorization', o.auth);
  if (o.body !== undefined) {
    t = t.set('Content-Type', o.type ?? (typeof o.body === 'string' ? 'text/plain' : 'application/json'));
    t = t.send(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
  }
  const res = await t;
  conforms(method, path, res);
  return res;
}

const EVENT = { type: 'login', user: { id: 'u-openapi', mfa: false }, ip: '81.2.69.142', device: { id: 'd-1', user_agent: 'Mozilla/5.0' } };

let dep: Deployment;
let inst: Instance;

describe('real answers validate against the document (real engine, real Redis)', () => {
  // Here, not at the top: `npm run docs:openapi` runs only the yaml test, which needs no Redis.
  beforeAll(async () => {
    await requireRedis();
    dep = await deployment('openapi');
    inst = await dep.instance();
  });
  afterAll(async () => {
    await dep?.close();
  });

  it('evaluate and outcome: 200 (with and without explain), 204, 400, 404, 415, 401', async () => {
    const app = inst.app;
    const r = await call(app, 'post', '/v1/evaluate', { body: EVENT });
    expect(r.status).toBe(200);
    expect((await call(app, 'post', '/v1/evaluate', { body: EVENT, query: { explain: '1' } })).status).toBe(200);
    expect((await call(app, 'post', '/v1/evaluate', { body: { ...EVENT, ip: 'nope' } })).status).toBe(400);
    expect((await call(app, 'post', '/v1/evaluate', { body: 'x', type: 'text/plain' })).status).toBe(415);
    const id = (r.body as { decision_id: string }).decision_id;
    expect((await call(app, 'post', '/v1/outcome', { body: { decision_id: id, outcome: 'succeeded' } })).status).toBe(204);
    expect((await call(app, 'post', '/v1/outcome', { body: { decision_id: 'nope', outcome: 'failed' } })).status).toBe(404);
    expect((await call(app, 'post', '/v1/outcome', { body: { decision_id: id } })).status).toBe(400);
    const guarded = await testApp();
    expect((await call(guarded.app, 'post', '/v1/evaluate', { body: EVENT })).status).toBe(401);
    expect((await call(guarded.app, 'post', '/v1/evaluate', { body: EVENT, auth: `Bearer ${API_TOKEN}` })).status).toBe(200);
  });

  it('operations: /healthz, /readyz (200 and 503), /metrics, /openapi.json', async () => {
    expect((await call(inst.app, 'get', '/healthz')).status).toBe(200);
    expect((await call(inst.app, 'get', '/readyz')).status).toBe(200);
    expect((await call(inst.app, 'get', '/metrics')).status).toBe(200);
    expect((await call(inst.app, 'get', '/openapi.json')).status).toBe(200);
    const t = await testApp();
    t.shuttingDown = true;
    expect((await call(t.app, 'get', '/readyz')).status).toBe(503);
  });

  it('admin: 401 without the token, 404 when the admin API is off', async () => {
    expect((await call(inst.app, 'get', '/v1/packs')).status).toBe(401);
    expect((await call(inst.app, 'get', '/v1/lists', { auth: 'Bearer wrong' })).status).toBe(401);
    const off = await dep.instance({ adminToken: undefined });
    expect((await call(off.app, 'get', '/v1/packs', { auth: admin })).status).toBe(404);
  });

  it('packs: list, validate (ok and not), push (200 and 422), get, files, diff, backtest, rollback (200 and 409), shadow', async () => {
    const app = inst.app;
    const auth = admin;
    const listed = await call(app, 'get', '/v1/packs', { auth });
    expect(listed.status).toBe(200);
    const first = (listed.body as { active: { hash: string } }).active.hash;
    const good = readFiles(GOOD_PACK);
    expect((await call(app, 'post', '/v1/packs/validate', { auth, body: { files: good } })).body).toMatchObject({ ok: true });
    expect((await call(app, 'post', '/v1/packs/validate', { auth, body: readFileSync(`${BROKEN_PACK}/main.rules`, 'utf8') })).body).toMatchObject({ ok: false });
    expect((await call(app, 'post', '/v1/packs/validate', { auth, body: { files: { '../x.rules': '' } } })).status).toBe(400);
    expect((await call(app, 'put', '/v1/packs/active', { auth, body: { files: readFiles(BROKEN_PACK) } })).status).toBe(422);
    expect((await call(app, 'put', '/v1/packs/active', { auth, body: { files: good }, query: { reason: 'openapi test' } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/packs/{hash}', { auth, params: { hash: first } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/packs/{hash}', { auth, params: { hash: `sha256:${'0'.repeat(64)}` } })).status).toBe(404);
    expect((await call(app, 'get', '/v1/packs/files', { auth })).status).toBe(200);
    expect((await call(app, 'get', '/v1/packs/files', { auth, query: { hash: first } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/packs/diff', { auth })).status).toBe(200);
    expect((await call(app, 'post', '/v1/packs/diff', { auth, body: { files: good } })).status).toBe(200);
    expect((await call(app, 'post', '/v1/packs/backtest', { auth, body: { files: good, limit: 10 } })).status).toBe(200);
    expect((await call(app, 'put', '/v1/packs/shadow', { auth, body: readFileSync(`${dep.dir}/main.rules`, 'utf8') })).status).toBe(200);
    await call(app, 'post', '/v1/evaluate', { body: EVENT });
    expect((await call(app, 'get', '/v1/packs/shadow/report', { auth })).status).toBe(200);
    expect((await call(app, 'delete', '/v1/packs/shadow', { auth, body: { reason: 'done' } })).status).toBe(200);
    expect((await call(app, 'delete', '/v1/packs/shadow', { auth })).status).toBe(404);
    expect((await call(app, 'post', '/v1/packs/rollback', { auth, body: { reason: 'back' } })).status).toBe(200);
    expect((await call(app, 'post', '/v1/packs/rollback', { auth, body: { to: first } })).status).toBe(409);
    expect((await call(app, 'post', '/v1/packs/rollback', { auth, body: { to: 'nope' } })).status).toBe(400);
    expect((await call(app, 'get', '/v1/packs', { auth })).status).toBe(200);
  });

  it('lists, overrides, counters, audit, decisions, erasure', async () => {
    const { app } = await dep.instance();
    const auth = admin;
    const ips = dep.names.ips;
    expect((await call(app, 'get', '/v1/lists', { auth })).status).toBe(200);
    expect((await call(app, 'post', '/v1/lists/{name}', { auth, params: { name: ips }, body: { entries: ['198.51.100.7'], ttl: '2h', reason: 'r' } })).status).toBe(200);
    expect((await call(app, 'post', '/v1/lists/{name}', { auth, params: { name: ips }, body: { entries: ['not-an-ip'] } })).status).toBe(422);
    expect((await call(app, 'get', '/v1/lists/{name}', { auth, params: { name: ips } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/lists/{name}', { auth, params: { name: 'undeclared' } })).status).toBe(404);
    expect((await call(app, 'delete', '/v1/lists/{name}', { auth, params: { name: ips }, body: { entries: ['198.51.100.7'] } })).status).toBe(200);
    expect((await call(app, 'put', '/v1/overrides/{rule}', { auth, params: { rule: 'blocked_ip' }, body: { mode: 'off', ttl: '30m', reason: 'false positives' } })).status).toBe(200);
    expect((await call(app, 'put', '/v1/overrides/{rule}', { auth, params: { rule: 'blocked_ip' }, body: { mode: 'loud' } })).status).toBe(400);
    expect((await call(app, 'get', '/v1/overrides', { auth })).status).toBe(200);
    expect((await call(app, 'delete', '/v1/overrides/{rule}', { auth, params: { rule: 'blocked_ip' } })).status).toBe(200);
    expect((await call(app, 'delete', '/v1/overrides/{rule}', { auth, params: { rule: 'blocked_ip' } })).status).toBe(404);
    expect((await call(app, 'delete', '/v1/counters', { auth, body: { ip: '81.2.69.142', user: 'u-openapi' } })).status).toBe(200);
    expect((await call(app, 'delete', '/v1/counters', { auth, body: {} })).status).toBe(400);
    expect((await call(app, 'get', '/v1/audit', { auth, query: { limit: '5' } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/audit', { auth, query: { action: 'nope' } })).status).toBe(400);
    expect((await call(app, 'get', '/v1/decisions', { auth, query: { limit: '5' } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/decisions', { auth, query: { limit: '0' } })).status).toBe(400);
    expect((await call(app, 'get', '/v1/decisions/{id}', { auth, params: { id: 'nope' } })).status).toBe(404);
    expect((await call(app, 'get', '/v1/users/{id}/security-log', { auth, params: { id: 'u-openapi' }, query: { limit: '5' } })).status).toBe(200);
    expect((await call(app, 'get', '/v1/users/{id}/security-log', { auth, params: { id: 'u-openapi' }, query: { limit: '101' } })).status).toBe(400);
    expect((await call(app, 'delete', '/v1/users/{id}/history', { auth, params: { id: 'u-openapi' } })).status).toBe(200);
    // No model file configured: the reload is refused (422 model_rejected).
    expect((await call(app, 'post', '/v1/model/reload', { auth })).status).toBe(422);
  });

  it('a kept decision (with its explain trace) validates too', async () => {
    const t = await testApp();
    const r = await call(t.app, 'post', '/v1/evaluate', { body: EVENT, auth: `Bearer ${API_TOKEN}` });
    const id = (r.body as { decision_id: string }).decision_id;
    expect((await call(t.app, 'get', '/v1/decisions/{id}', { auth: admin, params: { id } })).status).toBe(200);
    expect((await call(t.app, 'get', '/v1/decisions/{id}', { auth: admin, params: { id }, query: { explain: '1' } })).status).toBe(200);
    expect((await call(t.app, 'get', '/v1/decisions', { auth: admin })).status).toBe(200);
    const log = await call(t.app, 'get', '/v1/users/{id}/security-log', { auth: admin, params: { id: EVENT.user.id } });
    expect(log.status).toBe(200);
    expect((log.body as { entries: unknown[] }).entries).toHaveLength(1);
  });

  it('covered the answers that matter', () => {
    for (const k of [
      'POST /v1/evaluate 200',
      'POST /v1/evaluate 400',
      'POST /v1/evaluate 401',
      'POST /v1/outcome 204',
      'POST /v1/outcome 404',
      'GET /readyz 503',
      'GET /v1/packs 200',
      'GET /v1/packs 401',
      'GET /v1/packs 404',
      'PUT /v1/packs/active 200',
      'PUT /v1/packs/active 422',
      'POST /v1/packs/validate 200',
      'POST /v1/packs/rollback 200',
      'POST /v1/packs/rollback 409',
      'GET /v1/lists/{name} 200',
      'POST /v1/lists/{name} 422',
      'GET /v1/decisions 200',
      'GET /v1/decisions/{id} 200',
      'GET /v1/audit 200',
      'GET /v1/users/{id}/security-log 200',
      'GET /v1/users/{id}/security-log 400',
    ]) {
      expect(seen, k).toContain(k);
    }
  });
});
