// The real executable: `node bin/vigil.js` as a child process (tsx loader, process exit code,
// stdout/stderr wiring), for a passing command, a failing one and a usage error.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

function vigil(args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/vigil.js', ...args], { encoding: 'utf8', input, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bin/vigil.js', () => {
  it('check rules/login_core exits 0 with a summary on stderr', () => {
    const r = vigil(['check', 'rules/login_core']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/rules\/login_core: ok: 0 errors, 0 warnings/);
  });
  it('check of a missing pack exits 1', () => {
    const r = vigil(['check', 'rules/does_not_exist']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does_not_exist/);
  });
  it('an unknown command exits 2 with usage on stderr', () => {
    const r = vigil(['nonsense']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('Usage: vigil');
  });
  it('eval reads features from stdin', () => {
    const r = vigil(['eval', 'rules/login_core', '--event', 'login', '--features', '-'], '{"velocity.ip_failed_10m": 99}');
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as { decision: string }).decision).toBe('block');
  });
});
