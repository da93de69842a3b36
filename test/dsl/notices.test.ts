// Notices (dsl.md §7, v2): the `notice CODE` clause (parse, span, printing), E_NOTICE for a code
// outside the catalogue, the answer's `notices` (matched enforcing rules only, each code once, in
// declaration order), the catalogue's messages naming nothing of a pack, and the `account_change`
// event type in `on` and `policy`.
import { describe, expect, it } from 'vitest';
import { compilePack, evaluateRecord, packFromFiles, NOTICES, NOTICE_CODES, type CompiledPack, type Decision } from '../../dsl/index.ts';
import { parseFile } from '../../dsl/parser.ts';
import { printFile } from '../../dsl/printer.ts';
import { CATALOG, VIGIL_SCHEME } from '../../features/catalog.ts';
import { diagnosticCodes, locOf } from './parse-helpers.ts';

const HEAD = 'pack t version 1\n';

function compile(text: string) {
  return compilePack(packFromFiles({ 'main.rules': text }), { scheme: VIGIL_SCHEME });
}

function build(text: string): CompiledPack {
  const r = compile(text);
  expect(diagnosticCodes(r)).toEqual([]);
  return r.pack!;
}

function run(pack: CompiledPack, features: Record<string, unknown>, type = 'login'): Decision {
  const out = evaluateRecord(pack, type, features, { scheme: VIGIL_SCHEME });
  if (!out.ok) throw new Error(out.errors.join('; '));
  return out.decision;
}

describe('the notice clause', () => {
  it('parses with the span of `notice` through the code, and prints back', () => {
    const src = `${HEAD}rule r {\n  when geo.tor\n  then block\n  notice anonymizer\n}\n`;
    const parsed = parseFile(src, 'main.rules');
    const rule = parsed.file!.decls.find((d) => d.kind === 'Rule');
    if (rule?.kind !== 'Rule') throw new Error('no rule');
    const clause = rule.clauses.find((c) => c.kind === 'Notice');
    expect(clause).toMatchObject({ kind: 'Notice', code: { name: 'anonymizer' }, span: { line: 5, col: 3 } });
    expect(src.slice(clause!.span.offset, clause!.span.end)).toBe('notice anonymizer');
    expect(printFile(parsed.file!)).toContain('notice anonymizer');
  });

  it('is not a keyword: a rule, const or list may still be named notice', () => {
    const src = `${HEAD}const notice = 3\nrule r {\n  when velocity.user_failed_1h > notice\n  then step_up\n  notice many_failed_attempts\n}\n`;
    expect(diagnosticCodes(compile(src))).toEqual([]);
    const named = `${HEAD}rule notice {\n  when geo.tor\n  then block\n  notice anonymizer\n}\n`;
    expect(diagnosticCodes(compile(named))).toEqual([]);
    expect(diagnosticCodes(compile(src))).toEqual([]);
  });

  it('an unknown code is E_NOTICE at the code', () => {
    const src = `${HEAD}rule r {\n  when geo.tor\n  then block\n  notice tor_exit\n}\n`;
    expect(diagnosticCodes(compile(src))).toEqual([`E_NOTICE@${locOf(src, 'tor_exit')}`]);
    expect(compile(src).pack).toBeNull();
  });

  it('two notices on one rule are E_DUPLICATE at the second', () => {
    const src = `${HEAD}rule r {\n  when geo.tor\n  then block\n  notice anonymizer\n  notice new_device\n}\n`;
    expect(diagnosticCodes(compile(src))).toEqual([`E_DUPLICATE@${locOf(src, 'notice new_device')}`]);
  });

  it('two names that are not `notice CODE` are a syntax error at the first', () => {
    const src = `${HEAD}rule r {\n  when geo.tor\n  then block\n  remark anonymizer\n}\n`;
    expect(diagnosticCodes(compile(src))).toEqual([`E_SYNTAX@${locOf(src, 'remark')}`]);
  });

  it('a notice without a code is a syntax error', () => {
    const src = `${HEAD}rule r {\n  when geo.tor\n  then block\n  notice\n}\n`;
    expect(diagnosticCodes(compile(src))[0]).toMatch(/^E_SYNTAX@/);
  });
});

describe('the answer carries notices', () => {
  const pack = build(
    `${HEAD}` +
      `rule a {\n  when not device.known\n  score 10\n  notice new_device\n}\n` +
      `rule b {\n  when geo.tor\n  then block\n  notice anonymizer\n}\n` +
      `rule c {\n  when not history.known_country\n  score 10\n  notice new_device\n}\n` +
      `rule d {\n  when geo.vpn\n  score 5\n  notice anonymizer\n  mode shadow\n}\n` +
      `rule e {\n  when user.mfa\n  score 0\n  notice sensitive_change\n}\n` +
      `rule f {\n  when geo.vpn\n  score 1\n  notice session_moved\n  mode shadow\n}\n`,
  );

  it('of matched enforcing rules, each code once, in declaration order, with the catalogue message', () => {
    const d = run(pack, { 'device.known': false, 'geo.tor': true, 'history.known_country': false, 'user.mfa': true });
    expect(d.notices).toEqual([
      { code: 'new_device', message: NOTICES.new_device },
      { code: 'anonymizer', message: NOTICES.anonymizer },
      { code: 'sensitive_change', message: NOTICES.sensitive_change },
    ]);
  });

  it('not of shadow rules, nor of rules that did not match', () => {
    expect(run(pack, { 'geo.vpn': true }).notices).toEqual([]);
    expect(run(pack, { 'history.known_country': false }).notices.map((n) => n.code)).toEqual(['new_device']);
  });
});

describe('the notice catalogue', () => {
  it('holds exactly the codes of dsl.md §7', () => {
    expect([...NOTICE_CODES].sort()).toEqual(
      ['anonymizer', 'many_failed_attempts', 'new_device', 'new_location', 'recent_recovery', 'sensitive_change', 'session_moved', 'unusual_travel'].sort(),
    );
  });
  it('messages name no feature, no number and no notice code', () => {
    for (const [code, message] of Object.entries(NOTICES)) {
      expect(message, code).not.toMatch(/[0-9_]/);
      for (const e of CATALOG) expect(message.toLowerCase(), `${code} names ${e.name}`).not.toContain(e.name);
      for (const other of NOTICE_CODES) expect(message, `${code} names ${other}`).not.toContain(other);
    }
  });
});

describe('account_change in the language', () => {
  it('`on account_change` and `policy account_change` check and apply to that type only', () => {
    const pack = build(
      `${HEAD}rule moved {\n  on account_change\n  when session.ip_changed and event.change == "email"\n  score 30\n}\n` +
        `policy account_change {\n  step_up when score >= 30\n}\npolicy {\n  block when score >= 30\n}\n` +
        `test "moved session changing the e-mail" {\n  event account_change\n  given { session.ip_changed: true, event.change: "email" }\n  expect step_up\n  expect matched moved\n}\n`,
    );
    expect(run(pack, { 'session.ip_changed': true, 'event.change': 'email' }, 'account_change').decision).toBe('step_up');
    expect(run(pack, { 'session.ip_changed': true, 'event.change': 'email' }, 'login').decision).toBe('allow');
  });
  it('a misspelt event type is E_UNKNOWN_NAME; a session feature of the wrong type is E_TYPE', () => {
    const src = `${HEAD}rule r {\n  on account_chnage\n  when session.age > 10m\n  then step_up\n}\n`;
    expect(diagnosticCodes(compile(src))).toEqual([`E_UNKNOWN_NAME@${locOf(src, 'account_chnage')}`]);
    const src2 = `${HEAD}rule r {\n  on account_change\n  when session.login_score > 10m\n  then step_up\n}\n`;
    expect(diagnosticCodes(compile(src2))).toEqual([`E_TYPE@${locOf(src2, ">")}`]);
  });
});
