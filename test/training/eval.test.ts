// Metrics of `vigil model eval` (training/eval.ts) against hand-computed examples and brute force, the
// report collector, the SVG plot (training/roc-svg.ts) and the command (cli/model-eval.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bufferIO } from '../../cli/io.ts';
import { createGeoIp, type GeoIp } from '../../features/geoip.ts';
import { DEFAULT_MODEL_PATH } from '../../features/model/index.ts';
import { runModelEval } from '../../cli/model-eval.ts';
import { runSimulate } from '../../cli/simulate.ts';
import type { Action } from '../../dsl/ast.ts';
import {
  averagePrecision,
  createEvalCollector,
  formatReport,
  packScore,
  reportJson,
  rocAuc,
  rocCurve,
  tprAtFpr,
  type EvalReport,
} from '../../training/eval.ts';
import type { ReplayedEvent } from '../../training/replay.ts';
import { renderRocSvg } from '../../training/roc-svg.ts';
import type { ChainType, Label, SimLine } from '../../training/simulate.ts';

const NEG_INF = Number.NEGATIVE_INFINITY;

describe('ROC AUC (Mann–Whitney with ties)', () => {
  it('is 1 for perfect separation, 0 for reversed, ½ for all tied', () => {
    expect(rocAuc([0.9, 0.8], [0.1, 0.2])).toBe(1);
    expect(rocAuc([0.1], [0.9])).toBe(0);
    expect(rocAuc([0.5, 0.5], [0.5])).toBe(0.5);
  });

  it('counts a tie as half a pair (hand-computed)', () => {
    // pairs: .8>.4, .8>.2, .4=.4 (½), .4>.2, .4=.4 (½), .4>.2 → 5 of 6
    expect(rocAuc([0.8, 0.4, 0.4], [0.4, 0.2])).toBeCloseTo(5 / 6, 12);
  });

  it('ranks a missing score (-Infinity) below everything and ties missing with missing', () => {
    // (-∞ vs -∞) ½, (-∞ vs 0) 0, (1 vs -∞) 1, (1 vs 0) 1 → 2.5 / 4
    expect(rocAuc([NEG_INF, 1], [NEG_INF, 0])).toBe(0.625);
  });

  it('is NaN with an empty side and refuses NaN scores', () => {
    expect(rocAuc([], [1])).toBeNaN();
    expect(rocAuc([1], [])).toBeNaN();
    expect(() => rocAuc([Number.NaN], [1])).toThrow(RangeError);
  });

  it('equals the pairwise count on random scores with many ties', () => {
    const small = fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(small, small, (pos, neg) => {
        let wins = 0;
        for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
        expect(rocAuc(pos, neg)).toBeCloseTo(wins / (pos.length * neg.length), 10);
      }),
      { numRuns: 200 },
    );
  });
});

describe('PR AUC (average precision)', () => {
  it('sums recall steps times precision (hand-computed)', () => {
    // .9 P (R .5, P 1) → .5; .8 N; .6 P (R 1, P 2/3) → +.5·2/3
    expect(averagePrecision([0.9, 0.6], [0.8, 0.3])).toBeCloseTo(0.5 + 1 / 3, 12);
    expect(averagePrecision([1, 0.9], [0.1])).toBe(1);
  });

  it('treats tied scores as one threshold', () => {
    expect(averagePrecision([0.5, 0.5], [0.5])).toBeCloseTo(2 / 3, 12);
    // .7 N; .5 P,P,N → R 1 at P 2/4
    expect(averagePrecision([0.5, 0.5], [0.7, 0.5])).toBeCloseTo(0.5, 12);
  });

  it('is NaN without positives and the prevalence without information', () => {
    expect(averagePrecision([], [1, 2])).toBeNaN();
    expect(averagePrecision([0, 0], [0, 0, 0, 0, 0, 0])).toBeCloseTo(0.25, 12);
  });
});

describe('TPR at a maximum FPR', () => {
  const pos = [0.9, 0.7, 0.5, 0.3];
  const neg = [0.8, 0.6, 0.4, 0.2];

  it('takes the best threshold whose FPR stays within the limit (hand-computed)', () => {
    expect(tprAtFpr(pos, neg, 0)).toBe(0.25);
    expect(tprAtFpr(pos, neg, 0.25)).toBe(0.5);
    expect(tprAtFpr(pos, neg, 0.5)).toBe(0.75);
    expect(tprAtFpr(pos, neg, 1)).toBe(1);
  });

  it('cannot split a tie: a tied negative drags its positives out of reach', () => {
    expect(tprAtFpr([0.5, 0.5, 0.1], [0.5, 0.2, 0.0, 0.0], 0)).toBe(0);
    expect(tprAtFpr([0.5, 0.5, 0.1], [0.5, 0.2, 0.0, 0.0], 0.25)).toBeCloseTo(2 / 3, 12);
  });

  it('allows exactly floor(maxFpr · negatives) false positives', () => {
    const negs = Array.from({ length: 1000 }, (_, i) => i / 1000);
    // 0.1% of 1000 allows exactly one negative above the positive, not two
    expect(tprAtFpr([0.9985], negs, 0.001)).toBe(1);
    expect(tprAtFpr([0.9975], negs, 0.001)).toBe(0);
  });

  it('agrees with a brute-force sweep on random scores', () => {
    const arr = fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 25 });
    fc.assert(
      fc.property(arr, arr, fc.double({ min: 0, max: 1, noNaN: true }), (p, n, f) => {
        let best = 0;
        for (const t of [...new Set([...p, ...n])]) {
          const fp = n.filter((x) => x >= t).length;
          if (fp <= Math.floor(f * n.length + 1e-9)) best = Math.max(best, p.filter((x) => x >= t).length / p.length);
        }
        expect(tprAtFpr(p, n, f)).toBeCloseTo(best, 12);
      }),
      { numRuns: 200 },
    );
  });

  it('builds the ROC curve from (0,0) to (1,1) through each distinct threshold', () => {
    expect(rocCurve([0.9, 0.5], [0.5, 0.1])).toEqual({ fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1] });
  });
});

describe('the pack as a scorer', () => {
  it('orders by decision first, then score', () => {
    expect(packScore('block', 0)).toBeGreaterThan(packScore('step_up', 500));
    expect(packScore('step_up', 0)).toBeGreaterThan(packScore('allow', 10_000));
    expect(packScore('allow', 30)).toBeGreaterThan(packScore('allow', -20));
  });
});

// ------------------------------------------------------------------------------------------------

let n = 0;
function ev(
  label: Exclude<Label, ChainType>,
  decision: Action,
  o: { day?: number; rba?: number | null; anomaly?: number | null; seq?: number; score?: number; rules?: string[]; scenario?: SimLine['scenario']; type?: 'login' | 'recovery'; outcome?: 'succeeded' | 'failed' } = {},
): ReplayedEvent {
  const line: SimLine = {
    request: { type: o.type ?? 'login', user: { id: 'u' }, ip: '192.0.2.1', time: '2026-01-05T00:00:00.000Z' },
    outcome: o.outcome ?? 'succeeded',
    label,
    ...(label !== 'legit' ? { attacker_type: label, attack_id: `${label}-1`, seq: o.seq ?? 0 } : { scenario: o.scenario ?? 'home' }),
    day: o.day ?? 20,
  };
  return {
    index: n++,
    line,
    label,
    decision,
    score: o.score ?? 0,
    features: {},
    rba: o.rba === undefined ? 1 : o.rba,
    anomaly: o.anomaly === undefined ? null : o.anomaly,
    applied: null,
    rules: o.rules ?? [],
    decisionId: `dec-${n}`,
  };
}

function collect(events: ReplayedEvent[], warmupDays = 10): EvalReport {
  const c = createEvalCollector({ warmupDays });
  for (const e of events) c.add(e);
  return c.report();
}

describe('the evaluation report', () => {
  it('counts legit attempts only after the warm-up, attacks always', () => {
    const r = collect([ev('legit', 'allow', { day: 3 }), ev('legit', 'allow', { day: 12 }), ev('naive', 'step_up', { day: 1 })]);
    expect(r.legit).toBe(1);
    expect(r.attacks.naive).toBe(1);
  });

  it('computes the operating point, stuffing once under way, and the rba comparison', () => {
    const events = [
      ...Array.from({ length: 98 }, () => ev('legit', 'allow', { rba: 0.5 })),
      ev('legit', 'step_up', { rba: 50, rules: ['impossible_travel'], scenario: 'trip' }),
      ev('legit', 'block', { rba: 0.5, rules: ['stuffing_ip_burst'] }),
      ev('vpn', 'step_up', { rba: 60 }),
      ev('vpn', 'allow', { rba: 0.4 }),
      ...Array.from({ length: 10 }, (_, i) => ev('stuffing', i < 5 ? 'step_up' : i < 9 ? 'block' : 'allow', { seq: i, rba: null })),
    ];
    const r = collect(events);
    expect(r.pack.legit).toEqual({ stepUp: 0.01, block: 0.01, caught: 0.02, n: 100 });
    expect(r.pack.legitByScenario.trip).toEqual({ stepUp: 1, block: 0, caught: 1, n: 1 });
    expect(r.pack.byType.vpn.caught).toBe(0.5);
    expect(r.pack.byType.stuffing).toEqual({ stepUp: 0.5, block: 0.4, caught: 0.9, n: 10 });
    expect(r.pack.stuffingUnderway).toEqual({ n: 5, blocked: 0.8 });
    // at the pack's 2% FPR rba may flag two legit: the vpn at 60 is caught, the one at 0.4 is not
    expect(r.pack.rbaAtPackRate.vpn).toBe(0.5);
    expect(r.pack.legitRules).toEqual({ impossible_travel: 1, stuffing_ip_burst: 1 });
    const byName = Object.fromEntries(r.targets.map((t) => [t.name, t.met]));
    expect(byName['legit attempts challenged']).toBe(true);
    expect(byName['legit sign-ins challenged (password right)']).toBe(true);
    expect(byName['legit blocked']).toBe(false);
    expect(byName['VPN stepped up or blocked']).toBe(false);
    expect(byName['model AUC, naive']).toBe(false);
  });

  it('counts sign-ins (password right) apart from wrong passwords and recoveries', () => {
    const events = [
      ...Array.from({ length: 96 }, () => ev('legit', 'allow')),
      ev('legit', 'step_up', { rules: ['new_device_new_address'] }),
      // A typo, then the right password, in the same private window: the owner meets one challenge.
      ev('legit', 'step_up', { outcome: 'failed' }),
      ev('legit', 'step_up', {}),
      ev('legit', 'step_up', { type: 'recovery' }),
      ev('legit', 'block', { outcome: 'failed' }),
      ev('legit', 'allow', { outcome: 'failed' }),
    ];
    const r = collect(events);
    expect(r.legit).toBe(102);
    expect(r.pack.legit.caught).toBeCloseTo(5 / 102, 12);
    expect(r.pack.legitSignIns).toEqual({ stepUp: 2 / 98, block: 0, caught: 2 / 98, n: 98 });
    expect(r.pack.legitWrongPassword).toEqual({ stepUp: 1 / 3, block: 1 / 3, caught: 2 / 3, n: 3 });
    expect(r.pack.legitRecoveries).toEqual({ stepUp: 1, block: 0, caught: 1, n: 1 });
    const t = r.targets.find((x) => x.name === 'legit sign-ins challenged (password right)')!;
    expect(t).toMatchObject({ value: '2.04%', met: true });
    expect(r.targets.find((x) => x.name === 'legit attempts challenged')).toMatchObject({ value: '3.92%', met: false });
    expect(formatReport(r)).toMatch(/ {2}sign-ins \(password right\) +2\.04% +0\.00% +2\.04% +98\n/);
  });

  it('reports the model as n/a when no event has an anomaly score, and measures it when there is one', () => {
    const without = collect([ev('legit', 'allow'), ev('naive', 'step_up')]);
    const m = without.scorers.find((s) => s.name === 'model.anomaly')!;
    expect(m.available).toBe(false);
    expect(m.byType.naive).toBeNull();
    expect(formatReport(without)).toMatch(/model\.anomaly\s+naive\s+n\/a/);

    const withModel = collect([
      ev('legit', 'allow', { anomaly: 0.1 }),
      ev('legit', 'allow', { anomaly: 0.3 }),
      ev('naive', 'step_up', { anomaly: 0.9 }),
      ev('naive', 'allow', { anomaly: 0.2 }),
    ]);
    const mm = withModel.scorers.find((s) => s.name === 'model.anomaly')!;
    expect(mm.available).toBe(true);
    expect(mm.byType.naive?.auc).toBe(0.75);
    expect(mm.byType.vpn).toBeNull();
  });

  it('serialises to JSON with NaN as null', () => {
    const r = collect([ev('legit', 'allow')]);
    const j = reportJson(r) as { pack: { byType: { naive: { caught: unknown } } } };
    expect(j.pack.byType.naive.caught).toBeNull();
  });
});

describe('the ROC plot', () => {
  it('draws one path per curve in one panel per attacker type, escaping names', () => {
    const svg = renderRocSvg([
      { title: 'naive <1>', curves: [{ name: 'a&b', fpr: [0, 0, 0.5, 1], tpr: [0, 0.5, 1, 1], auc: 0.875 }] },
      { title: 'vpn', curves: [{ name: 'x', fpr: [0, 1], tpr: [0, 1], auc: 0.5 }, { name: 'y', fpr: [0, 1], tpr: [0, 1], auc: Number.NaN }] },
    ]);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<path /g)?.length).toBe(3);
    expect(svg).toContain('naive &lt;1&gt;');
    expect(svg).toContain('a&amp;b (AUC 0.875)');
    expect(svg).toContain('y (AUC n/a)');
    expect(svg).not.toContain('NaN');
  });
});

// ------------------------------------------------------------------------------------------------

describe('vigil model eval', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'vigil-eval-'));
  const events = join(tmp, 'events.ndjson');
  let geoip: GeoIp;
  beforeAll(async () => {
    geoip = await createGeoIp({ watch: false });
    const io = bufferIO();
    const code = await runSimulate(['--users', '40', '--days', '6', '--seed', '3', '--geo-samples', '20000', '--attack-start-day', '2', '--out', events], io, { geoip });
    if (code !== 0) throw new Error(io.err());
  });
  afterAll(() => {
    geoip.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('replays the events and prints the report; --json and --plot give JSON and an SVG', async () => {
    const plot = join(tmp, 'roc.svg');
    const io = bufferIO();
    expect(await runModelEval(['--events', events, '--no-model', '--warmup-days', '2', '--json', '--plot', plot], io, { geoip })).toBe(0);
    const j = JSON.parse(io.out()) as { legit: number; attacks: Record<string, number>; scorers: { name: string; available: boolean }[]; bad_lines: number };
    expect(j.legit).toBeGreaterThan(50);
    expect(j.attacks.stuffing).toBeGreaterThan(0);
    expect(j.scorers.find((s) => s.name === 'model.anomaly')?.available).toBe(false);
    expect(j.scorers.find((s) => s.name === 'rba.score')?.available).toBe(true);
    expect(j.bad_lines).toBe(0);
    expect(readFileSync(plot, 'utf8')).toMatch(/^<svg/);
    const text = bufferIO();
    expect(await runModelEval(['--events', events, '--no-model', '--warmup-days', '2'], text)).toBe(0);
    expect(text.out()).toMatch(/ROC AUC/);
    // the default 10-day warm-up leaves no legitimate attempt of a 6-day simulation: a usage error
    const short = bufferIO();
    expect(await runModelEval(['--events', events, '--no-model'], short, { geoip })).toBe(2);
    expect(short.err()).toContain('--warmup-days');
    expect(short.out()).toBe('');
  });

  it('uses an injected model loader for --model, and fails clearly without one', async () => {
    const io = bufferIO();
    const loadModel = (path: string) => Promise.resolve({ version: `test:${path}`, score: (f: Readonly<Record<string, unknown>>) => (f['device.known'] === true ? 0.1 : 0.9) });
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--model', 'm.onnx', '--json'], io, { loadModel, geoip })).toBe(0);
    const j = JSON.parse(io.out()) as { scorers: { name: string; available: boolean }[] };
    expect(j.scorers.find((s) => s.name === 'model.anomaly')?.available).toBe(true);

    const none = bufferIO();
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--model', 'm.onnx'], none, { geoip, loadModel: null })).toBe(1);
    const missing = bufferIO();
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--model', join(tmp, 'missing.onnx')], missing, { geoip })).toBe(1);
    expect(missing.err()).toContain('missing.onnx');
    const asked: string[] = [];
    const spy = (path: string) => {
      asked.push(path);
      return loadModel(path);
    };
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--json'], bufferIO(), { loadModel: spy, geoip })).toBe(0);
    expect(asked).toEqual([DEFAULT_MODEL_PATH]);
    const both = bufferIO();
    expect(await runModelEval(['--events', events, '--model', 'm.onnx', '--no-model'], both, { loadModel, geoip })).toBe(2);
    expect(both.err()).toContain('--no-model');
    const failing = bufferIO();
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--model', 'm.onnx'], failing, { loadModel: () => Promise.reject(new Error('bad file')), geoip })).toBe(1);
    expect(failing.err()).toContain('m.onnx');
  });

  it('scores with the shipped ONNX model by default (features/model)', async () => {
    const io = bufferIO();
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--json'], io, { geoip })).toBe(0);
    const j = JSON.parse(io.out()) as { scorers: { name: string; available: boolean; byType: Record<string, { auc: number } | null> }[] };
    const m = j.scorers.find((s) => s.name === 'model.anomaly')!;
    expect(m.available).toBe(true);
    expect(m.byType.naive?.auc).toBeGreaterThan(0.5);
  });

  it('skips bad lines and fails when nothing is left', async () => {
    const mixed = join(tmp, 'mixed.ndjson');
    const first = readFileSync(events, 'utf8').split('\n').slice(0, 30).join('\n');
    writeFileSync(mixed, `not json\n${first}\n{"request":{}}\n`);
    const io = bufferIO();
    expect(await runModelEval(['--events', mixed, '--warmup-days', '0', '--json'], io, { geoip })).toBe(0);
    expect((JSON.parse(io.out()) as { bad_lines: number }).bad_lines).toBe(2);
    expect(io.err()).toContain('line 1');

    const junk = join(tmp, 'junk.ndjson');
    writeFileSync(junk, 'x\ny\n');
    const io2 = bufferIO();
    expect(await runModelEval(['--events', junk], io2, { geoip })).toBe(1);
    expect(io2.out()).toBe('');
  });

  it.each([
    [[], 2, '--events'],
    [['--events', 'x', '--warmup-days', 'ten'], 2, '--warmup-days'],
    [['--events', 'x', '--bogus'], 2, 'bogus'],
    [['--events', '/nonexistent/events.ndjson'], 1, '/nonexistent/events.ndjson'],
    [['--events', '/tmp', '--pack', 'x'], 1, '/tmp'],
  ])('exits with the right status on bad input %j', async (argv, code, word) => {
    const io = bufferIO();
    expect(await runModelEval(argv, io, { geoip })).toBe(code);
    expect(io.err()).toContain(word);
  });

  it('exits 1 for a missing pack', async () => {
    const io = bufferIO();
    expect(await runModelEval(['--events', events, '--warmup-days', '2', '--pack', join(tmp, 'nopack')], io, { geoip })).toBe(1);
    expect(io.err()).toContain('nopack');
  });
});
