// The checker: given the parsed files of a pack, runs the passes of dsl/check/ in order and returns
// a CheckedPack (dsl/check/checked.ts) with every diagnostic of dsl.md §5 that comes after parsing.
// Each pass owns its codes:
//
//   declarations.ts  header (E_HEADER), one namespace (E_DUPLICATE), consts, name resolution
//                    (E_UNKNOWN_NAME with hints), W_UNUSED; lists.ts: list sources (E_LIST_SOURCE)
//   types.ts         expression typing (E_TYPE, E_LITERAL for ips, E_REGEX)
//   rules.ts         rule clauses (E_RULE, E_DUPLICATE, score E_LITERAL, rule-count E_LIMIT)
//   policy.ts        policies (E_DUPLICATE, W_UNREACHABLE)
//   tests.ts         `test` blocks (E_TEST)
//
// Names are declared before any body is checked, so declarations may come in any order; W_UNUSED
// comes last, once every use has been seen.
import type * as A from '../ast.ts';
import type { PackSource } from '../index.ts';
import type { Limits } from '../limits.ts';
import type { Scheme } from '../types.ts';
import type { CheckResult } from './checked.ts';
import { CheckContext } from './context.ts';
import { checkHeader, declareNames, reportUnused } from './declarations.ts';
import { checkPolicies } from './policy.ts';
import { checkRules } from './rules.ts';
import { checkTests } from './tests.ts';

export type * from './checked.ts';
export { defaultTestEventType } from './tests.ts';

/** Check a parsed pack (every file parsed without E_SYNTAX), collecting every diagnostic. */
export function checkPack(files: readonly A.SourceFile[], src: PackSource, scheme: Scheme, limits: Limits): CheckResult {
  const cx = new CheckContext(src, scheme, limits);
  const decls = files.flatMap((f) => f.decls);
  const { name, version } = checkHeader(cx, files, decls);
  declareNames(cx, decls);
  const rules = checkRules(cx, decls);
  const { defaultPolicy, policies } = checkPolicies(cx, decls);
  const tests = checkTests(cx, decls, rules);
  reportUnused(cx);
  return {
    checked: {
      name,
      version,
      rules,
      defaultPolicy,
      policies,
      tests,
      consts: cx.consts,
      lists: cx.lists,
      types: cx.types,
      names: cx.names,
      regexes: cx.regexes,
    },
    diagnostics: cx.diagnostics,
  };
}
