// Pack tests (`test` blocks, dsl.md §6): the event type a test runs as, its `given` feature values
// converted to runtime values, and its expectations; E_TEST for an unknown feature, event type or
// rule or a `given` value of the wrong type, E_DUPLICATE for what a test says twice. The tests run
// later, against the compiled pack (dsl/packtest.ts).
//
// Choices where dsl.md is silent (docs/dsl.md §12):
//  - Duplicates inside a test (`event`, `given`, the decision `expect`, the same feature twice in
//    one `given`) and the same test name twice are E_DUPLICATE.
//  - A test without `event` runs as `login` (the scheme's first event type if it has no `login`),
//    unless its `given` sets `event.type`, which then names the event type; a `given event.type`
//    contradicting `event` is E_TEST. Every problem with a `given` value (wrong type, a bad or CIDR
//    address for an ip feature, a non-literal) is E_TEST. A `given` value may name a scalar const,
//    which then counts as used.
//  - `expect matched NAME` holds when NAME fired, enforcing or shadow (dsl.md §3 v1.1; analysts test
//    shadow rules before promoting them); `expect not matched NAME` when it fired in neither.
import type * as A from '../ast.ts';
import { diag } from '../diagnostics.ts';
import { parseIpOrCidr } from '../iplist.ts';
import { assertNever, isList, type Scalar, type Scheme, type Value } from '../types.ts';
import type { CheckedRule, CheckedTest, TestExpect } from './checked.ts';
import { literalOf, suggest, unparen, type CheckContext } from './context.ts';

/** The event type a test runs as when it names none. */
export function defaultTestEventType(scheme: Scheme): string {
  return scheme.eventTypes.includes('login') ? 'login' : (scheme.eventTypes[0] ?? 'login');
}

/** Every test, in declaration order. */
export function checkTests(cx: CheckContext, decls: readonly A.Decl[], rules: readonly CheckedRule[]): CheckedTest[] {
  const ruleNames = rules.map((r) => r.name);
  const tests: CheckedTest[] = [];
  const testNames = new Set<string>();
  for (const d of decls) {
    if (d.kind !== 'Test') continue;
    if (testNames.has(d.name.value)) cx.report(diag('E_DUPLICATE', d.name.span, `test "${d.name.value}" is already declared`));
    testNames.add(d.name.value);
    tests.push(checkTest(cx, d, ruleNames));
  }
  return tests;
}

function checkTest(cx: CheckContext, d: A.TestDecl, ruleNames: readonly string[]): CheckedTest {
  const eventTypes = cx.scheme.eventTypes;
  let event: A.TestEvent | null = null;
  let given: A.TestGiven | null = null;
  let decision: A.ExpectDecision | null = null;
  const values = new Map<string, Value>();
  const expects: TestExpect[] = [];
  let givenType: { value: string; span: A.Span } | null = null;
  for (const item of d.items) {
    switch (item.kind) {
      case 'TestEvent':
        if (event) cx.report(diag('E_DUPLICATE', item.span, 'the test already names its event'));
        else {
          event = item;
          if (!eventTypes.includes(item.type.name)) {
            cx.report(diag('E_TEST', item.type.span, `unknown event type \`${item.type.name}\``, suggest(item.type.name, eventTypes)));
          }
        }
        break;
      case 'Given':
        if (given) {
          cx.report(diag('E_DUPLICATE', item.span, 'the test already has a `given` block'));
          break;
        }
        given = item;
        for (const entry of item.entries) {
          const name = entry.feature.path;
          if (values.has(name) || (name === 'event.type' && givenType)) {
            cx.report(diag('E_DUPLICATE', entry.span, `\`${name}\` is given twice`));
            continue;
          }
          const v = givenValue(cx, entry);
          if (v === undefined) continue;
          if (name === 'event.type') {
            if (!eventTypes.includes(v as string)) {
              cx.report(diag('E_TEST', entry.value.span, `unknown event type \`${String(v)}\``));
              continue;
            }
            givenType = { value: v as string, span: entry.value.span };
          }
          values.set(name, v);
        }
        break;
      case 'ExpectDecision':
        if (decision) cx.report(diag('E_DUPLICATE', item.span, 'the test already expects a decision'));
        else {
          decision = item;
          expects.push({ kind: 'decision', action: item.action, span: item.span });
        }
        break;
      case 'ExpectMatched':
        if (!cx.ruleNames.has(item.rule.name)) {
          cx.report(diag('E_TEST', item.rule.span, `unknown rule \`${item.rule.name}\``, suggest(item.rule.name, ruleNames)));
        } else expects.push({ kind: 'matched', rule: item.rule.name, negated: item.negated, span: item.span });
        break;
      default:
        assertNever(item, 'test item');
    }
  }
  if (event && givenType && givenType.value !== event.type.name) {
    cx.report(diag('E_TEST', givenType.span, `\`event.type\` contradicts the test's \`event ${event.type.name}\``));
  }
  const eventType = event?.type.name ?? givenType?.value ?? defaultTestEventType(cx.scheme);
  values.set('event.type', eventType);
  return { decl: d, name: d.name.value, eventType, given: values, expects };
}

/** A `given` value converted to the feature's runtime value, or undefined after an E_TEST. */
function givenValue(cx: CheckContext, entry: A.GivenEntry): Value | undefined {
  const name = entry.feature.path;
  const def = cx.scheme.feature(name);
  if (!def) {
    cx.report(diag('E_TEST', entry.feature.span, `unknown feature \`${name}\``, suggest(name, cx.scheme.featureNames())));
    return undefined;
  }
  let lit = literalOf(entry.value);
  const u = unparen(entry.value);
  if (!lit && u.kind === 'Name') {
    const c = cx.consts.get(u.name);
    if (c) c.used = true;
    if (c && c.type !== null && !isList(c.type)) lit = { value: c.value as Value, type: c.type as Scalar };
  }
  if (!lit) {
    cx.report(diag('E_TEST', entry.value.span, `a given value must be a literal of type ${def.type}`));
    return undefined;
  }
  if (def.type === 'ip') {
    if (lit.type !== 'string') {
      cx.report(diag('E_TEST', entry.value.span, `\`${name}\` is an ip: give it as a string, found ${lit.type}`));
      return undefined;
    }
    const p = parseIpOrCidr(lit.value as string);
    if (!p.ok || p.isCidr) {
      cx.report(diag('E_TEST', entry.value.span, `\`${lit.value as string}\` is not an IP address`));
      return undefined;
    }
    return p.canonical;
  }
  if (lit.type !== def.type) {
    const how = def.type === 'duration' ? ' (a duration literal like `30s`, `10m`, `2h`, `7d`)' : '';
    cx.report(diag('E_TEST', entry.value.span, `\`${name}\` is ${def.type}${how}, found ${lit.type}`));
    return undefined;
  }
  return lit.value;
}
