// The short form of `npm run drill` (test/drill/run.ts): Debian's hydra sprays 8 passwords over 4
// user names at the example auth service in front of a real `vigil serve`, while the legitimate user
// keeps signing in. Vigil must block the attacking address (and everything after that), the attacker
// must get no session, and no legitimate sign-in may be refused. Needs /usr/bin/hydra (`.ci/run`
// installs Debian's package) and redis-server; FAILS without them.
import { describe, expect, it } from 'vitest';
import { formatDrill, runDrill } from './run.ts';

describe('attack drill, short form', () => {
  it('hydra spraying passwords is stepped up, then blocked; the real user still signs in', async () => {
    const r = await runDrill({ passwords: 8, tasks: 4, order: 'password', progress: () => undefined });
    const text = formatDrill(r);
    expect(r.problems, text).toEqual([]);
    expect(r.attempts.length, text).toBeGreaterThanOrEqual(30);
    expect(r.firstStepUp, text).not.toBeNull();
    expect(r.firstBlock!.n, text).toBeLessThan(r.attempts.length);
    expect(r.attempts.filter((a) => a.outcome === 'succeeded'), text).toEqual([]);
    expect(r.legit.direct + r.legit.viaCode, text).toBeGreaterThan(0);
  }, 120_000);
});
