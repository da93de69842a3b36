// The rules language's abstract syntax tree. Every node carries a Span into its source file, so that
// every later stage (checker, compiler, pack tests) can point a diagnostic at the offending token.

/** A source range. `line`/`col` are 1-based and locate `offset`; `end` is an exclusive offset. */
export interface Span {
  readonly file: string;
  readonly offset: number;
  readonly end: number;
  readonly line: number;
  readonly col: number;
}

export interface Ident {
  readonly kind: 'Ident';
  readonly name: string;
  readonly span: Span;
}

export type Action = 'allow' | 'step_up' | 'block';

// ---------------------------------------------------------------------------------------------
// Expressions
// ---------------------------------------------------------------------------------------------

export interface BoolLit {
  readonly kind: 'Bool';
  readonly value: boolean;
  readonly span: Span;
}
export interface NumberLit {
  readonly kind: 'Number';
  readonly value: number;
  readonly raw: string;
  readonly span: Span;
}
export interface StringLit {
  readonly kind: 'String';
  /** The decoded value (escapes resolved). */
  readonly value: string;
  /** The source text including quotes. */
  readonly raw: string;
  readonly span: Span;
}
export interface DurationLit {
  readonly kind: 'Duration';
  /** Seconds. */
  readonly value: number;
  readonly raw: string;
  readonly span: Span;
}
export interface ListLit {
  readonly kind: 'ListLit';
  readonly items: readonly Expr[];
  readonly span: Span;
}
/** A bare identifier: a const, a list, or (inside a policy condition) `score`. */
export interface NameRef {
  readonly kind: 'Name';
  readonly name: string;
  readonly span: Span;
}
/** A dotted feature path of two or more segments (`geo.country`). */
export interface FeatureRef {
  readonly kind: 'Feature';
  readonly path: string;
  readonly span: Span;
}
export interface Call {
  readonly kind: 'Call';
  readonly callee: Ident;
  readonly args: readonly Expr[];
  readonly span: Span;
}
export type UnaryOp = 'not' | '-';
export interface Unary {
  readonly kind: 'Unary';
  readonly op: UnaryOp;
  readonly operand: Expr;
  readonly span: Span;
}
export type BinaryOp =
  | '??'
  | 'or'
  | 'and'
  | '=='
  | '!='
  | '<'
  | '<='
  | '>'
  | '>='
  | 'in'
  | 'not in'
  | 'matches'
  | 'contains'
  | 'starts_with'
  | 'ends_with'
  | '+'
  | '-'
  | '*'
  | '/';
export interface Binary {
  readonly kind: 'Binary';
  readonly op: BinaryOp;
  readonly left: Expr;
  readonly right: Expr;
  /** The operator token itself, where type errors about the operation point. */
  readonly opSpan: Span;
  readonly span: Span;
}
/**
 * Binding strength of each binary operator, loosest first (dsl.md §3): 1 `??`, 2 `or`, 3 `and`,
 * 5 comparisons, 6 `+ -`, 7 `* /` (4 is `not`, 8 unary `-`, 9 a primary).
 */
export const BINARY_PRECEDENCE: Readonly<Record<BinaryOp, number>> = {
  '??': 1,
  or: 2,
  and: 3,
  '==': 5,
  '!=': 5,
  '<': 5,
  '<=': 5,
  '>': 5,
  '>=': 5,
  in: 5,
  'not in': 5,
  matches: 5,
  contains: 5,
  starts_with: 5,
  ends_with: 5,
  '+': 6,
  '-': 6,
  '*': 7,
  '/': 7,
};
export const COMPARISON_PRECEDENCE = 5;

/**
 * Does `e` extend a chain of one precedence level (`a or b or c` is `(a or b) or c`, `a + b - c` is
 * `(a + b) - c`)? A chain is one level of nesting whatever its length (dsl.md §3, v1.1), so a pass
 * must walk it as a loop (chainOf), never by recursing down its left spine: the spine is as long as
 * the chain, which no depth limit bounds.
 */
export function continuesChain(e: Binary): boolean {
  const l = e.left;
  const p = BINARY_PRECEDENCE[e.op];
  return l.kind === 'Binary' && BINARY_PRECEDENCE[l.op] === p && p !== COMPARISON_PRECEDENCE;
}

/**
 * The links of the chain that `e` ends, first link first: `links[0].left` is the chain's first
 * operand and each link's `right` the next one; `e` itself is the last link.
 */
export function chainOf(e: Binary): Binary[] {
  const links: Binary[] = [e];
  let x = e;
  while (continuesChain(x)) {
    x = x.left as Binary;
    links.push(x);
  }
  return links.reverse();
}

export interface Paren {
  readonly kind: 'Paren';
  readonly expr: Expr;
  readonly span: Span;
}

export type Expr =
  | BoolLit
  | NumberLit
  | StringLit
  | DurationLit
  | ListLit
  | NameRef
  | FeatureRef
  | Call
  | Unary
  | Binary
  | Paren;

/** A `reason` string: literal text with `{expr}` interpolations, each with its own spans. */
export interface Template {
  readonly kind: 'Template';
  readonly parts: readonly (string | Expr)[];
  readonly raw: string;
  readonly span: Span;
}

// ---------------------------------------------------------------------------------------------
// Declarations
// ---------------------------------------------------------------------------------------------

export interface Header {
  readonly kind: 'Header';
  readonly name: Ident;
  readonly version: NumberLit;
  readonly span: Span;
}

export interface ConstDecl {
  readonly kind: 'Const';
  readonly name: Ident;
  readonly value: Expr;
  readonly span: Span;
}

export interface TypeName {
  readonly kind: 'TypeName';
  /** As written: `ip`, `number`, `string`, `bool`, `duration`. */
  readonly name: string;
  readonly span: Span;
}

export interface InlineListSource {
  readonly kind: 'InlineList';
  readonly items: ListLit;
  readonly span: Span;
}
export interface FileListSource {
  readonly kind: 'FileList';
  readonly path: StringLit;
  readonly span: Span;
}
export interface RedisListSource {
  readonly kind: 'RedisList';
  readonly key: StringLit;
  readonly span: Span;
}
export type ListSource = InlineListSource | FileListSource | RedisListSource;

export interface ListDecl {
  readonly kind: 'List';
  readonly name: Ident;
  readonly elemType: TypeName;
  readonly source: ListSource;
  readonly span: Span;
}

export interface DescriptionClause {
  readonly kind: 'Description';
  readonly text: StringLit;
  readonly span: Span;
}
export interface OnClause {
  readonly kind: 'On';
  readonly types: readonly Ident[];
  readonly span: Span;
}
export interface WhenClause {
  readonly kind: 'When';
  readonly cond: Expr;
  readonly span: Span;
}
export interface ThenClause {
  readonly kind: 'Then';
  readonly action: Action;
  readonly span: Span;
}
export interface ScoreClause {
  readonly kind: 'Score';
  /** Signed; the literal's span includes a leading minus. */
  readonly value: NumberLit;
  readonly span: Span;
}
export interface ReasonClause {
  readonly kind: 'Reason';
  readonly template: Template;
  readonly span: Span;
}
export interface TagsClause {
  readonly kind: 'Tags';
  readonly tags: readonly Ident[];
  readonly span: Span;
}
export interface ModeClause {
  readonly kind: 'Mode';
  readonly mode: 'enforce' | 'shadow';
  readonly span: Span;
}
/** `notice CODE` (dsl.md §7): the code is checked against the catalogue (E_NOTICE). */
export interface NoticeClause {
  readonly kind: 'Notice';
  readonly code: Ident;
  readonly span: Span;
}
export type RuleClause =
  | NoticeClause
  | DescriptionClause
  | OnClause
  | WhenClause
  | ThenClause
  | ScoreClause
  | ReasonClause
  | TagsClause
  | ModeClause;

export interface RuleDecl {
  readonly kind: 'Rule';
  readonly name: Ident;
  readonly clauses: readonly RuleClause[];
  readonly span: Span;
}

export interface PolicyLine {
  readonly kind: 'PolicyLine';
  readonly action: Action;
  readonly cond: Expr;
  readonly span: Span;
}
export interface PolicyDecl {
  readonly kind: 'Policy';
  /** null for the default policy. */
  readonly eventType: Ident | null;
  readonly lines: readonly PolicyLine[];
  readonly span: Span;
}

export interface TestEvent {
  readonly kind: 'TestEvent';
  readonly type: Ident;
  readonly span: Span;
}
export interface GivenEntry {
  readonly kind: 'GivenEntry';
  readonly feature: FeatureRef;
  readonly value: Expr;
  readonly span: Span;
}
export interface TestGiven {
  readonly kind: 'Given';
  readonly entries: readonly GivenEntry[];
  readonly span: Span;
}
export interface ExpectDecision {
  readonly kind: 'ExpectDecision';
  readonly action: Action;
  readonly span: Span;
}
export interface ExpectMatched {
  readonly kind: 'ExpectMatched';
  readonly rule: Ident;
  readonly negated: boolean;
  readonly span: Span;
}
export type TestItem = TestEvent | TestGiven | ExpectDecision | ExpectMatched;

export interface TestDecl {
  readonly kind: 'Test';
  readonly name: StringLit;
  readonly items: readonly TestItem[];
  readonly span: Span;
}

export type Decl = Header | ConstDecl | ListDecl | RuleDecl | PolicyDecl | TestDecl;

/** One parsed `.rules` file. A pack is the concatenation of its files' declarations, in order. */
export interface SourceFile {
  readonly kind: 'File';
  readonly file: string;
  readonly decls: readonly Decl[];
  readonly span: Span;
}

export { assertNever } from './types.ts';
