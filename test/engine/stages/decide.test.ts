// Stage 4, decide: the engine's own features and the probe answers go into the context, the pack
// decides, and the answer is assembled (with the computed features under explain).
import { describe, expect, it } from 'vitest';
import { planFeatures } from '../../../engine/plan.ts';
import { decide } from '../../../engine/stages/decide.ts';
import { extract } from '../../../engine/stages/extract.ts';
import type { Scored, SignalsRead } from '../../../engine/stages/types.ts';
import type { EventContext } from '../../../features/store/index.ts';
import { event, pack } from './helpers.ts';

const p = pack(
  'pack p version 1\nlist blocked: string = redis "b"\n' +
    'rule degraded { when engine.degraded score 60 }\nrule listed { when user.id in blocked then block }\n' +
    'rule watch { when true score 5 mode shadow }\npolicy { step_up when score >= 50 }',
);
const plan = planFeatures(p);
const ctx = { v: 1, type: 'login', time: 0, user: 'u', ip: 'i' } as EventContext;
const ok: Scored = { rba: undefined, model: undefined, degraded: false };

function read(over: Partial<SignalsRead> = {}): SignalsRead {
  return { ctx, attempt: {}, signals: { probes: [] }, probesSent: [], shadowProbesSent: [], shadowProbeAnswers: [], degraded: false, ...over };
}

describe('decide', () => {
  it('runs the rules and policy on the context and assembles the answer', () => {
    const r = decide({ id: 'ID', pack: p, plan, model: undefined, explain: false }, extract(event(), p.slotCount), read(), ok);
    expect(r).toEqual({
      decision_id: 'ID',
      decision: 'allow',
      score: 0,
      rules: [],
      shadow: [{ name: 'watch', action: null, score: 5, reason: null, tags: [] }],
      model: null,
      pack: { name: 'p', version: 1, hash: p.hash },
      degraded: false,
      notices: [],
    });
  });

  it('a degraded signal source or model sets engine.degraded, which rules can read', () => {
    const a = decide({ id: 'A', pack: p, plan, model: undefined, explain: false }, extract(event(), p.slotCount), read({ degraded: true }), ok);
    expect([a.decision, a.degraded, a.rules.map((h) => h.name)]).toEqual(['step_up', true, ['degraded']]);
    const b = decide({ id: 'B', pack: p, plan, model: undefined, explain: false }, extract(event(), p.slotCount), read(), { ...ok, degraded: true });
    expect(b.degraded).toBe(true);
  });

  it('writes the probe answers into the probe slots; unanswered probes stay missing', () => {
    const hit = decide({ id: 'A', pack: p, plan, model: undefined, explain: false }, extract(event(), p.slotCount), read({ probesSent: [0], signals: { probes: [true] } }), ok);
    expect(hit.decision).toBe('block');
    const down = decide({ id: 'B', pack: p, plan, model: undefined, explain: false }, extract(event(), p.slotCount), read({ probesSent: [0], signals: null }), ok);
    expect(down.decision).toBe('allow');
  });

  it('explain adds every computed feature (missing as null), the plan steps and the contributions', () => {
    const x = extract(event(), p.slotCount);
    const r = decide({ id: 'E', pack: p, plan, model: undefined, explain: true }, x, read(), ok);
    expect(Object.keys(r.features ?? {})).toEqual(plan.computed.map((e) => e.name));
    expect(r.features?.['engine.degraded']).toBe(false);
    expect(r.features?.['geo.country']).toBeNull();
    expect(r.plan).toEqual(plan.steps);
    expect(r.contributions).toEqual([]);
  });
});
