// The audit log's diff summary between two packs: rules added, removed and changed (by name) and
// files changed. A rule counts as changed when its compiled metadata or its source text (comments
// and layout aside) differs, so an edited `when` shows up even though it compiles to a closure.
import type { CompiledPack } from '../../dsl/index.ts';
import type { PackFiles } from './types.ts';

export interface PackDiff {
  readonly rules_added: readonly string[];
  readonly rules_removed: readonly string[];
  readonly rules_changed: readonly string[];
  readonly files_changed: readonly string[];
}

export function diffPacks(
  before: { pack: CompiledPack; files: PackFiles } | null,
  after: { pack: CompiledPack; files: PackFiles },
): PackDiff {
  const newRules = new Map(after.pack.rules.map((r) => [r.name, JSON.stringify(r)]));
  const oldRules = new Map((before?.pack.rules ?? []).map((r) => [r.name, JSON.stringify(r)]));
  const newSrc = ruleSources(after.files);
  const oldSrc = ruleSources(before?.files ?? {});
  const added: string[] = [];
  const changed: string[] = [];
  for (const [name, info] of newRules) {
    if (!oldRules.has(name)) added.push(name);
    else if (oldRules.get(name) !== info || oldSrc.get(name) !== newSrc.get(name)) changed.push(name);
  }
  const removed = [...oldRules.keys()].filter((n) => !newRules.has(n));
  const oldFiles = before?.files ?? {};
  const names = new Set([...Object.keys(oldFiles), ...Object.keys(after.files)]);
  const filesChanged = [...names].filter((n) => oldFiles[n] !== after.files[n]).sort();
  return { rules_added: added, rules_removed: removed, rules_changed: changed, files_changed: filesChanged };
}

/**
 * Rule name → its source with comments dropped and whitespace collapsed. A small scanner, not the
 * parser: it only needs strings, comments and braces to find each `rule NAME { … }` block.
 */
export function ruleSources(files: PackFiles): Map<string, string> {
  const out = new Map<string, string>();
  for (const path of Object.keys(files).sort()) {
    if (!path.endsWith('.rules')) continue;
    const toks = tokens(files[path] ?? '');
    for (let i = 0; i + 2 < toks.length; i++) {
      if (toks[i] !== 'rule' || toks[i + 2] !== '{' || !/^[a-z_][a-z0-9_]*$/.test(toks[i + 1] ?? '')) continue;
      let depth = 0;
      let j = i + 2;
      for (; j < toks.length; j++) {
        if (toks[j] === '{') depth++;
        else if (toks[j] === '}' && --depth === 0) break;
      }
      out.set(toks[i + 1]!, toks.slice(i, j + 1).join(' '));
      i = j;
    }
  }
  return out;
}

function tokens(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i]!;
    if (c === '#') {
      while (i < n && text[i] !== '\n') i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"' && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out.push(text.slice(i, j + 1));
      i = j + 1;
    } else if (/\s/.test(c)) {
      i++;
    } else if (/[A-Za-z0-9_.]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_.]/.test(text[j]!)) j++;
      out.push(text.slice(i, j));
      i = j;
    } else {
      out.push(c);
      i++;
    }
  }
  return out;
}
