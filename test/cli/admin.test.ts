// The admin client (`vigil pack|list|counters|audit`) against a REAL server started here: runServer
// with the real engine (Redis signal store, live lists), the real pack manager on Redis (its keys
// under a prefix of this run) and the real HTTP app on a free port. The CLI runs in-process
// through main() with an injected environment, and once as `node bin/vigil.js`. Needs Redis on
// 127.0.0.1:6379 and FAILS without it.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bufferIO } from '../../cli/io.ts';
import { main } from '../../cli/main.ts';
import { startLiveServer, type LiveServer } from '../helpers/live-server.ts';
import { freePort, uniquePrefix } from '../helpers/redis.ts';

const TOKEN = 'cli-admin-token-0123456789abcdef';
const KEYS = uniquePrefix('cli-admin');
const BLOCKED = `${KEYS}{lists}:blocked_nets`;
const ROOT = new URL('../../', import.meta.url).pathname;

function source(version: number, extra = ''): string {
  return `pack cli_admin version ${version}

list blocked_nets: ip = redis "${BLOCKED}"

rule blocked_net {
  when ip.address in blocked_nets
  then block
  score 100
}

rule no_mfa {
  when user.mfa == false
  then step_up
  score 30
}

rule ip_failures {
  when velocity.ip_failed_10m >= 3
  then block
  score 100
}
${extra}
policy {
  block   when score >= 90
  step_up when score >= 30
}

test "no mfa steps up" {
  event login
  given { user.mfa: false, ip.address: "192.0.2.1" }
  expect step_up
}
`;
}

const V2_RULE = `
rule recovery_no_mfa {
  on recovery
  when user.mfa == false
  then block
}
`;

const BROKEN = `pack cli_admin version 3

rule bad {
  when geo.contry == "BR"
  then block
}
`;

const FAILING = `pack cli_admin version 4

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

const dirs: string[] = [];
function packDir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-cli-admin-'));
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(d, rel, '..'), { recursive: true });
    writeFileSync(join(d, rel), text);
  }
  dirs.push(d);
  return d;
}

let live: LiveServer;
let url: string;

beforeAll(async () => {
  live = await startLiveServer(
    {
      VIGIL_RULES: packDir({ 'main.rules': source(1) }),
      VIGIL_ADMIN_TOKEN: TOKEN,
      VIGIL_HASH_SECRET: 'cli-admin-hash-secret-0123456789',
    },
    { keys: KEYS, signalTimeoutMs: 1000, listSweepMs: 100 },
  );
  url = live.url;
}, 30_000);

afterAll(async () => {
  await live?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function vigil(argv: string[], env: Record<string, string | undefined> = {}, stdin = ''): Promise<Run> {
  const io = bufferIO(stdin);
  const code = await main(argv, io, { env: { VIGIL_URL: url, VIGIL_ADMIN_TOKEN: TOKEN, ...env } });
  return { code, out: io.out(), err: io.err() };
}

async function json<T>(argv: string[]): Promise<T> {
  const r = await vigil([...argv, '--json']);
  expect(r.code, r.err).toBe(0);
  return JSON.parse(r.out) as T;
}

interface Meta {
  readonly hash: string;
  readonly version: number;
  readonly action: string;
  readonly by: string;
  readonly reason?: string;
  readonly forced?: boolean;
  readonly previous_hash: string | null;
}
interface Listing {
  readonly active: Meta;
  readonly history: Meta[];
}

async function evaluate(body: object): Promise<{ decision_id: string; decision: string }> {
  const res = await fetch(`${url}/v1/evaluate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return (await res.json()) as { decision_id: string; decision: string };
}

describe.sequential('vigil pack', () => {
  let v1: string;
  let v2: string;

  it('push: a good pack is activated (exit 0) and status shows it', async () => {
    v1 = (await json<Listing>(['pack', 'status'])).active.hash;
    const dir = packDir({ 'main.rules': source(2, V2_RULE) });
    const r = await vigil(['pack', 'push', dir, '--reason', 'INC-12 block recovery without MFA', '--actor', 'alice']);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^activated cli_admin version 2 \(sha256:[0-9a-f]{12}\) by alice$/m);
    expect(r.out).toContain('rules added:   recovery_no_mfa');
    expect(r.out).toContain('tests: 1 passed, 0 failed');

    const status = await vigil(['pack', 'status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/^active: cli_admin version 2 sha256:[0-9a-f]{64}$/m);
    expect(status.out).toContain('by alice (api)');
    expect(status.out).toContain('reason: INC-12 block recovery without MFA');
    const listed = await json<Listing>(['pack', 'status']);
    v2 = listed.active.hash;
    expect(listed.active).toMatchObject({ version: 2, by: 'alice', action: 'activate', previous_hash: v1, reason: 'INC-12 block recovery without MFA' });

    // the same pack again: unchanged, exit 0
    const again = await vigil(['pack', 'push', dir]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/^unchanged: cli_admin version 2/m);
  });

  it('push: a broken pack is refused (exit 1), its diagnostics rendered against the local file', async () => {
    const dir = packDir({ 'main.rules': BROKEN });
    const r = await vigil(['pack', 'push', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${join(dir, 'main.rules')}:4:8: error[E_UNKNOWN_NAME]:`);
    expect(r.out).toContain(' 4 |   when geo.contry == "BR"');
    expect(r.out).toContain('   |        ^^^^^^^^^^');
    expect(r.err).toMatch(/^vigil pack push: error: .*refused by http:\/\/127\.0\.0\.1:\d+: the pack has errors or failing tests; the active pack keeps serving \(1 error, 0 warnings; 0 tests failed\)$/m);
    expect((await json<Listing>(['pack', 'status'])).active.hash).toBe(v2);

    // a single .rules file works the same way
    const file = join(packDir({ 'solo.rules': BROKEN }), 'solo.rules');
    const solo = await vigil(['pack', 'push', file]);
    expect(solo.code).toBe(1);
    expect(solo.out).toContain(`${file}:4:8: error[E_UNKNOWN_NAME]`);
  });

  it('push: failing tests are refused (exit 1); --force --reason activates it, recorded as forced', async () => {
    const dir = packDir({ 'main.rules': FAILING });
    const r = await vigil(['pack', 'push', dir]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(new RegExp(`^${join(dir, 'main.rules').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:8:1: test "expects the wrong thing" failed: `, 'm'));
    expect(r.out.trimEnd().split('\n').at(-1)).toBe('0 passed, 1 failed');
    expect(r.err).toContain('--force');

    const noReason = await vigil(['pack', 'push', dir, '--force']);
    expect(noReason.code).toBe(2);
    expect(noReason.err).toContain('--force needs --reason');

    const forced = await vigil(['pack', 'push', dir, '--force', '--reason', 'the test expects the old threshold'], { VIGIL_ACTOR: 'oncall' });
    expect(forced.code, forced.err).toBe(0);
    expect(forced.out).toMatch(/^activated cli_admin version 4 .* by oncall — FORCED past 1 failing test$/m);
    expect(forced.out).toContain('test "expects the wrong thing" failed');

    const audit = await json<{ entries: { by: string; reason?: string; details: { forced: boolean; tests_failed?: number; version: number } }[] }>([
      'audit',
      '--action',
      'pack_activate',
    ]);
    expect(audit.entries[0]).toMatchObject({ by: 'oncall', reason: 'the test expects the old threshold', details: { forced: true, tests_failed: 1, version: 4 } });
    const text = await vigil(['audit', '--action', 'pack_activate']);
    const line = text.out.split('\n').find((l) => /oncall\s+pack_activate\s+the test expects the old threshold/.test(l)) ?? '';
    for (const detail of ['source=api', 'name=cli_admin', 'version=4', 'forced=true']) expect(line).toContain(detail);
  });

  it('rollback: a new entry; history shows both versions and the rollback; diff shows what changed', async () => {
    const before = await json<Listing>(['pack', 'status']);
    const r = await vigil(['pack', 'rollback', '--reason', 'INC-13 forced pack misbehaves', '--actor', 'carol']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^rolled back: cli_admin version 2 \(sha256:[0-9a-f]{12}\) is active, replacing cli_admin version 4/m);
    const listed = await json<Listing>(['pack', 'history']);
    expect(listed.active).toMatchObject({ version: 2, action: 'rollback', by: 'carol', previous_hash: before.active.hash, reason: 'INC-13 forced pack misbehaves' });
    expect(listed.history.map((m) => [m.version, m.action])).toEqual([
      [4, 'activate'],
      [2, 'activate'],
      [1, 'activate'],
    ]);
    const text = await vigil(['pack', 'history']);
    expect(text.code).toBe(0);
    const lines = text.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\s+WHEN\s+ACTION\s+PACK\s+HASH\s+BY\s+FROM\s+REASON$/);
    expect(lines[1]).toMatch(/^\*\s+\S+\s+rollback\s+cli_admin v2\s+sha256:[0-9a-f]{12}\s+carol\s+sha256:[0-9a-f]{12}\s+INC-13 forced pack misbehaves$/);
    expect(lines[2]).toMatch(/^\s+\S+\s+activate \(forced\)\s+cli_admin v4/);
    expect(lines.at(-1)).toMatch(/^4 entries, newest first/);

    // diff against the entry before the active one: the forced v4, rolled away from
    const diff = await vigil(['pack', 'diff']);
    expect(diff.code, diff.err).toBe(0);
    expect(diff.out).toMatch(/^diff cli_admin version 4 \(sha256:[0-9a-f]{12}\) → active cli_admin version 2/m);
    expect(diff.out).toContain('rules added:   blocked_net, ip_failures, recovery_no_mfa');
    expect(diff.out).toContain('rules changed: no_mfa');
    expect(diff.out).toContain('--- a/main.rules\n+++ b/main.rules\n@@ ');
    expect(diff.out).toContain('-pack cli_admin version 4\n+pack cli_admin version 2\n');
    expect(diff.out).toContain('+rule recovery_no_mfa {');
    const dj = await json<{ from: Meta; to: Meta; diff: { rules_added: string[] }; files: Record<string, string>; by_source_only: boolean }>(['pack', 'diff', v1.slice(7, 19)]);
    expect(dj.from.hash).toBe(v1);
    expect(dj.to.hash).toBe(v2);
    expect(dj.by_source_only).toBe(false);
    expect(dj.diff.rules_added).toEqual(['recovery_no_mfa']);
    expect(dj.files['main.rules']).toContain('+rule recovery_no_mfa {');
  });

  it('rollback to a listed hash (its start), not to an unknown or the active one', async () => {
    const r = await vigil(['pack', 'rollback', v1.slice(0, 7 + 10), '--reason', 'back to the shipped rules']);
    expect(r.code, r.err).toBe(0);
    const listed = await json<Listing>(['pack', 'status']);
    expect(listed.active).toMatchObject({ hash: v1, version: 1, action: 'rollback', previous_hash: v2, by: 'admin' });
    expect(listed.history).toHaveLength(4);

    const unknown = await vigil(['pack', 'rollback', 'abcdef0123']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toBe('vigil pack rollback: error: no pack in the history has a hash starting with sha256:abcdef0123\n');
    const current = await vigil(['pack', 'rollback', v1]);
    expect(current.code).toBe(1);
    expect(current.err).toContain('is already the active pack');
    const bad = await vigil(['pack', 'rollback', 'xyz']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('HASH must be a pack hash');
  });
});

describe.sequential('vigil list, counters, audit', () => {
  it('list add with a ttl, ls, rm; the entry takes effect; a bad entry and an unknown list are refused', async () => {
    const add = await vigil(['list', 'add', BLOCKED, '198.51.100.0/24', '203.0.113.9', '--ttl', '2h', '--reason', 'INC-14 stuffing from this range']);
    expect(add.code, add.err).toBe(0);
    expect(add.out).toContain('added 2 entries, expiring in 2h');
    expect(add.out).toContain(`${BLOCKED} (ip list): 2 entries`);
    const ls = await json<{ kind: string; entries: { value: string; expires_at?: string }[] }>(['list', 'ls', BLOCKED]);
    expect(ls.kind).toBe('ip');
    expect(ls.entries.map((e) => e.value)).toEqual(['198.51.100.0/24', '203.0.113.9']);
    for (const e of ls.entries) {
      const left = Date.parse(e.expires_at!) - Date.now();
      expect(left).toBeGreaterThan(2 * 3600_000 - 60_000);
      expect(left).toBeLessThanOrEqual(2 * 3600_000);
    }
    expect((await evaluate({ type: 'login', user: { id: 'u-list', mfa: true }, ip: '198.51.100.7' })).decision).toBe('block');

    const rm = await vigil(['list', 'rm', BLOCKED, '-', '--reason', 'INC-14 over'], {}, '203.0.113.9\n# done\n');
    expect(rm.code, rm.err).toBe(0);
    expect(rm.out).toContain(`${BLOCKED} (ip list): 1 entry`);

    const badEntry = await vigil(['list', 'add', BLOCKED, 'not-an-address']);
    expect(badEntry.code).toBe(1);
    expect(badEntry.err).toMatch(/^vigil list add: error: entries\.0 is not a valid ip entry/m);
    expect(badEntry.err).toContain('  entries.0: ');
    const unknown = await vigil(['list', 'ls', `${KEYS}nope`]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^vigil list ls: error: /);
    const badTtl = await vigil(['list', 'add', BLOCKED, '192.0.2.1', '--ttl', 'soon']);
    expect(badTtl.code).toBe(2);
  });

  it('counters clear: the failures of an address and a user are gone; usage errors exit 2', async () => {
    const ip = '192.0.2.200';
    for (let i = 0; i < 3; i++) {
      const { decision_id } = await evaluate({ type: 'login', user: { id: 'u-counters', mfa: true }, ip });
      await fetch(`${url}/v1/outcome`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ decision_id, outcome: 'failed' }) });
    }
    expect((await evaluate({ type: 'login', user: { id: 'u-counters', mfa: true }, ip })).decision).toBe('block');
    const r = await vigil(['counters', 'clear', '--ip', ip, '--user', 'u-counters', '--reason', 'INC-15 our own load test']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^cleared [1-9]\d* counter keys of that address and user$/m);
    expect((await evaluate({ type: 'login', user: { id: 'u-counters', mfa: true }, ip })).decision).toBe('allow');
    expect(await json<{ cleared: number }>(['counters', 'clear', '--user', 'u-nobody'])).toEqual({ cleared: 0 });
    expect((await vigil(['counters', 'clear'])).code).toBe(2);
    expect((await vigil(['counters', 'clear', '--user', 'u', '--subnet'])).err).toContain('--subnet goes with --ip');
  });

  it('audit: filtered by action and since, newest first; never the address or the user id', async () => {
    const lists = await json<{ entries: { action: string; reason?: string; details: { list: string } }[] }>(['audit', '--action', 'list_add', '--since', '1h']);
    expect(lists.entries.map((e) => e.action)).toEqual(['list_add']);
    expect(lists.entries[0]).toMatchObject({ reason: 'INC-14 stuffing from this range', details: { list: BLOCKED } });
    const all = await json<{ entries: { action: string }[] }>(['audit', '--since', new Date(Date.now() - 3600_000).toISOString()]);
    const actions = all.entries.map((e) => e.action);
    expect(actions.slice(0, 3)).toEqual(['counters_clear', 'counters_clear', 'list_remove']);
    expect(actions).toEqual(expect.arrayContaining(['pack_activate', 'pack_rollback', 'list_add']));
    expect(JSON.stringify(all)).not.toContain('u-counters');
    expect(JSON.stringify(all)).not.toContain('192.0.2.200');
    expect((await json<{ entries: unknown[] }>(['audit', '--since', '2099-01-01'])).entries).toEqual([]);
    const bad = await vigil(['audit', '--action', 'everything']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--action must be one of pack_activate');
    expect((await vigil(['audit', '--since', 'yesterday'])).code).toBe(2);
  });
});

describe('connection and credentials', () => {
  it('an unreachable server: exit 3 with a clear message, for every command', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    for (const argv of [['pack', 'status'], ['pack', 'history'], ['list', 'ls', BLOCKED], ['audit'], ['counters', 'clear', '--ip', '192.0.2.1']]) {
      const r = await vigil([...argv, '--url', dead]);
      expect(r.code, argv.join(' ')).toBe(3);
      expect(r.err).toMatch(new RegExp(`^vigil ${argv.slice(0, argv[0] === 'audit' ? 1 : 2).join(' ')}: error: cannot reach ${dead}: connection refused`));
    }
    expect((await vigil(['pack', 'status'], { VIGIL_URL: dead })).code).toBe(3);
  });

  it('no token: a usage error naming VIGIL_ADMIN_TOKEN; a wrong one: refused (exit 1); never a --token flag', async () => {
    const none = await vigil(['pack', 'status'], { VIGIL_ADMIN_TOKEN: undefined });
    expect(none.code).toBe(2);
    expect(none.err.split('\n')[0]).toBe(
      'vigil pack status: error: VIGIL_ADMIN_TOKEN is not set: export the admin token the server was started with (it is never read from the command line)',
    );
    const wrong = await vigil(['pack', 'status'], { VIGIL_ADMIN_TOKEN: 'wrong' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain('the server refused the admin token');
    const flag = await vigil(['pack', 'status', '--token', TOKEN]);
    expect(flag.code).toBe(2);
    expect(flag.err).toContain("unknown option '--token'");
    expect((await vigil(['pack', 'status'], { VIGIL_ACTOR: 'not an actor' })).code).toBe(2);
    expect((await vigil(['pack', 'status'], { VIGIL_URL: 'ftp://x' })).code).toBe(2);
  });

  it('node bin/vigil.js pack status --json parses; unreachable exits 3', async () => {
    const bin = (args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> =>
      new Promise((resolve) => {
        execFile(process.execPath, ['bin/vigil.js', ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, timeout: 30_000 }, (err, out, errText) =>
          resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, out, err: errText }),
        );
      });
    const r = await bin(['pack', 'status', '--json'], { VIGIL_URL: url, VIGIL_ADMIN_TOKEN: TOKEN });
    expect(r.code, r.err).toBe(0);
    expect((JSON.parse(r.out) as Listing).active.version).toBe(1);
    const dead = await bin(['pack', 'history', '--url', `http://127.0.0.1:${await freePort()}`], { VIGIL_ADMIN_TOKEN: TOKEN });
    expect(dead.code).toBe(3);
  });
});
