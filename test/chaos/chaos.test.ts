// The short form of `npm run test:chaos` (test/chaos/run.ts): the same faults in 18 s at a lower
// rate, against the compiled server with two workers and a private redis-server. Fails on a 5xx,
// a crash, a worker not replaced, workers disagreeing on the pack, or a lost acknowledged outcome.
// Needs redis-server (it starts its own; never the shared one) and FAILS without it.
import { describe, expect, it } from 'vitest';
import { formatReport, runChaos } from './run.ts';

describe('chaos, short form', () => {
  it('keeps answering and loses no acknowledged outcome while Redis, packs, the model and a worker misbehave', async () => {
    const report = await runChaos({ seconds: 18, rate: 60, workers: 2, progress: () => undefined });
    const text = formatReport(report);
    expect(report.problems, text).toEqual([]);
    // The run did exercise what it claims: answers, acknowledged outcomes checked, every fault applied.
    expect(report.stats.answered, text).toBeGreaterThan(500);
    expect(report.checked, text).toBeGreaterThan(50);
    expect(report.faults.map((f) => f.name.split(' ')[0]), text).toEqual(['redis', 'redis', 'redis', 'model', 'worker']);
    expect(report.swaps.get(200) ?? 0, text).toBeGreaterThan(3);
    expect(report.workerPidsAfter, text).not.toEqual(report.workerPidsBefore);
  }, 120_000);
});
