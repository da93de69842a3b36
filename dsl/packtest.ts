// Runs a pack's own `test` blocks (dsl.md §6) against its compiled form: builds slots from `given`
// (features not given are missing; `event.type` is the test's event), resolves Redis-list probes
// through a backend (an empty in-memory one by default), evaluates, and checks each expectation.
// `expect matched NAME` holds when NAME fired as an enforcing OR a shadow rule (dsl.md §3 v1.1;
// dsl/check/tests.ts).
import { assertNever } from './ast.ts';
import type { CheckedPack, CheckedTest } from './check/index.ts';
import type { CompiledPack, Decision } from './compiled.ts';
import type { PackTestReport, PackTestResult, RedisListBackend } from './index.ts';
import type { MaybeValue, Slots } from './types.ts';
import { resolveProbes } from './values.ts';

function slotsFor(pack: CompiledPack, t: CheckedTest): Slots {
  const slots: Slots = new Array<MaybeValue>(pack.slotCount).fill(undefined);
  for (const [name, v] of t.given) {
    const slot = pack.slotOf(name);
    if (slot >= 0) slots[slot] = v;
  }
  return slots;
}

function fired(d: Decision, rule: string): boolean {
  return d.rules.some((h) => h.name === rule) || d.shadow.some((h) => h.name === rule);
}

export function runOneTest(pack: CompiledPack, t: CheckedTest, lists: RedisListBackend): PackTestResult {
  const slots = slotsFor(pack, t);
  resolveProbes(pack, slots, lists);
  const decision = pack.evaluate(t.eventType, slots);
  const failures: string[] = [];
  for (const e of t.expects) {
    switch (e.kind) {
      case 'decision':
        if (decision.decision !== e.action) failures.push(`expected ${e.action}, got ${decision.decision} (score ${decision.score})`);
        break;
      case 'matched': {
        const hit = fired(decision, e.rule);
        if (hit && e.negated) failures.push(`expected rule \`${e.rule}\` not to match, but it did`);
        if (!hit && !e.negated) failures.push(`expected rule \`${e.rule}\` to match, but it did not`);
        break;
      }
      default:
        assertNever(e, 'expectation');
    }
  }
  return { name: t.name, span: t.decl.span, passed: failures.length === 0, failures, decision };
}

export function runPackTests(checked: CheckedPack, pack: CompiledPack, lists: RedisListBackend): PackTestReport {
  const results = checked.tests.map((t) => runOneTest(pack, t, lists));
  const passed = results.filter((r) => r.passed).length;
  return { passed, failed: results.length - passed, results };
}
