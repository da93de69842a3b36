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
export type RuleClause =
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
