// Rule packs through the API and the manager (in-process repository): validate, activate, refuse,
// roll back, list; the audit log; directory reload and SIGHUP-style reload; the start rule.
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
      expect(Object.keys(m).sort()).toEqual(['activated_at', 'by', 'hash', 'id', 'name', 'source', 'version']);
    }
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

  it('rollback reactivates the previous version; with none left → 409', async () => {
    const v1 = t.packs.current()!.meta.hash;
    await put({ files: V2_FILES }, 'alice');
    const res = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).set('X-Vigil-Actor', 'carol');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('rolled_back');
    expect(res.body.active).toMatchObject({ version: 1, hash: v1, by: 'carol', source: 'rollback' });
    expect(res.body.from).toMatchObject({ version: 2, by: 'alice' });
    expect(res.body.diff.rules_removed).toEqual(['recovery_no_mfa']);
    expect(t.packs.current()!.meta.hash).toBe(v1);
    expect(t.logs.lines.find((l) => l.audit === true && l.action === 'rollback')).toMatchObject({ by: 'carol', hash: v1 });

    const again = await request(t.app).post('/v1/packs/rollback').set('Authorization', admin);
    expect(again.status).toBe(409);
    expect(errorCode(again.body)).toBe('conflict');
    const list = await request(t.app).get('/v1/packs').set('Authorization', admin);
    expect(list.body.active.hash).toBe(v1);
    expect(list.body.history).toEqual([]);
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

  it('rollback goes back one version each time', async () => {
    await put({ files: V2_FILES });
    await put({ files: { ...V2_FILES, 'main.rules': V2_FILES['main.rules']!.replace('version 2', 'version 3') } });
    expect(t.packs.current()!.meta.version).toBe(3);
    await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).expect(200);
    expect(t.packs.current()!.meta.version).toBe(2);
    await request(t.app).post('/v1/packs/rollback').set('Authorization', admin).expect(200);
    expect(t.packs.current()!.meta.version).toBe(1);
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
    expect(String(refused.msg)).toContain('error[E_UNKNOWN_NAME]');

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
    expect(m.check(readFiles(dir)).pack!.hash).toBe(fromDisk);
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
    const one = m.check(GOOD_FILES);
    const two = m.check({
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
