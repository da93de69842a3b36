// The real executable: `node bin/vigil.js` as a child process (tsx loader, process exit code,
// stdout/stderr wiring), for a passing command, a failing one and a usage error.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// Each child pays tsx's start-up, so the cases run concurrently.
function vigil(args: string[], input = ''): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/vigil.js', ...args], { timeout: 20_000 });
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
});
