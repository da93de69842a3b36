// Rules: each rule's clauses (each at most once, E_DUPLICATE), its `on` event types, its `when`
// condition and `reason` interpolations (typed by dsl/check/types.ts), its score (E_LITERAL), what a
// rule needs (E_RULE: a `when`, and `then` or `score`), and the rule-count limit (E_LIMIT).
//
// Choices where dsl.md is silent (docs/dsl.md §5, §13):
//  - A repeated event type in `on` is E_DUPLICATE.
//  - `notice` names a code of the catalogue (dsl/notices.ts), else E_NOTICE at the code.
//  - E_LIMIT for too many rules points at the first rule over the limit.
import type * as A from '../ast.ts';
import { diag } from '../diagnostics.ts';
import { isNoticeCode, NOTICE_CODES, type NoticeCode } from '../notices.ts';
import { assertNever, isList } from '../types.ts';
import type { CheckedRule } from './checked.ts';
import type { CheckContext } from './context.ts';
import { resolveEventType } from './declarations.ts';
import { typeCondition, typeExpr, type Scope } from './types.ts';

const RULE_SCOPE: Scope = { policy: false };

/** Every rule, in declaration order. */
export function checkRules(cx: CheckContext, decls: readonly A.Decl[]): CheckedRule[] {
  const rules: CheckedRule[] = [];
  for (const d of decls) {
    if (d.kind !== 'Rule') continue;
    rules.push(checkRule(cx, d));
    if (rules.length === cx.limits.maxRules + 1) {
      cx.report(diag('E_LIMIT', d.name.span, `too many rules: a pack may have at most ${cx.limits.maxRules}`));
    }
  }
  return rules;
}

function checkRule(cx: CheckContext, d: A.RuleDecl): CheckedRule {
  const seen = new Set<A.RuleClause['kind']>();
  let on: string[] | null = null;
  let when: A.Expr | null = null;
  let action: A.Action | null = null;
  let score: number | null = null;
  let reason: A.Template | null = null;
  let description: string | null = null;
  let tags: string[] = [];
  let mode: 'enforce' | 'shadow' = 'enforce';
  let notice: NoticeCode | null = null;
  for (const c of d.clauses) {
    if (seen.has(c.kind)) {
      cx.report(diag('E_DUPLICATE', c.span, `rule \`${d.name.name}\` already has a \`${c.kind.toLowerCase()}\` clause`));
      continue;
    }
    seen.add(c.kind);
    switch (c.kind) {
      case 'Description':
        description = c.text.value;
        break;
      case 'On': {
        const types = new Set<string>();
        for (const t of c.types) {
          if (types.has(t.name)) cx.report(diag('E_DUPLICATE', t.span, `event type \`${t.name}\` is listed twice`));
          else if (resolveEventType(cx, t)) types.add(t.name);
        }
        on = [...types];
        break;
      }
      case 'When':
        when = c.cond;
        typeCondition(cx, c.cond, RULE_SCOPE, 'a `when` condition');
        break;
      case 'Then':
        action = c.action;
        break;
      case 'Score': {
        const v = c.value.value;
        if (!Number.isInteger(v) || v < -100 || v > 100) {
          cx.report(diag('E_LITERAL', c.value.span, `a score must be an integer from -100 to 100, not ${c.value.raw}`));
        } else score = v;
        break;
      }
      case 'Reason':
        reason = c.template;
        for (const part of c.template.parts) {
          if (typeof part === 'string') continue;
          const t = typeExpr(cx, part, RULE_SCOPE);
          if (t !== null && isList(t)) cx.report(diag('E_TYPE', part.span, 'a list cannot be interpolated into a reason'));
        }
        break;
      case 'Tags':
        tags = [...new Set(c.tags.map((t) => t.name))];
        break;
      case 'Mode':
        mode = c.mode;
        break;
      case 'Notice':
        if (isNoticeCode(c.code.name)) notice = c.code.name;
        else {
          cx.report(
            diag('E_NOTICE', c.code.span, `\`${c.code.name}\` is not a notice code`, `notice codes: ${NOTICE_CODES.join(', ')}`),
          );
        }
        break;
      default:
        assertNever(c, 'rule clause');
    }
  }
  if (!seen.has('When')) cx.report(diag('E_RULE', d.name.span, `rule \`${d.name.name}\` has no \`when\` condition`));
  if (!seen.has('Then') && !seen.has('Score')) cx.report(diag('E_RULE', d.name.span, `rule \`${d.name.name}\` needs \`then\` or \`score\``));
  return { decl: d, name: d.name.name, on, when, action, score: score ?? 0, reason, description, tags, mode, notice };
}
