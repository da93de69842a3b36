// The rules language's printer: an AST (dsl/ast.ts) back to canonical source that parses to the same
// AST, spans aside (tests/property tests hold it to that). Layout is fixed: two-space indentation, one
// clause or policy line a line, single spaces around binary operators, blank lines between blocks.
// Literals print as written (`raw`), so `1e3`, `0.50` and `"\u{41}"` survive a round trip; a
// template's interpolations are printed as expressions. Parentheses come from Paren nodes; the
// printer adds them only where an AST built by hand would otherwise print as a different tree.
import { BINARY_PRECEDENCE, COMPARISON_PRECEDENCE, assertNever, chainOf } from './ast.ts';
import type * as A from './ast.ts';

export function printFile(file: A.SourceFile): string {
  let out = '';
  let prev: A.Decl | null = null;
  for (const d of file.decls) {
    if (prev !== null) out += sameGroup(prev, d) ? '\n' : '\n\n';
    out += printDecl(d);
    prev = d;
  }
  return out === '' ? '' : `${out}\n`;
}

/** Consecutive consts (or lists) stay together; everything else is separated by a blank line. */
function sameGroup(a: A.Decl, b: A.Decl): boolean {
  return a.kind === b.kind && (a.kind === 'Const' || a.kind === 'List');
}

export function printDecl(d: A.Decl): string {
  switch (d.kind) {
    case 'Header':
      return `pack ${d.name.name} version ${d.version.raw}`;
    case 'Const':
      return `const ${d.name.name} = ${printExpr(d.value)}`;
    case 'List':
      return `list ${d.name.name}: ${d.elemType.name} = ${printListSource(d.source)}`;
    case 'Rule':
      return block(`rule ${d.name.name}`, d.clauses.map(printClause));
    case 'Policy':
      return block(
        d.eventType === null ? 'policy' : `policy ${d.eventType.name}`,
        d.lines.map((l) => `${l.action} when ${printExpr(l.cond)}`),
      );
    case 'Test':
      return block(`test ${d.name.raw}`, d.items.map(printTestItem));
    default:
      return assertNever(d, 'declaration');
  }
}

function block(head: string, lines: readonly string[]): string {
  if (lines.length === 0) return `${head} {}`;
  return `${head} {\n${lines.map((l) => indent(l)).join('\n')}\n}`;
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `  ${l}`)
    .join('\n');
}

function printListSource(s: A.ListSource): string {
  switch (s.kind) {
    case 'InlineList':
      return printExpr(s.items);
    case 'FileList':
      return `file ${s.path.raw}`;
    case 'RedisList':
      return `redis ${s.key.raw}`;
    default:
      return assertNever(s, 'list source');
  }
}

function printClause(c: A.RuleClause): string {
  switch (c.kind) {
    case 'Description':
      return `description ${c.text.raw}`;
    case 'On':
      return `on ${c.types.map((t) => t.name).join(', ')}`;
    case 'When':
      return `when ${printExpr(c.cond)}`;
    case 'Then':
      return `then ${c.action}`;
    case 'Score':
      return `score ${c.value.raw}`;
    case 'Reason':
      return `reason ${printTemplate(c.template)}`;
    case 'Tags':
      return `tags ${c.tags.map((t) => t.name).join(', ')}`;
    case 'Mode':
      return `mode ${c.mode}`;
    case 'Notice':
      return `notice ${c.code.name}`;
    default:
      return assertNever(c, 'rule clause');
  }
}

const GIVEN_ONE_LINE = 80;

function printTestItem(t: A.TestItem): string {
  switch (t.kind) {
    case 'TestEvent':
      return `event ${t.type.name}`;
    case 'Given': {
      if (t.entries.length === 0) return 'given {}';
      const entries = t.entries.map((e) => `${e.feature.path}: ${printExpr(e.value)}`);
      const line = `given { ${entries.join(', ')} }`;
      return line.length <= GIVEN_ONE_LINE ? line : `given {\n${entries.map((e) => `  ${e},`).join('\n')}\n}`;
    }
    case 'ExpectDecision':
      return `expect ${t.action}`;
    case 'ExpectMatched':
      return `expect ${t.negated ? 'not ' : ''}matched ${t.rule.name}`;
    default:
      return assertNever(t, 'test item');
  }
}

/** A template: text escaped (braces doubled), interpolations printed and escaped for the string. */
export function printTemplate(t: A.Template): string {
  let out = '"';
  for (const p of t.parts) {
    out += typeof p === 'string' ? escapeText(p, true) : `{${printExpr(p).replace(/[\\"]/g, (c) => `\\${c}`)}}`;
  }
  return `${out}"`;
}

/** A string literal's source for `value` (what a generated StringLit's `raw` should be). */
export function quoteString(value: string): string {
  return `"${escapeText(value, false)}"`;
}

function escapeText(s: string, braces: boolean): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x7f) out += `\\u{${c.toString(16).toUpperCase()}}`;
    else if (braces && (ch === '{' || ch === '}')) out += ch + ch;
    else out += ch;
  }
  return out;
}

function precedence(e: A.Expr): number {
  switch (e.kind) {
    case 'Binary':
      return BINARY_PRECEDENCE[e.op];
    case 'Unary':
      return e.op === 'not' ? 4 : 8;
    case 'Number':
    case 'Duration':
      // A negative literal (built by hand) prints with a minus, which binds like unary minus.
      return e.raw.startsWith('-') ? 8 : 9;
    case 'Bool':
    case 'String':
    case 'ListLit':
    case 'Name':
    case 'Feature':
    case 'Call':
    case 'Paren':
      return 9;
    default:
      return assertNever(e, 'expression');
  }
}

/** An expression; wrapped in parentheses when it binds looser than its position requires (`min`). */
export function printExpr(e: A.Expr, min = 1): string {
  const p = precedence(e);
  const s = printBare(e, p);
  return p < min ? `(${s})` : s;
}

function printBare(e: A.Expr, p: number): string {
  switch (e.kind) {
    case 'Bool':
      return e.value ? 'true' : 'false';
    case 'Number':
    case 'Duration':
    case 'String':
      return e.raw;
    case 'Name':
      return e.name;
    case 'Feature':
      return e.path;
    case 'ListLit':
      return `[${e.items.map((i) => printExpr(i)).join(', ')}]`;
    case 'Call':
      return `${e.callee.name}(${e.args.map((a) => printExpr(a)).join(', ')})`;
    case 'Paren':
      return `(${printExpr(e.expr)})`;
    case 'Unary': {
      const operand = printExpr(e.operand, p);
      if (e.op === 'not') return `not ${operand}`;
      return operand.startsWith('-') ? `- ${operand}` : `-${operand}`;
    }
    case 'Binary': {
      // Left-associative: the left operand may be at the same level, the right must bind tighter.
      // Comparisons do not chain: both operands bind tighter. A chain is printed in a loop.
      if (p === COMPARISON_PRECEDENCE) return `${printExpr(e.left, p + 1)} ${e.op} ${printExpr(e.right, p + 1)}`;
      const links = chainOf(e);
      let out = printExpr(links[0]!.left, p);
      for (const link of links) out += ` ${link.op} ${printExpr(link.right, p + 1)}`;
      return out;
    }
    default:
      return assertNever(e, 'expression');
  }
}
