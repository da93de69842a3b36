// List declarations: an inline list's entries (literals of the list's type, E_TYPE / E_LITERAL), a
// `file` list read through the PackSource and parsed entry by entry (E_LIST_SOURCE), a `redis` list's
// key, the list-type name, and the entry limit (E_LIMIT).
//
// Choices where dsl.md is silent (docs/dsl.md §4, §13):
//  - A bad entry in a `file` list is E_LIST_SOURCE at the path literal, naming `file:line`; at most
//    five bad entries are reported per file, then one summary. Entries are parsed by the list's type:
//    numbers as JSON numbers, bools `true`/`false`, durations `30s`/`10m`/`2h`/`7d`, ips an address
//    or a CIDR range without host bits set (as for a literal, dsl.md §3 v1.1). A `redis` list's
//    entries are looked up as strings: ips canonical, numbers and durations (seconds) as
//    `String(n)`, bools `true`/`false`.
//  - E_LIMIT for a list with too many entries points at its source (the path literal for a file).
import type * as A from '../ast.ts';
import { diag } from '../diagnostics.ts';
import { parseIpOrCidr } from '../iplist.ts';
import { parseListFile } from '../pack.ts';
import { SCALARS, assertNever, type Scalar, type Value } from '../types.ts';
import type { ListInfo } from './checked.ts';
import { literalOf, suggest, type CheckContext } from './context.ts';

/** Bad entries of one file list reported one by one; the rest are summed up in one line. */
const BAD_ENTRIES_SHOWN = 5;

export function listDecl(cx: CheckContext, d: A.ListDecl): ListInfo {
  const tn = d.elemType.name;
  const elemType = (SCALARS as readonly string[]).includes(tn) ? (tn as Scalar) : null;
  if (elemType === null) {
    cx.report(diag('E_TYPE', d.elemType.span, `unknown list type \`${tn}\` (one of ${SCALARS.join(', ')})`, suggest(tn, SCALARS)));
  }
  const src = d.source;
  switch (src.kind) {
    case 'RedisList':
      return { decl: d, elemType, source: 'redis', values: [], key: src.key.value, used: false };
    case 'InlineList':
      return { decl: d, elemType, source: 'inline', values: inlineEntries(cx, d, src, elemType), key: null, used: false };
    case 'FileList':
      return { decl: d, elemType, source: 'file', values: fileEntries(cx, src, elemType), key: null, used: false };
    default:
      return assertNever(src, 'list source');
  }
}

function inlineEntries(cx: CheckContext, d: A.ListDecl, src: A.InlineListSource, elemType: Scalar | null): Value[] {
  const values: Value[] = [];
  if (src.items.items.length > cx.limits.maxListEntries) {
    cx.report(diag('E_LIMIT', src.span, `too many entries: a list may have at most ${cx.limits.maxListEntries}`));
  }
  for (const item of src.items.items) {
    const lit = literalOf(item);
    if (!lit) {
      cx.report(diag('E_TYPE', item.span, 'list entries must be literals'));
      continue;
    }
    if (elemType === null) continue;
    if (elemType === 'ip' && lit.type === 'string') {
      const ip = ipEntry(lit.value as string);
      if (ip.ok) values.push(ip.value);
      else cx.report(diag('E_LITERAL', item.span, `\`${lit.value as string}\` ${ip.reason}`));
      continue;
    }
    if (lit.type !== elemType) {
      cx.report(diag('E_TYPE', item.span, `list \`${d.name.name}\` holds ${elemType}, found ${lit.type}`));
      continue;
    }
    values.push(lit.value);
  }
  return values;
}

function fileEntries(cx: CheckContext, src: A.FileListSource, elemType: Scalar | null): Value[] {
  const values: Value[] = [];
  const rel = src.path.value;
  const read = cx.src.readFile(rel);
  if (!read.ok) {
    cx.report(diag('E_LIST_SOURCE', src.path.span, `cannot read list file \`${rel}\`: ${read.reason}`));
    return values;
  }
  const { entries } = parseListFile(read.text);
  if (entries.length > cx.limits.maxListEntries) {
    cx.report(diag('E_LIMIT', src.path.span, `\`${rel}\` has ${entries.length} entries, more than ${cx.limits.maxListEntries}`));
    return values;
  }
  if (elemType === null) return values;
  let bad = 0;
  for (const e of entries) {
    const p = parseEntry(e.value, elemType);
    if (p.ok) {
      values.push(p.value);
      continue;
    }
    bad++;
    if (bad <= BAD_ENTRIES_SHOWN) {
      cx.report(diag('E_LIST_SOURCE', src.path.span, `${rel}:${e.line}: \`${e.value}\` ${p.reason} (list type ${elemType})`));
    }
  }
  if (bad > BAD_ENTRIES_SHOWN) cx.report(diag('E_LIST_SOURCE', src.path.span, `${rel}: ${bad - BAD_ENTRIES_SHOWN} more bad entries`));
  return values;
}

const DURATION_RE = /^(\d+)([smhd])$/;
const DURATION_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };
const NUMBER_RE = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

type Parsed = { ok: true; value: Value } | { ok: false; reason: string };

/** One `file` list entry by the list's element type; `reason` completes "`ENTRY` …". */
function parseEntry(text: string, t: Scalar): Parsed {
  switch (t) {
    case 'string':
      return { ok: true, value: text };
    case 'number': {
      const n = Number(text);
      return NUMBER_RE.test(text) && Number.isFinite(n) ? { ok: true, value: n } : { ok: false, reason: 'is not a number' };
    }
    case 'bool':
      return text === 'true' || text === 'false' ? { ok: true, value: text === 'true' } : { ok: false, reason: 'is not `true` or `false`' };
    case 'duration': {
      const m = DURATION_RE.exec(text);
      return m ? { ok: true, value: Number(m[1]) * DURATION_SECONDS[m[2]!]! } : { ok: false, reason: 'is not a duration like `30s`, `10m`, `2h`, `7d`' };
    }
    case 'ip':
      return ipEntry(text);
    default:
      return assertNever(t, 'list type');
  }
}

/** An ip list entry: an address or a CIDR range without host bits set, canonical. */
export function ipEntry(text: string): Parsed {
  const p = parseIpOrCidr(text);
  if (!p.ok) return { ok: false, reason: 'is not an IP address or CIDR range' };
  if (p.hostBits) return { ok: false, reason: `has host bits set (the range is \`${p.canonical}\`)` };
  return { ok: true, value: p.canonical };
}
