// What the logs say about a refused pack: its diagnostics (code, severity, file:line:col, message)
// and where its failing tests are, never the uploaded source. The rendered form quotes each
// offending line under its caret; it goes back to the uploader in the API answer (their own text),
// not to the log. Covered: an upload refused for activation and as the shadow pack, a pack whose
// tests fail, and a pack another instance activated that does not compile here (the sync line).
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryPackRepository, type PackRepository } from '../../engine/packs/index.ts';
import { ADMIN_TOKEN, errorCode, testApp, type TestApp } from './helpers.ts';

const admin = `Bearer ${ADMIN_TOKEN}`;
/** Appears only in the uploaded source: in a comment, in a string on the offending line, in a test's name. */
const MARKER = 'SRC-MARKER-7f3a9c';

const BROKEN = `pack leaky version 9
# ${MARKER} (a comment)
rule leaky {
  when geo.contry == "${MARKER}"
  then block
}
`;

const FAILING_TEST = `pack leaky version 10
rule r { when user.mfa == false and geo.country != "${MARKER}" then block }
test "${MARKER} expects the wrong thing" {
  event login
  given { user.mfa: false, geo.country: "BR" }
  expect allow
}
`;

let t: TestApp;
let repo: PackRepository;
beforeEach(async () => {
  repo = createMemoryPackRepository();
  t = await testApp({ repo });
});
afterEach(async () => {
  await t.packs.close();
});

function logText(): string {
  return t.logs.lines.map((l) => JSON.stringify(l)).join('\n');
}

describe('a refused pack in the logs', () => {
  it('an upload refused for activation: the answer carries the rendered source, the log its diagnostics only', async () => {
    const res = await request(t.app).put('/v1/packs/active').set('Authorization', admin).set('Content-Type', 'text/plain').send(BROKEN);
    expect(res.status).toBe(422);
    expect(errorCode(res.body)).toBe('pack_rejected');
    // The uploader gets their own text back under the caret.
    expect(res.body.error.details.rendered).toContain(MARKER);
    expect(logText()).not.toContain(MARKER);

    const refused = t.logs.lines.find((l) => l.result === 'rejected');
    expect(refused).toMatchObject({ audit: true, action: 'activate' });
    // Code, severity and place only: a message quotes the pack's text (here, the unknown name).
    expect(refused!.diagnostics).toEqual([{ code: 'E_UNKNOWN_NAME', severity: 'error', at: 'upload/pack.rules:4:8' }]);
  });

  it('a shadow upload refused, and one whose tests fail: positions of the failing tests, not their names', async () => {
    const shadow = await request(t.app).put('/v1/packs/shadow').set('Authorization', admin).set('Content-Type', 'text/plain').send(BROKEN);
    expect(shadow.status).toBe(422);
    const failing = await request(t.app).put('/v1/packs/active').set('Authorization', admin).set('Content-Type', 'text/plain').send(FAILING_TEST);
    expect(failing.status).toBe(422);
    expect(failing.body.error.details.rendered).toContain(MARKER);
    expect(logText()).not.toContain(MARKER);

    const lines = t.logs.lines.filter((l) => l.result === 'rejected');
    expect(lines.map((l) => l.action)).toEqual(['shadow', 'activate']);
    expect(lines[0]!.diagnostics).toEqual([expect.objectContaining({ code: 'E_UNKNOWN_NAME', at: 'upload/pack.rules:4:8' })]);
    expect(lines[1]).toMatchObject({ tests_failed: 1, failing_tests: ['upload/pack.rules:3:1'] });
  });

  it('a pack activated elsewhere that does not compile here: the sync line carries its diagnostics only', async () => {
    const before = t.packs.current()!.meta.hash;
    // What another instance (of another version, with other features) would have stored.
    await repo.push(
      { id: '01JZZZZZZZZZZZZZZZZZZZZZZZ', name: 'leaky', version: 9, hash: `sha256:${'e'.repeat(64)}`, activated_at: new Date().toISOString(), by: 'elsewhere', source: 'api', action: 'activate' },
      { 'pack.rules': BROKEN },
      'upload',
    );
    await t.packs.sync();
    expect(t.packs.current()!.meta.hash).toBe(before);
    expect(logText()).not.toContain(MARKER);
    const line = t.logs.lines.find((l) => typeof l.msg === 'string' && l.msg.includes('does not compile here'));
    expect(line).toMatchObject({ result: 'rejected', diagnostics: [expect.objectContaining({ code: 'E_UNKNOWN_NAME', at: 'upload/pack.rules:4:8' })] });
  });
});
