// The real executable: `node bin/vigil.js` as a child process (the compiled CLI in dist/, which the
// global setup rebuilds when stale; process exit code, stdout/stderr wiring), for a passing command,
// a failing one and a usage error; the same from the sources (VIGIL_FROM_SOURCE=1, tsx); and the
// hint it prints when dist/ was never built.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = 'bin/vigil.js';

// Each child pays a Node start-up (and tsx's from source), so the cases run concurrently.
function vigil(
  args: string[],
  input = '',
  opts: { bin?: string; env?: Record<string, string> } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { timeout: 20_000, env: { ...process.env, ...opts.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe.concurrent('bin/vigil.js', () => {
  it('check rules/login_core exits 0 with a summary on stderr', async () => {
    const r = await vigil(['check', 'rules/login_core']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/rules\/login_core: ok: 0 errors, 0 warnings/);
  });
  it('check of a missing pack exits 1', async () => {
    const r = await vigil(['check', 'rules/does_not_exist']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does_not_exist/);
  });
  it('an unknown command exits 2 with usage on stderr', async () => {
    const r = await vigil(['nonsense']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Usage: vigil');
  });
  it('eval reads features from stdin', async () => {
    const r = await vigil(['eval', 'rules/login_core', '--event', 'login', '--features', '-'], '{"velocity.ip_failed_10m": 99}');
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { decision: string }).decision).toBe('block');
  });
  it('--help exits 0 with the usage on stdout', async () => {
    const r = await vigil(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Usage: vigil');
    expect(r.stderr).toBe('');
  });
  it('VIGIL_FROM_SOURCE=1 runs the TypeScript sources through tsx', async () => {
    const r = await vigil(['check', 'rules/login_core'], '', { env: { VIGIL_FROM_SOURCE: '1' } });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/rules\/login_core: ok: 0 errors, 0 warnings/);
  });
});

describe('bin/vigil.js without dist/', () => {
  const root = mkdtempSync(join(tmpdir(), 'vigil-nodist-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('prints one line saying how to build and exits 1', async () => {
    mkdirSync(join(root, 'bin'));
    copyFileSync(BIN, join(root, 'bin/vigil.js'));
    writeFileSync(join(root, 'package.json'), '{"type": "module"}\n');
    const r = await vigil(['--help'], '', { bin: join(root, 'bin/vigil.js') });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^vigil: dist\/ is not built; run `npm ci` \(or `npm run build`\)[^\n]*\n$/);
  });
});
