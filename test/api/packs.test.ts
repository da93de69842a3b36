// Rule packs through the API and the manager (in-process repository): validate, activate (forced
// past failing tests with a reason), refuse, roll back (to the previous version or a named hash,
// each a new entry of the append-only history), list, read a stored pack; audit lines and audit
// entries; directory reload and SIGHUP-style reload; the start rule.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryPackRepository, diffPacks, ruleSources } from '../../engine/packs/index.ts';
import { ADMIN_TOKEN, API_TOKEN, GOOD_EVENT, GOOD_PACK, errorCode, logSink, readFiles, testApp, testPackManager, type TestApp } from './helpers.ts';

const admin = `Bearer ${ADMIN_TOKEN}`;
const GOOD_FILES = readFiles(GOOD_PACK);
const MAIN = GOOD_FILES['main.rules']!;

/** The good pack, version 2, with one more rule (recovery without MFA is blocked). */
const V2_FILES = {
  ...GOOD_FILES,
  'main.rules':
    MAIN.replace('version 1', 'version 2') +
    `
rule recovery_no_mfa {
  on recovery
  when user.mfa == false
  then block
}
`,
};

const BROKEN_MAIN = `pack api_test version 3

rule bad {
  when geo.contry == "BR"
  then block
}
`;

const FAILING_TEST = `pack api_test version 4

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

let t: TestApp;
beforeEach(async () => {
  t = await testApp();
});

function put(body: string | object, actor?: string) {
  const req = request(t.app).put('/v1/packs/active').set('Authorization', admin);
  if (actor) req.set('X-Vigil-Actor', actor);
  return typeof body === 'string' ? req.set('Content-Type', 'text/plain').send(body) : req.send(body);
}

describe('POST /v1/packs/validate', () => {
  it('a good pack: ok, its tests passed, nothing activated', async () => {
    const res = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).send({ files: V2_FILES });
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.tests).toMatchObject({ passed: 2, failed: 0 });
    expect(res.body.pack).toMatchObject({ name: 'api_test', version: 2 });
    expect(t.packs.current()!.meta.version).toBe(1);
  });

  it('a broken pack: ok false with diagnostics (code and position)', async () => {
    const res = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).set('Content-Type', 'text/plain').send(BROKEN_MAIN);
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(false);
    expect(res.body.pack).toBeNull();
    expect(res.body.diagnostics).toEqual([expect.objectContaining({ code: 'E_UNKNOWN_NAME', severity: 'error', line: 4, col: 8 })]);
    expect(res.body.rendered).toContain('error[E_UNKNOWN_NAME]');
  });

  it('a syntax error reports E_SYNTAX at its position', async () => {
    const res = await request(t.app)
      .post('/v1/packs/validate')
      .set('Authorization', admin)
      .set('Content-Type', 'text/plain')
      .send('pack x version 1\nrule r {\n  when user.mfa ==\n}\n');
    expect(res.body.ok).toBe(false);
    expect(res.body.diagnostics[0]).toMatchObject({ code: 'E_SYNTAX', line: 4, col: 1 });
  });

  it('failing tests: ok false, the failure listed', async () => {
    const res = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).set('Content-Type', 'text/plain').send(FAILING_TEST);
    expect(res.body.ok).toBe(false);
    expect(res.body.tests).toMatchObject({ passed: 0, failed: 1 });
    expect(res.body.tests.failures[0]).toMatchObject({ name: 'expects the wrong thing', line: 8, col: 1 });
  });

  it.each([
    ['a path leaving the pack', { files: { '../main.rules': MAIN } }],
    ['an absolute path', { files: { '/etc/main.rules': MAIN } }],
    ['a backslash path', { files: { 'lists\\..\\main.rules': MAIN } }],
    ['no top-level .rules file', { files: { 'lists/a.txt': 'x' } }],
    ['a non-string file', { files: { 'main.rules': 5 } }],
    ['files as an array', { files: [] }],
    ['no files key', { rules: MAIN }],
  ])('%s → 400', async (_label, body) => {
    const path = 'files';
    const res = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).send(body);
    expect(res.status).toBe(400);
    expect(errorCode(res.body)).toBe('invalid_request');
    expect(res.body.error.details.map((d: { path: string }) => d.path.split('.')[0])).toContain(path);
  });

  it('an empty text body → 400; another Content-Type → 415; over 1 MB → 413', async () => {
    const empty = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).set('Content-Type', 'text/plain').send('  \n');
    expect(empty.status).toBe(400);
    const xml = await request(t.app).post('/v1/packs/validate').set('Authorization', admin).set('Content-Type', 'application/xml').send('<pack/>');
    expect(xml.status).toBe(415);
    expect(errorCode(xml.body)).toBe('unsupported_media_type');
    const big = await request(t.app)
      .post('/v1/packs/validate')
      .set('Authorization', admin)
      .set('Content-Type', 'text/plain')
      .send(`${MAIN}\n#${'x'.repeat(1024 * 1024)}`);
    expect(big.status).toBe(413);
    expect(errorCode(big.body)).toBe('payload_too_large');
  });
});

describe('PUT /v1/packs/active, GET /v1/packs, POST /v1/packs/rollback', () => {
  it('activates, audits with actor and diff, swaps evaluations, lists history', async () => {
    const before = t.packs.current()!;
    const res = await put({ files: V2_FILES }, 'alice');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('activated');
    expect(res.body.active).toMatchObject({ name: 'api_test', version: 2, by: 'alice', source: 'api' });
    expect(res.body.diff).toEqual({ rules_added: ['recovery_no_mfa'], rules_removed: [], rules_changed: [], files_changed: ['main.rules'] });
    expect(t.packs.current()!.meta.hash).toBe(res.body.active.hash);
    // the object an in-flight evaluation holds is untouched by the swap
    expect(before.meta.version).toBe(1);
    expect(before.pack.rules.map((r) => r.name)).not.toContain('recovery_no_mfa');

    const audit = t.logs.lines.filter((l) => l.audit === true && l.action === 'activate' && l.source === 'api');
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      result: 'ok',
      by: 'alice',
      hash: res.body.active.hash,
      previous_hash: before.meta.hash,
      diff: { rules_added: ['recovery_no_mfa'] },
    });
    expect(typeof audit[0]!.at).toBe('string');

    const ev = await request(t.app).post('/v1/evaluate').set('Authorization', `Bearer ${API_TOKEN}`).send({ ...GOOD_EVENT, type: 'recovery' });
    expect(ev.body.decision).toBe('block');
    expect(ev.body.pack.version).toBe(2);

    const list = await request(t.app).get('/v1/packs').set('Authorization', admin);
    expect(list.status).toBe(200);
    expect(list.body.active).toMatchObject({ version: 2, by: 'alice' });
    expect(list.body.history.map((m: { version: number; by: string }) => [m.version, m.by])).toEqual([[1, 'startup']]);
    for (const m of [list.body.active, ...list.body.history]) {
      expect(Object.keys(m).sort()).toEqual(['action', 'activated_at', 'by', 'hash', 'id', 'name', 'previous_hash', 'source', 'version']);
    }
    expect(list.body.active).toMatchObject({ action: 'activate', previous_hash: before.meta.hash });
    expect(list.body.history[0]).toMatchObject({ action: 'activate', previous_hash: null });
    // the audit log (GET /v1/audit) holds the start and the activation
    const entries = (await request(t.app).get('/v1/audit?action=pack_activate').set('Authorization', admin)).body.entries;
    expect(entries.map((e: { by: string; details: { source: string } }) => [e.by, e.details.source])).toEqual([
      ['alice', 'api'],
      ['startup', 'startup'],
    ]);
    expect(entries[0].details).toMatchObject({ hash: res.body.active.hash, previous_hash: before.meta.hash, forced: false, diff: { rules_added: ['recovery_no_mfa'] } });
  });

  it('activating the active pack again changes nothing', async () => {
    const res = await put({ files: GOOD_FILES });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('unchanged');
    expect((await t.packs.list()).history).toHaveLength(0);
    expect(t.logs.lines.filter((l) => l.audit === true && l.action === 'activate' && l.source === 'api')).toHaveLength(0);
  });

  it('a broken pack → 422 with diagnostics; the old pack keeps serving; the refusal is audited', async () => {
    const hash = t.packs.current()!.meta.hash;
    const res = await put(BROKEN_MAIN, 'bob');
    expect(res.status).toBe(422);
    expect(errorCode(res.body)).toBe('pack_rejected');
    expect(res.body.error.details.diagnostics).toEqual([expect.objectContaining({ code: 'E_UNKNOWN_NAME', line: 4, col: 8 })]);
    expect(t.packs.current()!.meta.hash).toBe(hash);
    const refused = t.logs.lines.find((l) => l.audit === true && l.result === 'rejected');
    expect(refused).toMatchObject({ action: 'activate', by: 'bob' });
    expect(refused!.errors).toEqual([expect.stringMatching(/:4:8 E_UNKNOWN_NAME$/)]);
  });

  it('a pack whose tests fail → 422 with the test failures', async () => {
    const res = await put(FAILING_TEST);
    expect(res.status).toBe(422);
    expect(res.body.error.details.tests).toMatchObject({ passed: 0, failed: 1 });
    expect(res.body.error.details.tests.failures[0].name).toBe('expects the wrong thing');
    expect(t.packs.current()!.meta.version).toBe(1);
  });

  it('rollback reactivates the previous version as a new entry; the version rolled away from stays listed', async () => {
    const v1 = t.packs.current()!.meta.hash;
    const v2 = (await put({ files: V2_FILES }, 'alice')).body.active.hash as string;
    const res = await request(t.app)
      .post('/v1/packs/rollback')
      .set('Authorization', admin)
      .set('X-Vigil-Actor', 'carol')
      .send({ reason: 'INC-7: v2 blocks every recovery' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('rolled_back');
    expect(res.body.active).toMatchObject({
      version: 1,
      hash: v1,
      by: 'carol',
      source: 'rollback',
      action: 'rollback',
      previous_hash: v2,
      reason: 'INC-7: v2 blocks every recovery',
    });
    expect(res.body.from).toMatchObject({ version: 2, by: 'alice', hash: v2 });
    expect(res.body.diff.rules_removed).toEqual(['recovery_no_mfa']);
    expect(t.packs.current()!.meta.hash).toBe(v1);
    expect(t.logs.lines.find((l) => l.audit === true && l.action === 'rollback')).toMatchObject({ by: 'carol', hash: v1, previous_hash: v2 });
    const audited = (await request(t.app).get('/v1/audit?action=pack_rollback').set('Authorization', admin)).body.entries;
    expect(audited).toEqual([
      expect.objectContaining({ by: 'carol', reason: 'INC-7: v2 blocks every recovery', details: expect.objectContaining({ hash: v1, previous_hash: v2, to: 'previous' }) }),
    ]);

    const list = await request(t.app).get('/v1/packs').set('Authorization', admin);
    expect(list.body.active).toMatchObject({ hash: v1, action: 'rollback' });
    expect(list.body.history.map((m: { version: number; action: string; by: string }) => [m.version, m.action, m.by])).toEqual([
      [2, 'activate', 'alice'],
      [1, 'activate', 'startup'],
    ]);

    // Without `to`, a second rollback undoes the first: back to v2, a third entry on top.
    const again = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin);
    expect(again.status).toBe(200);
    expect(again.body.active).toMatchObject({ hash: v2, action: 'rollback', previous_hash: v1, by: 'admin' });
    expect(again.body.active.reason).toBeUndefined();
    expect((await t.packs.list()).history.map((m) => m.action)).toEqual(['rollback', 'activate', 'activate']);
  });

  it('rollback to a listed hash; an unknown hash → 404, the active one → 409, a malformed one → 400', async () => {
    const v1 = t.packs.current()!.meta.hash;
    await put({ files: V2_FILES });
    const v3 = (await put({ files: { ...V2_FILES, 'main.rules': V2_FILES['main.rules']!.replace('version 2', 'version 3') } })).body.active.hash;
    const res = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).send({ to: v1, reason: 'back to the shipped rules' });
    expect(res.status).toBe(200);
    expect(res.body.active).toMatchObject({ version: 1, hash: v1, previous_hash: v3, action: 'rollback' });
    expect(res.body.from).toMatchObject({ version: 3 });
    expect(t.packs.current()!.meta.version).toBe(1);

    const unknown = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).send({ to: `sha256:${'0'.repeat(64)}` });
    expect(unknown.status).toBe(404);
    expect(errorCode(unknown.body)).toBe('not_found');
    const current = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).send({ to: v1 });
    expect(current.status).toBe(409);
    expect(errorCode(current.body)).toBe('conflict');
    expect(current.body.error.message).toContain('already the active pack');
    for (const body of [{ to: 'v1' }, { to: 5 }, { reason: '' }, { reason: 'x'.repeat(501) }, []]) {
      const bad = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).send(body);
      expect(bad.status).toBe(400);
      expect(errorCode(bad.body)).toBe('invalid_request');
    }
    expect((await t.packs.list()).history).toHaveLength(3);
  });

  it('rollback with a single entry in the history → 409', async () => {
    const res = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin);
    expect(res.status).toBe(409);
    expect(errorCode(res.body)).toBe('conflict');
    const list = await request(t.app).get('/v1/packs').set('Authorization', admin);
    expect(list.body.history).toEqual([]);
  });

  it('GET /v1/packs/:hash: a stored pack with its files; unknown or malformed → 404', async () => {
    const v1 = t.packs.current()!.meta;
    const v2 = (await put({ files: V2_FILES })).body.active;
    const old = await request(t.app).get(`/v1/packs/${encodeURIComponent(v1.hash)}`).set('Authorization', admin);
    expect(old.status).toBe(200);
    expect(old.body.pack).toMatchObject({ hash: v1.hash, version: 1 });
    expect(old.body.files).toEqual(GOOD_FILES);
    const cur = await request(t.app).get(`/v1/packs/${v2.hash}`).set('Authorization', admin);
    expect(cur.body.pack).toEqual(v2);
    expect(cur.body.files['main.rules']).toBe(V2_FILES['main.rules']);
    for (const h of [`sha256:${'1'.repeat(64)}`, 'nothing', 'active']) {
      const r = await request(t.app).get(`/v1/packs/${h}`).set('Authorization', admin);
      expect(r.status).toBe(404);
      expect(errorCode(r.body)).toBe('not_found');
    }
    expect((await request(t.app).get(`/v1/packs/${v2.hash}`)).status).toBe(401);
  });

  it('?reason= is kept in the history entry and the audit entry', async () => {
    const res = await put({ files: V2_FILES }, 'alice').query({ reason: 'INC-9 tighten recovery' });
    expect(res.status).toBe(200);
    expect(res.body.active).toMatchObject({ reason: 'INC-9 tighten recovery' });
    expect(t.audit.entries.filter((e) => e.action === 'pack_activate').at(-1)).toMatchObject({ by: 'alice', reason: 'INC-9 tighten recovery' });
  });

  it('a pack store failure (Redis down) → 503; the active pack keeps serving', async () => {
    const repo = createMemoryPackRepository();
    t = await testApp({ repo });
    const hash = t.packs.current()!.meta.hash;
    const boom = async (): Promise<never> => {
      throw new Error('Connection is closed.');
    };
    Object.assign(repo, { push: boom, list: boom });
    for (const res of [
      await put({ files: V2_FILES }),
      await request(t.app).post('/v1/packs/rollback').set('Authorization', admin),
      await request(t.app).get('/v1/packs').set('Authorization', admin),
    ]) {
      expect(res.status).toBe(503);
      expect(errorCode(res.body)).toBe('unavailable');
      expect(JSON.stringify(res.body)).not.toContain('Connection is closed');
    }
    expect(t.packs.current()!.meta.hash).toBe(hash);
  });

  it('force=1 with a reason activates a pack whose tests fail, recorded as forced; never one with errors', async () => {
    const v1 = t.packs.current()!.meta.hash;
    const noReason = await put(FAILING_TEST).query({ force: '1' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.details).toEqual([expect.objectContaining({ path: 'reason' })]);
    for (const q of [{ force: 'yes', reason: 'x' }, { reason: '' }, { frobnicate: '1' }]) {
      const bad = await put(FAILING_TEST).query(q);
      expect(bad.status).toBe(400);
    }
    const broken = await put(BROKEN_MAIN).query({ force: '1', reason: 'no' });
    expect(broken.status).toBe(422);
    expect(broken.body.error.message).toContain('force overrides failing tests only');
    expect(t.packs.current()!.meta.hash).toBe(v1);

    const res = await put(FAILING_TEST, 'oncall').query({ force: 'true', reason: 'the test expects the old threshold' });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('activated');
    expect(res.body.active).toMatchObject({ version: 4, forced: true, reason: 'the test expects the old threshold', by: 'oncall' });
    expect(res.body.tests).toMatchObject({ failed: 1 });
    expect(t.packs.current()!.meta.version).toBe(4);
    expect(t.audit.entries.at(-1)).toMatchObject({
      action: 'pack_activate',
      by: 'oncall',
      reason: 'the test expects the old threshold',
      details: expect.objectContaining({ forced: true, tests_failed: 1 }),
    });
    expect(t.logs.lines.find((l) => l.audit === true && l.forced === true)).toMatchObject({ action: 'activate', tests_failed: 1 });

    // a forced entry can be rolled back to (its tests still fail), and stays forced
    await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).expect(200);
    const back = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin);
    expect(back.status).toBe(200);
    expect(back.body.active).toMatchObject({ version: 4, forced: true, action: 'rollback' });

    // force on a pack whose tests pass: activated as usual, not marked
    const fine = await put({ files: V2_FILES }).query({ force: '1', reason: 'r' });
    expect(fine.body.active.forced).toBeUndefined();
  });
});

describe('VIGIL_RULES directory: watch, SIGHUP reload, start rule', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'vigil-pack-'));
    cpSync(GOOD_PACK, dir, { recursive: true });
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function until(cond: () => boolean, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it('a change in the directory is reloaded; a broken one is refused and the old pack serves', async () => {
    const logs = logSink();
    const m = testPackManager({ rulesPath: dir, logger: logs.logger, debounceMs: 50 });
    await m.start();
    m.watch();
    const v1 = m.current()!.meta.hash;
    writeFileSync(join(dir, 'main.rules'), V2_FILES['main.rules']!);
    await until(() => m.current()!.meta.version === 2);
    expect(m.current()!.meta).toMatchObject({ source: 'dir', by: 'file-watch' });
    expect(m.current()!.meta.hash).not.toBe(v1);

    writeFileSync(join(dir, 'main.rules'), BROKEN_MAIN);
    await until(() => logs.lines.some((l) => l.result === 'rejected'));
    expect(m.current()!.meta.version).toBe(2);
    const refused = logs.lines.find((l) => l.result === 'rejected')!;
    expect(refused).toMatchObject({ audit: true, action: 'reload', source: 'dir' });
    // The diagnostics, not the rendered source the caret lines quote.
    expect(refused.diagnostics).toEqual([expect.objectContaining({ code: 'E_UNKNOWN_NAME', severity: 'error', at: expect.stringMatching(/main\.rules:4:8$/) })]);
    expect(String(refused.msg)).not.toContain('^');

    // a list file change reloads too
    writeFileSync(join(dir, 'main.rules'), MAIN);
    await until(() => m.current()!.meta.version === 1);
    writeFileSync(join(dir, 'lists', 'blocked.txt'), '203.0.113.0/24\n198.51.100.0/24\n');
    await until(() => m.current()!.meta.source === 'dir' && m.current()!.files['lists/blocked.txt'] === '203.0.113.0/24\n198.51.100.0/24\n');
    await m.close();
  });

  it('reloadFromPath (SIGHUP) activates the directory; an unreadable one keeps the old pack', async () => {
    const m = testPackManager({ rulesPath: dir });
    await m.start();
    writeFileSync(join(dir, 'main.rules'), V2_FILES['main.rules']!);
    const r = await m.reloadFromPath('sighup');
    expect(r.status).toBe('activated');
    expect(m.current()!.meta).toMatchObject({ version: 2, source: 'sighup', by: 'sighup' });
    expect((await m.reloadFromPath('sighup')).status).toBe('unchanged');
    rmSync(dir, { recursive: true, force: true });
    const gone = await m.reloadFromPath('sighup');
    expect(gone.status === 'unreadable' || gone.status === 'rejected').toBe(true);
    expect(m.current()!.meta.version).toBe(2);
    await m.close();
  });

  it('at start the stored head wins unless the directory holds a pack never activated before', async () => {
    const repo = createMemoryPackRepository();
    const a = testPackManager({ repo, rulesPath: dir });
    await a.start();
    const pushed = await a.activate(V2_FILES, { by: 'alice' });
    expect(pushed.status).toBe('activated');
    // restart with the same directory (v1, already seen): the API push survives
    const b = testPackManager({ repo, rulesPath: dir });
    await b.start();
    expect(b.current()!.meta).toMatchObject({ version: 2, by: 'alice' });
    // a deployment ships new rules: the new directory content wins
    writeFileSync(join(dir, 'main.rules'), MAIN.replace('version 1', 'version 9'));
    const c = testPackManager({ repo, rulesPath: dir });
    await c.start();
    expect(c.current()!.meta).toMatchObject({ version: 9, source: 'startup' });
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('start fails with the diagnostics when nothing compiles', async () => {
    writeFileSync(join(dir, 'main.rules'), BROKEN_MAIN);
    const m = testPackManager({ rulesPath: dir });
    await expect(m.start()).rejects.toThrow(/E_UNKNOWN_NAME/);
    await expect(testPackManager({ rulesPath: join(dir, 'missing') }).start()).rejects.toThrow(/no rule pack/);
  });

  it('a single-file VIGIL_RULES works', async () => {
    writeFileSync(join(dir, 'solo.rules'), 'pack solo version 3\nrule r {\n  when user.mfa == false\n  score 5\n}\n');
    const m = testPackManager({ rulesPath: join(dir, 'solo.rules') });
    await m.start();
    expect(m.current()!.meta).toMatchObject({ name: 'solo', version: 3 });
    expect(Object.keys(m.current()!.files)).toEqual(['solo.rules']);
  });

  it('a pack read from disk and the same files uploaded have one hash', async () => {
    const m = testPackManager({ rulesPath: dir });
    await m.start();
    const fromDisk = m.current()!.meta.hash;
    expect((await m.check(readFiles(dir))).pack!.hash).toBe(fromDisk);
    expect(Object.keys(m.current()!.files).sort()).toEqual(['lists/blocked.txt', 'main.rules']);
    expect(readFileSync(join(dir, 'main.rules'), 'utf8')).toBe(m.current()!.files['main.rules']);
  });
});

describe('diff summary', () => {
  it('finds rule source changes, ignoring comments and layout, and braces in strings', () => {
    const a = 'pack p version 1\nrule r1 {\n  when x.y == 1 # c\n  reason "{geo.country} }"\n then block\n}\nrule r2 { when a.b then allow }\n';
    const b = 'pack p version 2\n# moved\nrule r1 {\n  when x.y == 1\n  reason "{geo.country} }"\n  then block\n}\nrule r2 { when a.b == false then allow }\n';
    const sa = ruleSources({ 'm.rules': a });
    const sb = ruleSources({ 'm.rules': b });
    expect([...sa.keys()]).toEqual(['r1', 'r2']);
    expect(sa.get('r1')).toBe(sb.get('r1'));
    expect(sa.get('r2')).not.toBe(sb.get('r2'));
  });

  it('reports added, removed, changed rules and changed files', async () => {
    const m = testPackManager();
    const one = await m.check(GOOD_FILES);
    const two = await m.check({
      ...GOOD_FILES,
      'lists/blocked.txt': '203.0.113.0/24\n198.51.100.0/24\n',
      'main.rules': MAIN.replace('score 30', 'score 35').replace(/rule watch_recovery \{[^}]*\}/, 'rule fresh {\n  when user.mfa\n  score 1\n}'),
    });
    expect(two.ok).toBe(true);
    expect(diffPacks({ pack: one.pack!, files: one.files }, { pack: two.pack!, files: two.files })).toEqual({
      rules_added: ['fresh'],
      rules_removed: ['watch_recovery'],
      rules_changed: ['no_mfa'],
      files_changed: ['lists/blocked.txt', 'main.rules'],
    });
  });
});
