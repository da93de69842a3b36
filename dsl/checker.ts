// The rules language's checker: given the parsed files of a pack, resolves every name, types every
// expression against the Scheme and the operator table (dsl/ops.ts), reads `file` lists, and
// collects every diagnostic of dsl.md §5 after parsing (E_HEADER … E_TEST, W_UNUSED, W_UNREACHABLE,
// E_LIMIT). It produces a CheckedPack: the resolved declarations plus side tables (expression types,
// name targets, compiled patterns) that the compiler (dsl/compiler.ts) turns into closures.
//
// Choices where dsl.md is silent (to be copied into docs/dsl.md):
//  1. A `const` is a literal: bool, number, string, duration, a negated number/duration, or a list
//     literal of those (one type, not empty). Anything else is E_TYPE. Consts are inlined.
//  2. A string literal, a list literal of strings, or a string(-list) const used where an `ip` is
//     expected (`==`, `!=`, `??`, `in`, `not in`, `list x: ip`) is parsed as an address or CIDR at
//     compile time; a bad one is E_LITERAL at the literal (also when it sits in a const).
//  3. `ip == "10.0.0.0/8"` (a CIDR on either side) is containment; `!=` is its negation. A CIDR where
//     a single address is needed (`ip ?? "10.0.0.0/8"`) is E_LITERAL. ips compare as canonical
//     addresses (`::ffff:…`, zero-padding and case do not matter).
//  4. A list literal's entries must be constants (literals or scalar consts). `[]` is allowed on the
//     right of `in` (always false); an empty list const is E_TYPE (its type cannot be inferred).
//  5. `score` outside a policy condition is E_UNKNOWN_NAME.
//  6. Type errors in an operation point at the operand whose type no signature accepts; when each
//     operand is acceptable on its own but the pair is not (`1 == "a"`), at the operator.
//  7. Duplicates inside a test (`event`, `given`, the decision `expect`, the same feature twice in
//     one `given`), a repeated event type in `on`, and the same test name twice are E_DUPLICATE.
//  8. A test without `event` runs as `login` (the scheme's first event type if it has no `login`),
//     unless its `given` sets `event.type`, which then names the event type; a `given event.type`
//     contradicting `event` is E_TEST. Every problem with a `given` value (wrong type, a bad or CIDR
//     address for an ip feature, a non-literal) is E_TEST. A `given` value may name a scalar const.
//  9. `expect matched NAME` holds when NAME fired, enforcing or shadow (analysts test shadow rules
//     before promoting them); `expect not matched NAME` when it fired in neither.
// 10. W_UNUSED: a const or list no rule (when/reason) or policy reads; a use in a test does not count.
// 11. W_UNREACHABLE: a policy line whose condition can never hold, or that can only hold for scores
//     earlier lines always catch. Conditions are analysed over the integer scores 0..100 through
//     `and`/`or`/`not`/parens, comparisons of `score` with a number literal or number const, and
//     `true`/`false`; anything else is "may hold for any score, guaranteed for none".
// 12. A bad entry in a `file` list is E_LIST_SOURCE at the path literal, naming `file:line`; at most
//     five bad entries are reported per file, then one summary. File list entries are parsed by the
//     list's type: numbers as JSON numbers, bools `true`/`false`, durations `30s`/`10m`/`2h`/`7d`,
//     ips an address or CIDR. A `redis` list's entries are looked up as strings: ips canonical,
//     numbers and durations (seconds) as `String(n)`, bools `true`/`false`.
// 13. E_LIMIT for too many rules points at the first rule over the limit; for a list, at its source.
// 14. A missing header is reported at 1:1 of the first file; a header that is not the pack's first
//     declaration, and every header after the first, is E_HEADER at that header. A header version
//     must be a non-negative integer (E_LITERAL).
import type * as A from './ast.ts';
import { assertNever } from './ast.ts';
import { diag, didYouMean, type Diagnostic } from './diagnostics.ts';
import type { Limits, PackSource } from './index.ts';
import { parseIpOrCidr } from './iplist.ts';
import { BINARY_OPS, FUNCTIONS, UNARY_OPS, resolveSignature, type OpEntry } from './ops.ts';
import { parseListFile } from './pack.ts';
import { compileSafeRegex } from './regex.ts';
import {
  SCALARS,
  elementOf,
  isList,
  listOf,
  type Scalar,
  type Scheme,
  type Type,
  type Value,
} from './types.ts';

export const DEFAULT_LIMITS: Limits = {
  maxRules: 5000,
  maxDepth: 64,
  maxStringLength: 10_000,
  maxListEntries: 1_000_000,
  maxFileBytes: 4 * 1024 * 1024,
};

/** Event type a test runs as when it names none (choice 8). */
export function defaultTestEventType(scheme: Scheme): string {
  return scheme.eventTypes.includes('login') ? 'login' : (scheme.eventTypes[0] ?? 'login');
}

// ---------------------------------------------------------------------------------------------
// The checked pack
// ---------------------------------------------------------------------------------------------

export interface ConstInfo {
  readonly decl: A.ConstDecl;
  /** null when the const is malformed (already reported). */
  readonly type: Type | null;
  /** A scalar, or the entries of a list const. */
  readonly value: Value | readonly Value[] | undefined;
  /** The literal nodes holding the value (one for a scalar), for coercion diagnostics. */
  readonly literals: readonly A.Expr[];
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

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

function unparen(e: A.Expr): A.Expr {
  while (e.kind === 'Paren') e = e.expr;
  return e;
}

/** A literal's value and type, or null when `e` is not a (possibly negated) literal. */
function literalOf(e: A.Expr): { value: Value; type: Scalar } | null {
  const u = unparen(e);
  switch (u.kind) {
    case 'Bool':
      return { value: u.value, type: 'bool' };
    case 'Number':
      return { value: u.value, type: 'number' };
    case 'String':
      return { value: u.value, type: 'string' };
    case 'Duration':
      return { value: u.value, type: 'duration' };
    case 'Unary': {
      if (u.op !== '-') return null;
      const inner = literalOf(u.operand);
      if (!inner || (inner.type !== 'number' && inner.type !== 'duration')) return null;
      return { value: -(inner.value as number), type: inner.type };
    }
    default:
      return null;
  }
}

const DURATION_RE = /^(\d+)([smhd])$/;
const DURATION_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
const NUMBER_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parse one `file` list entry by the list's element type (choice 12). */
function parseEntry(text: string, t: Scalar): { ok: true; value: Value } | { ok: false; reason: string } {
  switch (t) {
    case 'string':
      return { ok: true, value: text };
    case 'number': {
      const n = Number(text);
      return NUMBER_RE.test(text) && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, reason: 'not a number' };
    }
    case 'bool':
      return text === 'true' || text === 'false'
        ? { ok: true, value: text === 'true' }
        : { ok: false, reason: 'not `true` or `false`' };
    case 'duration': {
      const m = DURATION_RE.exec(text);
      return m ? { ok: true, value: Number(m[1]) * DURATION_SECONDS[m[2]!]! } : { ok: false, reason: 'not a duration like `30s`, `10m`, `2h`, `7d`' };
    }
    case 'ip': {
      const p = parseIpOrCidr(text);
      return p.ok ? { ok: true, value: p.canonical } : { ok: false, reason: 'not an IP address or CIDR range' };
    }
  }
}

const ALL_SCORES = (): boolean[] => new Array<boolean>(101).fill(true);
const NO_SCORES = (): boolean[] => new Array<boolean>(101).fill(false);

interface Cover {
  /** Scores for which the condition certainly holds. */
  readonly must: boolean[];
  /** Scores for which it may hold. */
  readonly may: boolean[];
}

interface Ctx {
  /** Inside a policy condition, where `score` is the total score. */
  readonly policy: boolean;
}

// ---------------------------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------------------------

class Checker {
  readonly diags: Diagnostic[] = [];
  readonly types = new Map<A.Expr, Type>();
  readonly names = new Map<A.NameRef, NameTarget>();
  readonly regexes = new Map<A.Expr, (s: string) => boolean>();
  readonly consts = new Map<string, ConstInfo>();
  readonly lists = new Map<string, ListInfo>();
  readonly ruleNames = new Set<string>();
  /** Diagnostics already reported at a span (coercion of a const may be reached from many uses). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly src: PackSource,
    private readonly scheme: Scheme,
    private readonly limits: Limits,
  ) {}

  private report(d: Diagnostic): void {
    const key = `${d.code}|${d.span.file}|${d.span.offset}|${d.message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.diags.push(d);
  }

  private set(e: A.Expr, t: Type | null): Type | null {
    if (t !== null) this.types.set(e, t);
    return t;
  }

  // -------------------------------------------------------------------------------------------
  // Pack level
  // -------------------------------------------------------------------------------------------

  check(files: readonly A.SourceFile[]): CheckedPack {
    const decls = files.flatMap((f) => f.decls);
    const { name, version } = this.header(files, decls);

    // One namespace for rules, lists and consts.
    const declared = new Map<string, { id: A.Ident; what: string }>();
    const claim = (id: A.Ident, what: string): boolean => {
      const prev = declared.get(id.name);
      if (prev) {
        const at = `${prev.id.span.file}:${prev.id.span.line}:${prev.id.span.col}`;
        this.report(
          diag('E_DUPLICATE', id.span, `${what} \`${id.name}\`: the name is already declared as a ${prev.what} at ${at} (rules, lists and consts share one namespace)`),
        );
        return false;
      }
      declared.set(id.name, { id, what });
      return true;
    };

    // Pass 1: names, so that declarations may come in any order.
    for (const d of decls) {
      switch (d.kind) {
        case 'Const':
          if (claim(d.name, 'const')) this.consts.set(d.name.name, this.constDecl(d));
          break;
        case 'List':
          if (claim(d.name, 'list')) this.lists.set(d.name.name, this.listDecl(d));
          break;
        case 'Rule':
          // Tests may name a rule even when its name clashes (the clash is reported once, here).
          claim(d.name, 'rule');
          this.ruleNames.add(d.name.name);
          break;
        case 'Header':
        case 'Policy':
        case 'Test':
          break;
        default:
          assertNever(d, 'declaration');
      }
    }

    // Pass 2: bodies.
    const rules: CheckedRule[] = [];
    let defaultPolicy: CheckedPolicy | null = null;
    const policies = new Map<string, CheckedPolicy>();
    const testDecls: A.TestDecl[] = [];
    for (const d of decls) {
      switch (d.kind) {
        case 'Rule': {
          const r = this.rule(d);
          rules.push(r);
          if (rules.length === this.limits.maxRules + 1) {
            this.report(diag('E_LIMIT', d.name.span, `too many rules: a pack may have at most ${this.limits.maxRules}`));
          }
          break;
        }
        case 'Policy': {
          const p = this.policy(d);
          if (p.eventType === null) {
            if (defaultPolicy) this.report(diag('E_DUPLICATE', d.span, 'the default policy is already declared'));
            else defaultPolicy = p;
          } else if (d.eventType && this.scheme.eventTypes.includes(p.eventType)) {
            if (policies.has(p.eventType)) {
              this.report(diag('E_DUPLICATE', d.eventType.span, `a policy for \`${p.eventType}\` is already declared`));
            } else policies.set(p.eventType, p);
          }
          break;
        }
        case 'Test':
          testDecls.push(d);
          break;
        case 'Header':
        case 'Const':
        case 'List':
          break;
        default:
          assertNever(d, 'declaration');
      }
    }

    const ruleNameList = rules.map((r) => r.name);
    const tests: CheckedTest[] = [];
    const testNames = new Set<string>();
    for (const t of testDecls) {
      if (testNames.has(t.name.value)) this.report(diag('E_DUPLICATE', t.name.span, `test "${t.name.value}" is already declared`));
      testNames.add(t.name.value);
      tests.push(this.test(t, ruleNameList));
    }

    for (const c of this.consts.values()) {
      if (!c.used) this.report(diag('W_UNUSED', c.decl.name.span, `const \`${c.decl.name.name}\` is never used`));
    }
    for (const l of this.lists.values()) {
      if (!l.used) this.report(diag('W_UNUSED', l.decl.name.span, `list \`${l.decl.name.name}\` is never used`));
    }

    return {
      name,
      version,
      rules,
      defaultPolicy,
      policies,
      tests,
      consts: this.consts,
      lists: this.lists,
      types: this.types,
      names: this.names,
      regexes: this.regexes,
    };
  }

  private header(files: readonly A.SourceFile[], decls: readonly A.Decl[]): { name: string; version: number } {
    const headers = decls.filter((d): d is A.Header => d.kind === 'Header');
    const first = headers[0];
    if (!first) {
      const file = files[0]?.file ?? '<pack>';
      this.report(
        diag('E_HEADER', { file, offset: 0, end: 0, line: 1, col: 1 }, 'the pack has no header', 'start the pack with `pack NAME version N`'),
      );
      return { name: '', version: 0 };
    }
    if (decls[0] !== first) {
      this.report(diag('E_HEADER', first.span, 'the `pack` header must be the first declaration of the pack'));
    }
    for (const h of headers.slice(1)) {
      this.report(
        diag('E_HEADER', h.span, `duplicate \`pack\` header (the first is at ${first.span.file}:${first.span.line}:${first.span.col})`),
      );
    }
    const v = first.version.value;
    if (!Number.isInteger(v) || v < 0) {
      this.report(diag('E_LITERAL', first.version.span, 'the pack version must be a non-negative integer'));
    }
    return { name: first.name.name, version: v };
  }

  // -------------------------------------------------------------------------------------------
  // Consts and lists
  // -------------------------------------------------------------------------------------------

  private constDecl(d: A.ConstDecl): ConstInfo {
    const u = unparen(d.value);
    if (u.kind === 'ListLit') {
      if (u.items.length === 0) {
        this.report(diag('E_TYPE', u.span, 'an empty list const has no element type; declare a typed `list` instead'));
        return { decl: d, type: null, value: undefined, literals: [], used: false };
      }
      const values: Value[] = [];
      let elem: Scalar | null = null;
      let ok = true;
      for (const item of u.items) {
        const lit = literalOf(item);
        if (!lit) {
          this.report(diag('E_TYPE', item.span, 'list const entries must be literals'));
          ok = false;
          continue;
        }
        if (elem === null) elem = lit.type;
        else if (lit.type !== elem) {
          this.report(diag('E_TYPE', item.span, `list entries must be of one type: expected ${elem}, found ${lit.type}`));
          ok = false;
          continue;
        }
        values.push(lit.value);
      }
      return { decl: d, type: ok && elem ? listOf(elem) : null, value: values, literals: u.items, used: false };
    }
    const lit = literalOf(u);
    if (!lit) {
      this.report(diag('E_TYPE', d.value.span, 'a const must be a literal (bool, number, string, duration or a list of them)'));
      return { decl: d, type: null, value: undefined, literals: [], used: false };
    }
    return { decl: d, type: lit.type, value: lit.value, literals: [u], used: false };
  }

  private listDecl(d: A.ListDecl): ListInfo {
    const tn = d.elemType.name;
    const elemType = (SCALARS as readonly string[]).includes(tn) ? (tn as Scalar) : null;
    if (elemType === null) {
      const hint = didYouMean(tn, SCALARS);
      this.report(diag('E_TYPE', d.elemType.span, `unknown list type \`${tn}\` (one of ${SCALARS.join(', ')})`, hint && `did you mean \`${hint}\`?`));
    }
    const src = d.source;
    switch (src.kind) {
      case 'RedisList':
        return { decl: d, elemType, source: 'redis', values: [], key: src.key.value, used: false };
      case 'InlineList': {
        const values: Value[] = [];
        if (src.items.items.length > this.limits.maxListEntries) {
          this.report(diag('E_LIMIT', src.span, `too many entries: a list may have at most ${this.limits.maxListEntries}`));
        }
        for (const item of src.items.items) {
          const lit = literalOf(item);
          if (!lit) {
            this.report(diag('E_TYPE', item.span, 'list entries must be literals'));
            continue;
          }
          if (elemType === null) continue;
          if (elemType === 'ip' && lit.type === 'string') {
            const p = parseIpOrCidr(lit.value as string);
            if (!p.ok) this.report(diag('E_LITERAL', item.span, `\`${lit.value as string}\` is not an IP address or CIDR range`));
            else values.push(p.canonical);
            continue;
          }
          if (lit.type !== elemType) {
            this.report(diag('E_TYPE', item.span, `list \`${d.name.name}\` holds ${elemType}, found ${lit.type}`));
            continue;
          }
          values.push(lit.value);
        }
        return { decl: d, elemType, source: 'inline', values, key: null, used: false };
      }
      case 'FileList': {
        const values: Value[] = [];
        const rel = src.path.value;
        const read = this.src.readFile(rel);
        if (!read.ok) {
          this.report(diag('E_LIST_SOURCE', src.path.span, `cannot read list file \`${rel}\`: ${read.reason}`));
          return { decl: d, elemType, source: 'file', values, key: null, used: false };
        }
        const { entries } = parseListFile(read.text);
        if (entries.length > this.limits.maxListEntries) {
          this.report(diag('E_LIMIT', src.path.span, `\`${rel}\` has ${entries.length} entries, more than ${this.limits.maxListEntries}`));
          return { decl: d, elemType, source: 'file', values, key: null, used: false };
        }
        if (elemType === null) return { decl: d, elemType, source: 'file', values, key: null, used: false };
        let bad = 0;
        for (const e of entries) {
          const p = parseEntry(e.value, elemType);
          if (p.ok) {
            values.push(p.value);
            continue;
          }
          bad++;
          if (bad <= 5) {
            this.report(diag('E_LIST_SOURCE', src.path.span, `${rel}:${e.line}: \`${e.value}\` is ${p.reason} (list type ${elemType})`));
          }
        }
        if (bad > 5) this.report(diag('E_LIST_SOURCE', src.path.span, `${rel}: ${bad - 5} more bad entries`));
        return { decl: d, elemType, source: 'file', values, key: null, used: false };
      }
      default:
        return assertNever(src, 'list source');
    }
  }

  // -------------------------------------------------------------------------------------------
  // Rules, policies, tests
  // -------------------------------------------------------------------------------------------

  private rule(d: A.RuleDecl): CheckedRule {
    const seen = new Map<A.RuleClause['kind'], A.RuleClause>();
    let on: string[] | null = null;
    let when: A.Expr | null = null;
    let action: A.Action | null = null;
    let score: number | null = null;
    let reason: A.Template | null = null;
    let description: string | null = null;
    let tags: string[] = [];
    let mode: 'enforce' | 'shadow' = 'enforce';
    const ctx: Ctx = { policy: false };
    for (const c of d.clauses) {
      if (seen.has(c.kind)) {
        this.report(diag('E_DUPLICATE', c.span, `rule \`${d.name.name}\` already has a \`${c.kind.toLowerCase()}\` clause`));
        continue;
      }
      seen.set(c.kind, c);
      switch (c.kind) {
        case 'Description':
          description = c.text.value;
          break;
        case 'On': {
          const types = new Set<string>();
          for (const t of c.types) {
            if (types.has(t.name)) this.report(diag('E_DUPLICATE', t.span, `event type \`${t.name}\` is listed twice`));
            else if (this.eventType(t)) types.add(t.name);
          }
          on = [...types];
          break;
        }
        case 'When':
          when = c.cond;
          this.condition(c.cond, ctx, 'a `when` condition');
          break;
        case 'Then':
          action = c.action;
          break;
        case 'Score': {
          const v = c.value.value;
          if (!Number.isInteger(v) || v < -100 || v > 100) {
            this.report(diag('E_LITERAL', c.value.span, `a score must be an integer from -100 to 100, not ${c.value.raw}`));
          } else score = v;
          break;
        }
        case 'Reason':
          reason = c.template;
          for (const part of c.template.parts) {
            if (typeof part === 'string') continue;
            const t = this.expr(part, ctx);
            if (t !== null && isList(t)) this.report(diag('E_TYPE', part.span, 'a list cannot be interpolated into a reason'));
          }
          break;
        case 'Tags':
          tags = [...new Set(c.tags.map((t) => t.name))];
          break;
        case 'Mode':
          mode = c.mode;
          break;
        default:
          assertNever(c, 'rule clause');
      }
    }
    if (!seen.has('When')) this.report(diag('E_RULE', d.name.span, `rule \`${d.name.name}\` has no \`when\` condition`));
    if (!seen.has('Then') && !seen.has('Score')) {
      this.report(diag('E_RULE', d.name.span, `rule \`${d.name.name}\` needs \`then\` or \`score\``));
    }
    return { decl: d, name: d.name.name, on, when, action, score: score ?? 0, reason, description, tags, mode };
  }

  /** Is `id` a known event type? Reports E_UNKNOWN_NAME if not. */
  private eventType(id: A.Ident): boolean {
    if (this.scheme.eventTypes.includes(id.name)) return true;
    const hint = didYouMean(id.name, this.scheme.eventTypes);
    this.report(
      diag('E_UNKNOWN_NAME', id.span, `unknown event type \`${id.name}\` (one of ${this.scheme.eventTypes.join(', ')})`, hint && `did you mean \`${hint}\`?`),
    );
    return false;
  }

  private condition(e: A.Expr, ctx: Ctx, what: string): void {
    const t = this.expr(e, ctx);
    if (t !== null && t !== 'bool') this.report(diag('E_TYPE', e.span, `${what} must be bool, found ${t}`));
  }

  private policy(d: A.PolicyDecl): CheckedPolicy {
    if (d.eventType) this.eventType(d.eventType);
    const ctx: Ctx = { policy: true };
    for (const line of d.lines) this.condition(line.cond, ctx, 'a policy condition');
    // Reachability over the integer scores 0..100 (choice 11).
    const covered = NO_SCORES();
    for (const line of d.lines) {
      const c = this.cover(line.cond);
      if (c.may.every((m) => !m)) {
        this.report(diag('W_UNREACHABLE', line.span, 'this policy line can never apply: its condition holds for no score from 0 to 100'));
      } else if (c.may.every((m, i) => !m || covered[i])) {
        this.report(diag('W_UNREACHABLE', line.span, 'this policy line can never apply: earlier lines catch every score it could match'));
      }
      c.must.forEach((m, i) => {
        if (m) covered[i] = true;
      });
    }
    return { decl: d, eventType: d.eventType?.name ?? null, lines: d.lines };
  }

  private numberConst(e: A.Expr): number | undefined {
    const u = unparen(e);
    const lit = literalOf(u);
    if (lit) return lit.type === 'number' ? (lit.value as number) : undefined;
    if (u.kind === 'Name') {
      const t = this.names.get(u);
      if (t?.kind === 'const' && t.info.type === 'number') return t.info.value as number;
    }
    return undefined;
  }

  private isScore(e: A.Expr): boolean {
    const u = unparen(e);
    return u.kind === 'Name' && this.names.get(u)?.kind === 'score';
  }

  private cover(e: A.Expr): Cover {
    const unknown: Cover = { must: NO_SCORES(), may: ALL_SCORES() };
    const u = unparen(e);
    if (u.kind === 'Bool') return u.value ? { must: ALL_SCORES(), may: ALL_SCORES() } : { must: NO_SCORES(), may: NO_SCORES() };
    if (u.kind === 'Unary' && u.op === 'not') {
      const c = this.cover(u.operand);
      return { must: c.may.map((x) => !x), may: c.must.map((x) => !x) };
    }
    if (u.kind !== 'Binary') return unknown;
    if (u.op === 'and' || u.op === 'or') {
      const l = this.cover(u.left);
      const r = this.cover(u.right);
      const f = u.op === 'and' ? (a: boolean, b: boolean) => a && b : (a: boolean, b: boolean) => a || b;
      return { must: l.must.map((x, i) => f(x, r.must[i]!)), may: l.may.map((x, i) => f(x, r.may[i]!)) };
    }
    let op: A.BinaryOp = u.op;
    let n: number | undefined;
    if (this.isScore(u.left)) n = this.numberConst(u.right);
    else if (this.isScore(u.right)) {
      n = this.numberConst(u.left);
      const flip: Partial<Record<A.BinaryOp, A.BinaryOp>> = { '<': '>', '<=': '>=', '>': '<', '>=': '<=' };
      op = flip[op] ?? op;
    }
    if (n === undefined) return unknown;
    const k = n;
    const test: ((s: number) => boolean) | undefined = {
      '==': (s: number) => s === k,
      '!=': (s: number) => s !== k,
      '<': (s: number) => s < k,
      '<=': (s: number) => s <= k,
      '>': (s: number) => s > k,
      '>=': (s: number) => s >= k,
    }[op as string];
    if (!test) return unknown;
    const set = ALL_SCORES().map((_, i) => test(i));
    return { must: set, may: [...set] };
  }

  private test(d: A.TestDecl, ruleNames: readonly string[]): CheckedTest {
    let event: A.TestEvent | null = null;
    let given: A.TestGiven | null = null;
    let decision: A.ExpectDecision | null = null;
    const values = new Map<string, Value>();
    const expects: TestExpect[] = [];
    let givenType: { value: string; span: A.Span } | null = null;
    for (const item of d.items) {
      switch (item.kind) {
        case 'TestEvent':
          if (event) this.report(diag('E_DUPLICATE', item.span, 'the test already names its event'));
          else {
            event = item;
            if (!this.scheme.eventTypes.includes(item.type.name)) {
              const hint = didYouMean(item.type.name, this.scheme.eventTypes);
              this.report(diag('E_TEST', item.type.span, `unknown event type \`${item.type.name}\``, hint && `did you mean \`${hint}\`?`));
            }
          }
          break;
        case 'Given':
          if (given) {
            this.report(diag('E_DUPLICATE', item.span, 'the test already has a `given` block'));
            break;
          }
          given = item;
          for (const entry of item.entries) {
            const name = entry.feature.path;
            if (values.has(name) || (name === 'event.type' && givenType)) {
              this.report(diag('E_DUPLICATE', entry.span, `\`${name}\` is given twice`));
              continue;
            }
            const v = this.givenValue(entry);
            if (v === undefined) continue;
            if (name === 'event.type') {
              if (!this.scheme.eventTypes.includes(v as string)) {
                this.report(diag('E_TEST', entry.value.span, `unknown event type \`${String(v)}\``));
                continue;
              }
              givenType = { value: v as string, span: entry.value.span };
            }
            values.set(name, v);
          }
          break;
        case 'ExpectDecision':
          if (decision) this.report(diag('E_DUPLICATE', item.span, 'the test already expects a decision'));
          else {
            decision = item;
            expects.push({ kind: 'decision', action: item.action, span: item.span });
          }
          break;
        case 'ExpectMatched':
          if (!this.ruleNames.has(item.rule.name)) {
            const hint = didYouMean(item.rule.name, ruleNames);
            this.report(diag('E_TEST', item.rule.span, `unknown rule \`${item.rule.name}\``, hint && `did you mean \`${hint}\`?`));
          } else expects.push({ kind: 'matched', rule: item.rule.name, negated: item.negated, span: item.span });
          break;
        default:
          assertNever(item, 'test item');
      }
    }
    if (event && givenType && givenType.value !== event.type.name) {
      this.report(diag('E_TEST', givenType.span, `\`event.type\` contradicts the test's \`event ${event.type.name}\``));
    }
    const eventType = event?.type.name ?? givenType?.value ?? defaultTestEventType(this.scheme);
    values.set('event.type', eventType);
    return { decl: d, name: d.name.value, eventType, given: values, expects };
  }

  /** A `given` value converted to the feature's runtime value, or undefined after an E_TEST. */
  private givenValue(entry: A.GivenEntry): Value | undefined {
    const name = entry.feature.path;
    const def = this.scheme.feature(name);
    if (!def) {
      const hint = didYouMean(name, this.scheme.featureNames());
      this.report(diag('E_TEST', entry.feature.span, `unknown feature \`${name}\``, hint && `did you mean \`${hint}\`?`));
      return undefined;
    }
    let lit = literalOf(entry.value);
    const u = unparen(entry.value);
    if (!lit && u.kind === 'Name') {
      const c = this.consts.get(u.name);
      if (c && c.type !== null && !isList(c.type)) lit = { value: c.value as Value, type: c.type as Scalar };
    }
    if (!lit) {
      this.report(diag('E_TEST', entry.value.span, `a given value must be a literal of type ${def.type}`));
      return undefined;
    }
    if (def.type === 'ip') {
      if (lit.type !== 'string') {
        this.report(diag('E_TEST', entry.value.span, `\`${name}\` is an ip: give it as a string, found ${lit.type}`));
        return undefined;
      }
      const p = parseIpOrCidr(lit.value as string);
      if (!p.ok || p.isCidr) {
        this.report(diag('E_TEST', entry.value.span, `\`${lit.value as string}\` is not an IP address`));
        return undefined;
      }
      return p.canonical;
    }
    if (lit.type !== def.type) {
      const how = def.type === 'duration' ? ' (a duration literal like `30s`, `10m`, `2h`, `7d`)' : '';
      this.report(diag('E_TEST', entry.value.span, `\`${name}\` is ${def.type}${how}, found ${lit.type}`));
      return undefined;
    }
    return lit.value;
  }

  // -------------------------------------------------------------------------------------------
  // Expressions
  // -------------------------------------------------------------------------------------------

  /** The expression's type, or null when it is ill-typed (already reported). */
  expr(e: A.Expr, ctx: Ctx): Type | null {
    switch (e.kind) {
      case 'Bool':
        return this.set(e, 'bool');
      case 'Number':
        return this.set(e, 'number');
      case 'String':
        return this.set(e, 'string');
      case 'Duration':
        return this.set(e, 'duration');
      case 'Paren':
        return this.set(e, this.expr(e.expr, ctx));
      case 'ListLit':
        return this.set(e, this.listLit(e, ctx));
      case 'Name':
        return this.set(e, this.name(e, ctx));
      case 'Feature': {
        const def = this.scheme.feature(e.path);
        if (!def) {
          const hint = didYouMean(e.path, this.scheme.featureNames());
          this.report(diag('E_UNKNOWN_NAME', e.span, `unknown feature \`${e.path}\``, hint && `did you mean \`${hint}\`?`));
          return null;
        }
        return this.set(e, def.type);
      }
      case 'Call': {
        const entry = FUNCTIONS.get(e.callee.name);
        const argTypes = e.args.map((a) => this.expr(a, ctx));
        if (!entry) {
          const hint = didYouMean(e.callee.name, FUNCTIONS.keys());
          this.report(diag('E_UNKNOWN_NAME', e.callee.span, `unknown function \`${e.callee.name}\``, hint && `did you mean \`${hint}\`?`));
          return null;
        }
        const arity = entry.sigs[0]!.params.length;
        if (e.args.length !== arity) {
          this.report(diag('E_TYPE', e.callee.span, `\`${e.callee.name}\` takes ${arity} argument${arity === 1 ? '' : 's'}, found ${e.args.length}`));
          return null;
        }
        return this.set(e, this.apply(entry, e.args, argTypes, e.callee.span));
      }
      case 'Unary': {
        const entry = UNARY_OPS.get(e.op);
        if (!entry) throw new Error(`internal: no unary operator ${e.op}`);
        return this.set(e, this.apply(entry, [e.operand], [this.expr(e.operand, ctx)], e.span));
      }
      case 'Binary':
        return this.set(e, this.binary(e, ctx));
      default:
        return assertNever(e, 'expression');
    }
  }

  private name(e: A.NameRef, ctx: Ctx): Type | null {
    const c = this.consts.get(e.name);
    if (c) {
      c.used = true;
      this.names.set(e, { kind: 'const', info: c });
      return c.type;
    }
    const l = this.lists.get(e.name);
    if (l) {
      l.used = true;
      this.names.set(e, { kind: 'list', info: l });
      return l.elemType && listOf(l.elemType);
    }
    if (e.name === 'score') {
      if (ctx.policy) {
        this.names.set(e, { kind: 'score' });
        return 'number';
      }
      this.report(diag('E_UNKNOWN_NAME', e.span, '`score` is only available in policy conditions'));
      return null;
    }
    const candidates = [...this.consts.keys(), ...this.lists.keys(), ...(ctx.policy ? ['score'] : [])];
    const hint = didYouMean(e.name, candidates);
    this.report(diag('E_UNKNOWN_NAME', e.span, `unknown name \`${e.name}\``, hint && `did you mean \`${hint}\`?`));
    return null;
  }

  private listLit(e: A.ListLit, ctx: Ctx): Type | null {
    let elem: Scalar | null = null;
    let ok = true;
    for (const item of e.items) {
      const t = this.expr(item, ctx);
      if (t === null) {
        ok = false;
        continue;
      }
      if (!this.isConstant(item)) {
        this.report(diag('E_TYPE', item.span, 'list entries must be constants (literals or consts)'));
        ok = false;
        continue;
      }
      if (isList(t)) {
        this.report(diag('E_TYPE', item.span, 'lists cannot be nested'));
        ok = false;
        continue;
      }
      if (elem === null) elem = t;
      else if (t !== elem) {
        this.report(diag('E_TYPE', item.span, `list entries must be of one type: expected ${elem}, found ${t}`));
        ok = false;
      }
    }
    if (!ok) return null;
    // `[]` gets its type from its context (the left of `in`); see binary().
    return elem && listOf(elem);
  }

  private isConstant(e: A.Expr): boolean {
    const u = unparen(e);
    if (literalOf(u)) return true;
    return u.kind === 'Name' && this.names.get(u)?.kind === 'const';
  }

  /**
   * Resolve an operator or function against its signatures, reporting E_TYPE at the operand no
   * signature accepts, else at `opSpan` (choice 6).
   */
  private apply(entry: OpEntry, args: readonly A.Expr[], argTypes: readonly (Type | null)[], opSpan: A.Span): Type | null {
    if (argTypes.some((t) => t === null)) return null;
    const types = argTypes as Type[];
    const r = resolveSignature(entry, types);
    if (r) return r.result;
    const what = entry.kind === 'function' ? `\`${entry.name}\`` : `\`${entry.name}\``;
    for (let i = 0; i < args.length; i++) {
      const accepted = entry.sigs.map((s) => s.params[i]);
      const generic = accepted.some((p) => p === 'T' || p === 'list<T>');
      const t = types[i]!;
      if (generic) {
        if (isList(t) && !accepted.includes('list<T>')) {
          this.report(diag('E_TYPE', args[i]!.span, `${what} does not take a list (a list can only be the right side of \`in\`)`));
          return null;
        }
        continue;
      }
      if (!accepted.includes(t as (typeof accepted)[number])) {
        const want = [...new Set(accepted)].join(' or ');
        const pos = entry.kind === 'function' ? `argument ${i + 1} of ${what}` : args.length === 1 ? `the operand of ${what}` : `the ${i === 0 ? 'left' : 'right'} side of ${what}`;
        this.report(diag('E_TYPE', args[i]!.span, `${pos} must be ${want}, found ${t}`));
        return null;
      }
    }
    this.report(diag('E_TYPE', opSpan, `${what} cannot combine ${types.join(' and ')}`));
    return null;
  }

  private binary(e: A.Binary, ctx: Ctx): Type | null {
    const entry = BINARY_OPS.get(e.op);
    if (!entry) throw new Error(`internal: no binary operator ${e.op}`);
    if (e.op === 'in' || e.op === 'not in') return this.membership(e, entry, ctx);
    if (e.op === 'matches') {
      const lt = this.expr(e.left, ctx);
      const right = unparen(e.right);
      if (right.kind !== 'String') {
        this.expr(e.right, ctx);
        this.report(diag('E_TYPE', e.right.span, 'the right side of `matches` must be a string literal'));
        return null;
      }
      this.set(e.right, 'string');
      this.set(right, 'string');
      const re = compileSafeRegex(right.value);
      if (!re.ok) {
        const why = re.reason.replace(/^Invalid regular expression: /, '');
        this.report(diag('E_REGEX', right.span, `${re.unsafe ? 'unsafe' : 'invalid'} regular expression: ${why}`));
      } else this.regexes.set(e.right, re.test);
      return this.apply(entry, [e.left, e.right], [lt, 'string'], e.opSpan);
    }
    let lt = this.expr(e.left, ctx);
    let rt = this.expr(e.right, ctx);
    if (e.op === '==' || e.op === '!=' || e.op === '??') {
      const allowRange = e.op !== '??';
      if (lt === 'ip' && rt === 'string' && this.coerceIp(e.right, false, allowRange)) rt = 'ip';
      else if (rt === 'ip' && lt === 'string' && this.coerceIp(e.left, false, allowRange)) lt = 'ip';
    }
    return this.apply(entry, [e.left, e.right], [lt, rt], e.opSpan);
  }

  private membership(e: A.Binary, entry: OpEntry, ctx: Ctx): Type | null {
    let lt = this.expr(e.left, ctx);
    const right = unparen(e.right);
    if (right.kind === 'Name' && (this.consts.get(right.name)?.type === null || (!this.consts.has(right.name) && !this.lists.has(right.name)))) {
      // A malformed const (already reported) or an unknown name (reported by expr).
      this.expr(e.right, ctx);
      return null;
    }
    const isListForm =
      right.kind === 'ListLit' ||
      (right.kind === 'Name' && (this.lists.has(right.name) || this.consts.get(right.name)?.type?.startsWith('list<') === true));
    if (!isListForm) {
      this.expr(e.right, ctx);
      this.report(diag('E_TYPE', e.right.span, `the right side of \`${e.op}\` must be a named list, a list literal or a list const`));
      return null;
    }
    if (right.kind === 'ListLit' && right.items.length === 0) {
      if (lt === null) return null;
      if (isList(lt)) {
        this.report(diag('E_TYPE', e.left.span, `the left side of \`${e.op}\` must be a single value, found ${lt}`));
        return null;
      }
      this.set(right, listOf(lt));
      this.set(e.right, listOf(lt));
      return 'bool';
    }
    let rt = this.expr(e.right, ctx);
    if (lt === 'ip' && rt === 'list<string>' && this.coerceIp(e.right, true, true)) rt = 'list<ip>';
    else if (lt === 'string' && rt === 'list<ip>' && this.coerceIp(e.left, false, false)) lt = 'ip';
    if (lt !== null && rt !== null && isList(rt) && !isList(lt) && elementOf(rt) !== lt) {
      this.report(diag('E_TYPE', e.opSpan, `\`${e.op}\` needs a list of ${lt}, found ${rt}`));
      return null;
    }
    return this.apply(entry, [e.left, e.right], [lt, rt], e.opSpan);
  }

  /**
   * Treat a string literal, a list literal of strings or a string(-list) const as ip(s) (choice 2).
   * Returns false when `e` is not of a coercible form (the caller then reports the type mismatch).
   */
  private coerceIp(e: A.Expr, list: boolean, allowRange: boolean): boolean {
    const u = unparen(e);
    let literals: readonly A.Expr[];
    if (!list && u.kind === 'String') literals = [u];
    else if (list && u.kind === 'ListLit') literals = u.items;
    else if (u.kind === 'Name') {
      const t = this.names.get(u);
      if (t?.kind !== 'const' || t.info.type !== (list ? 'list<string>' : 'string')) return false;
      literals = t.info.literals;
    } else return false;
    for (const lit of literals) {
      const l = unparen(lit);
      if (l.kind !== 'String') return false;
      const p = parseIpOrCidr(l.value);
      if (!p.ok) this.report(diag('E_LITERAL', l.span, `\`${l.value}\` is not an IP address${list || allowRange ? ' or CIDR range' : ''}`));
      else if (p.isCidr && !allowRange) this.report(diag('E_LITERAL', l.span, `\`${l.value}\` is a range; an address is needed here`));
      if (u.kind === 'ListLit') this.set(lit, 'ip');
    }
    const t: Type = list ? 'list<ip>' : 'ip';
    let x: A.Expr = e;
    this.types.set(x, t);
    while (x.kind === 'Paren') {
      x = x.expr;
      this.types.set(x, t);
    }
    return true;
  }
}

/** Check a parsed pack (every file parsed without E_SYNTAX), collecting every diagnostic. */
export function checkPack(files: readonly A.SourceFile[], src: PackSource, scheme: Scheme, limits: Limits): CheckResult {
  const c = new Checker(src, scheme, limits);
  const checked = c.check(files);
  return { checked, diagnostics: c.diags };
}
