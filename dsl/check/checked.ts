// What the checker produces: a CheckedPack, the resolved declarations of an error-free (or not) pack
// plus the side tables the compiler (dsl/compiler.ts) and the pack-test runner (dsl/packtest.ts) read
// (expression types, name targets, compiled patterns). The passes of dsl/check/ fill it; nothing
// after the checker looks at a diagnostic or re-resolves a name.
import type * as A from '../ast.ts';
import type { Diagnostic } from '../diagnostics.ts';
import type { NoticeCode } from '../notices.ts';
import type { Scalar, Type, Value } from '../types.ts';

export interface ConstInfo {
  readonly decl: A.ConstDecl;
  /** null when the const is malformed (already reported). */
  readonly type: Type | null;
  /** A scalar, or the entries of a list const. */
  readonly value: Value | readonly Value[] | undefined;
  /** The literal nodes holding the value (one for a scalar), for coercion diagnostics. */
  readonly literals: readonly A.Expr[];
  /** Read by a rule, a policy or a test (W_UNUSED otherwise). */
  used: boolean;
}

export interface ListInfo {
  readonly decl: A.ListDecl;
  readonly elemType: Scalar | null;
  readonly source: 'inline' | 'file' | 'redis';
  /** Inline and file entries; ips as canonical addresses or CIDR ranges. */
  readonly values: readonly Value[];
  /** The Redis key of a `redis` list. */
  readonly key: string | null;
  /** Read by a rule or a policy (W_UNUSED otherwise). */
  used: boolean;
}

export type NameTarget =
  | { readonly kind: 'const'; readonly info: ConstInfo }
  | { readonly kind: 'list'; readonly info: ListInfo }
  | { readonly kind: 'score' };

export interface CheckedRule {
  readonly decl: A.RuleDecl;
  readonly name: string;
  readonly on: readonly string[] | null;
  readonly when: A.Expr | null;
  readonly action: A.Action | null;
  readonly score: number;
  readonly reason: A.Template | null;
  readonly description: string | null;
  readonly tags: readonly string[];
  readonly mode: 'enforce' | 'shadow';
  /** `notice CODE` (dsl.md §7), null without one. */
  readonly notice: NoticeCode | null;
}

export interface CheckedPolicy {
  readonly decl: A.PolicyDecl;
  readonly eventType: string | null;
  readonly lines: readonly A.PolicyLine[];
}

export type TestExpect =
  | { readonly kind: 'decision'; readonly action: A.Action; readonly span: A.Span }
  | { readonly kind: 'matched'; readonly rule: string; readonly negated: boolean; readonly span: A.Span };

export interface CheckedTest {
  readonly decl: A.TestDecl;
  readonly name: string;
  readonly eventType: string;
  /** Feature values by name (ips canonical, durations in seconds). */
  readonly given: ReadonlyMap<string, Value>;
  readonly expects: readonly TestExpect[];
}

export interface CheckedPack {
  readonly name: string;
  readonly version: number;
  readonly rules: readonly CheckedRule[];
  readonly defaultPolicy: CheckedPolicy | null;
  readonly policies: ReadonlyMap<string, CheckedPolicy>;
  readonly tests: readonly CheckedTest[];
  readonly consts: ReadonlyMap<string, ConstInfo>;
  readonly lists: ReadonlyMap<string, ListInfo>;
  /** The type of every well-typed expression node (after ip coercion). */
  readonly types: ReadonlyMap<A.Expr, Type>;
  /** What each bare name refers to. */
  readonly names: ReadonlyMap<A.NameRef, NameTarget>;
  /** The compiled pattern of each `matches` right-hand side. */
  readonly regexes: ReadonlyMap<A.Expr, (s: string) => boolean>;
}

export interface CheckResult {
  readonly checked: CheckedPack;
  readonly diagnostics: readonly Diagnostic[];
}
