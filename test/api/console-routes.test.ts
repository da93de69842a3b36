// The console's server side over the real engine (in-process signal store, the decision log on
// PostgreSQL): the static files and their headers, POST /v1/packs/backtest, GET and POST
// /v1/packs/diff, GET /v1/packs/files, GET /v1/lists, GET /v1/decisions/:id?explain=1 and
// `vigil explain` printing the same trace from a listening server.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createApp, createHttpServer } from '../../api/app.ts';
import { CONSOLE_CSP } from '../../api/routes/console.ts';
import { createMetrics } from '../../api/metrics.ts';
import { bufferIO } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { createDecisionLog } from '../../decisionlog/index.ts';
import { createEngine } from '../../engine/index.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { createMemoryStore } from '../../features/store/index.ts';
import { ADMIN_TOKEN, GOOD_PACK, errorCode, logSink, readFiles, testPackManager } from './helpers.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';

const admin = `Bearer ${ADMIN_TOKEN}`;
const schemas: string[] = [];
let app: ReturnType<typeof createApp>;
let engine: Engine;
let packs: PackManager;

beforeAll(() => requirePostgres());
afterAll(async () => {
  for (const s of schemas) await dropSchema(postgresUrl(), s);
});

beforeEach(async () => {
  const logs = logSink();
  packs = testPackManager({ logger: logs.logger });
  await packs.start();
  const schema = uniqueSchema('console_routes');
  schemas.push(schema);
  engine = createEngine({
    store: createMemoryStore({ hashSecret: 'console-routes-secret-0123' }),
    geoip: null,
    packs: () => packs.current(),
    signalTimeoutMs: 25,
    log: await createDecisionLog({ url: postgresUrl(), schema, requireDb: true, flushMs: 5 }),
    logger: logs.logger,
  });
  app = createApp({ engine, packs, logger: logs.logger, metrics: createMetrics(new Registry()), config: { apiToken: undefined, adminToken: ADMIN_TOKEN, maxSkewMs: 300_000 } });
});

afterEach(async () => {
  await engine.close();
  await packs.close();
});

const GOOD = readFiles(GOOD_PACK);
/** The good pack with `no_mfa` answering allow instead of step_up. */
const RELAXED = { ...GOOD, 'main.rules': GOOD['main.rules']!.replace('pack api_test version 1', 'pack api_test version 2').replace('  then step_up\n  score 30', '  score 5').replace(/test "no mfa steps up" \{[\s\S]*?\n\}\n/, '') };

async function evaluate(user: string, mfa: boolean, ip = '198.51.100.7'): Promise<string> {
  const res = await request(app).post('/v1/evaluate').send({ type: 'login', user: { id: user, mfa }, ip });
  expect(res.status).toBe(200);
  return res.body.decision_id as string;
}

describe('the console files', () => {
  it('are served without a token, with a strict CSP and nosniff', async () => {
    const page = await request(app).get('/console');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).not.toContain('unsafe-inline');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.text).toContain('<script type="module" src="/console/console.js"></script>');
    // No inline script or style: every <script> has a src, and no element carries an on* handler or style.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/\son[a-z]+=|\sstyle=/);
    const js = await request(app).get('/console/console.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.text).toContain("sessionStorage");
    const css = await request(app).get('/console/console.css');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await request(app).get('/console/other.js')).status).toBe(404);
  });

  it('do not exist while the admin API is off', async () => {
    const off = createApp({ engine, packs, logger: logSink().logger, metrics: createMetrics(new Registry()), config: { apiToken: undefined, adminToken: undefined, maxSkewMs: 300_000 } });
    expect((await request(off).get('/console')).status).toBe(404);
    expect((await request(off).get('/console/console.js')).status).toBe(404);
  });
});

describe('POST /v1/packs/backtest', () => {
  it('evaluates the candidate and the active pack on the last decisions and lists the changes', async () => {
    const ids = [await evaluate('a', false), await evaluate('b', true), await evaluate('c', false), await evaluate('d', true)];
    const res = await request(app).post('/v1/packs/backtest').set('Authorization', admin).send({ files: RELAXED, limit: 3 });
    expect(res.status).toBe(200);
    expect(res.body.events).toBe(3);
    expect(res.body.active.pack).toMatchObject({ name: 'api_test', version: 1 });
    expect(res.body.candidate.pack).toMatchObject({ name: 'api_test', version: 2 });
    // The three newest: d (mfa), c (no mfa), b (mfa).
    expect(res.body.active.decisions).toEqual({ allow: 2, step_up: 1, block: 0 });
    expect(res.body.candidate.decisions).toEqual({ allow: 3, step_up: 0, block: 0 });
    expect(res.body.kept.decisions).toEqual({ allow: 2, step_up: 1, block: 0 });
    expect(res.body.reproduced).toBe(3);
    expect(res.body.changed).toBe(1);
    expect(res.body.changes).toEqual([
      expect.objectContaining({ decision_id: ids[2], type: 'login', before: 'step_up', after: 'allow', rules_before: ['no_mfa'], rules_after: ['no_mfa'] }),
    ]);
    expect(res.body.rules).toContainEqual({ name: 'no_mfa', active: 1, candidate: 1 });
    expect(res.body.diff).toEqual({ rules_added: [], rules_removed: [], rules_changed: ['no_mfa'], files_changed: ['main.rules'] });
    expect(res.body.tests).toMatchObject({ passed: 1, failed: 0 });
    expect(res.body.notes.join(' ')).toContain('ip.address');
  });

  it('refuses a pack that does not compile (422 with diagnostics), a bad limit (400), and a missing token (401)', async () => {
    const broken = await request(app).post('/v1/packs/backtest').set('Authorization', admin).send({ files: { 'main.rules': 'pack x version 1\nrule r { when nope.nope then block }\n' } });
    expect(broken.status).toBe(422);
    expect(errorCode(broken.body)).toBe('pack_rejected');
    expect(broken.body.error.details.diagnostics[0]).toMatchObject({ line: 2 });
    const bad = await request(app).post('/v1/packs/backtest').set('Authorization', admin).send({ files: GOOD, limit: 0 });
    expect(bad.status).toBe(400);
    expect((await request(app).post('/v1/packs/backtest').send({ files: GOOD })).status).toBe(401);
  });
});

describe('pack versions: files and diffs', () => {
  it('GET /v1/packs/files opens the active pack or a version of the history', async () => {
    const active = await request(app).get('/v1/packs/files').set('Authorization', admin);
    expect(active.status).toBe(200);
    expect(active.body.meta).toMatchObject({ name: 'api_test', version: 1 });
    expect(Object.keys(active.body.files).sort()).toEqual(['lists/blocked.txt', 'main.rules']);
    const v1 = active.body.meta.hash as string;
    expect((await request(app).put('/v1/packs/active').set('Authorization', admin).send({ files: RELAXED })).status).toBe(200);
    const old = await request(app).get(`/v1/packs/files?hash=${encodeURIComponent(v1)}`).set('Authorization', admin);
    expect(old.status).toBe(200);
    expect(old.body.meta.version).toBe(1);
    expect(old.body.files['main.rules']).toBe(GOOD['main.rules']);
    expect((await request(app).get(`/v1/packs/files?hash=sha256:${'0'.repeat(64)}`).set('Authorization', admin)).status).toBe(404);
    expect((await request(app).get('/v1/packs/files?hash=nope').set('Authorization', admin)).status).toBe(400);
    expect((await request(app).get('/v1/packs/files?other=1').set('Authorization', admin)).status).toBe(400);
  });

  it('GET /v1/packs/diff previews a rollback; POST previews an activation', async () => {
    const none = await request(app).get('/v1/packs/diff').set('Authorization', admin);
    expect(none.status).toBe(409);
    const preview = await request(app).post('/v1/packs/diff').set('Authorization', admin).send({ files: RELAXED });
    expect(preview.status).toBe(200);
    expect(preview.body.from).toMatchObject({ version: 1 });
    expect(preview.body.to).toMatchObject({ version: 2 });
    expect(preview.body.diff.rules_changed).toEqual(['no_mfa']);
    expect((await request(app).put('/v1/packs/active').set('Authorization', admin).send({ files: RELAXED })).status).toBe(200);
    const back = await request(app).get('/v1/packs/diff').set('Authorization', admin);
    expect(back.status).toBe(200);
    expect(back.body.from).toMatchObject({ version: 2 });
    expect(back.body.to).toMatchObject({ version: 1 });
    expect(back.body.diff.rules_changed).toEqual(['no_mfa']);
    expect((await request(app).get(`/v1/packs/diff?to=sha256:${'f'.repeat(64)}`).set('Authorization', admin)).status).toBe(404);
    const broken = await request(app).post('/v1/packs/diff').set('Authorization', admin).send({ files: { 'main.rules': 'pack x version 1\nrule r { when nope.nope then block }\n' } });
    expect(broken.status).toBe(422);
  });
});

describe('GET /v1/lists', () => {
  it('names the redis lists the active pack declares', async () => {
    const res = await request(app).get('/v1/lists').set('Authorization', admin);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ lists: [] });
    const files = { ...GOOD, 'main.rules': `${GOOD['main.rules']!.replace('version 1', 'version 3')}\nlist frozen: string = redis "vigil:frozen"\nrule frozen_user { when user.id in frozen then block }\n` };
    expect((await request(app).put('/v1/packs/active').set('Authorization', admin).send({ files })).status).toBe(200);
    const after = await request(app).get('/v1/lists').set('Authorization', admin);
    expect(after.body).toEqual({ lists: [{ name: 'vigil:frozen', kind: 'string', expires: true }] });
  });
});

describe('GET /v1/decisions/:id?explain=1', () => {
  it('adds the trace recomputed from the kept features with the active pack', async () => {
    const id = await evaluate('u-explain', false);
    const plain = await request(app).get(`/v1/decisions/${id}`).set('Authorization', admin);
    expect(plain.body.explain).toBeUndefined();
    const res = await request(app).get(`/v1/decisions/${id}?explain=1`).set('Authorization', admin);
    expect(res.status).toBe(200);
    expect(res.body.decision_id).toBe(id);
    const x = res.body.explain;
    expect(x.same_pack).toBe(true);
    expect(x.decided_by).toEqual(x.traced_with);
    expect(x.kept).toEqual({ rules: ['no_mfa'], shadow: [] });
    expect(x.trace).toMatchObject({ event_type: 'login', decision: 'step_up', score: 30, via: 'policy' });
    const noMfa = x.trace.rules.find((r: { rule: string }) => r.rule === 'no_mfa');
    expect(noMfa).toMatchObject({ applies: true, matched: true, mode: 'enforce', action: 'step_up', score: 30 });
    expect(noMfa.when).toMatchObject({ expr: 'user.mfa == false', value: true, shown: 'true', children: [{ expr: 'user.mfa', value: false, shown: 'false', type: 'bool' }] });
    const recovery = x.trace.rules.find((r: { rule: string }) => r.rule === 'watch_recovery');
    expect(recovery).toMatchObject({ applies: false, matched: false });
    const blocked = x.trace.rules.find((r: { rule: string }) => r.rule === 'blocked_net');
    expect(blocked.when.children[0]).toMatchObject({ expr: 'ip.address', value: null, shown: 'missing' });
    expect(x.trace.policy).toMatchObject({ policy: null, score: 30, consulted: true, chosen: 1 });
    expect(x.differs).toEqual([]);
    expect(x.notes.join(' ')).toContain('ip.address is never kept');
    expect((await request(app).get(`/v1/decisions/${id}?explain=yes`).set('Authorization', admin)).status).toBe(400);
  });

  it('says which pack decided when the active one has changed', async () => {
    const id = await evaluate('u-changed', false);
    expect((await request(app).put('/v1/packs/active').set('Authorization', admin).send({ files: RELAXED })).status).toBe(200);
    const res = await request(app).get(`/v1/decisions/${id}?explain=true`).set('Authorization', admin);
    const x = res.body.explain;
    expect(x.same_pack).toBe(false);
    expect(x.decided_by.version).toBe(1);
    expect(x.traced_with.version).toBe(2);
    expect(x.notes[0]).toMatch(/^Decided by api_test v1 .*this trace uses the active pack api_test v2/);
    expect(x.trace.decision).toBe('allow');
  });

  it('vigil explain prints the same trace from a running server', async () => {
    const id = await evaluate('u-cli', false);
    const server: Server = createHttpServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const io = bufferIO();
      expect(await main(['explain', id, '--url', url], io, { env: { VIGIL_ADMIN_TOKEN: ADMIN_TOKEN } })).toBe(0);
      const out = io.out();
      expect(out).toContain(`decision ${id}`);
      expect(out).toContain('trace with api_test v1: STEP_UP (score 30), decided by the policy');
      expect(out).toMatch(/^ {2}rule no_mfa \[enforce, step_up, score 30\] line \d+: MATCHED$/m);
      expect(out).toMatch(/^ {4}user\.mfa == false {2}= true$/m);
      expect(out).toMatch(/^ {6}user\.mfa {2}= false$/m);
      expect(out).toMatch(/^ {2}rule watch_recovery .*: not for this event type$/m);
      expect(out).toContain('note: ip.address is never kept');
      const json = bufferIO();
      expect(await main(['explain', id, '--url', url, '--json'], json, { env: { VIGIL_ADMIN_TOKEN: ADMIN_TOKEN } })).toBe(0);
      expect(JSON.parse(json.out()).explain.trace.decision).toBe('step_up');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
