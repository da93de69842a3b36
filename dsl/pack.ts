// Where a pack's sources come from: a directory or single `.rules` file on disk (loadPackDir), or an
// API upload (packFromFiles); the `file` list format (parseListFile); the pack hash (packHash); and
// MemoryListBackend, the in-process stand-in for Redis-backed lists.
//
// Confinement: a `file` list path is relative to the pack directory and may not leave it — absolute
// paths, `..` escapes, and (on disk) symlinks whose real path lies outside the pack's real directory
// are refused with a reason (the checker turns it into E_LIST_SOURCE). Files over 64 MiB and things
// that are not regular files are refused too.
//
// The hash covers the rules files (base names and contents, in order) and the list files, by
// normalized relative name in name order: those passed to packHash, else the ones read through this
// module's PackSource so far (the checker reads every `file` list before the compiler asks for the
// hash), so editing a list file changes the hash.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { errorMessage } from '../common/errors.ts';
import { PackLoadError } from './errors.ts';
import type { PackSource, RedisListBackend } from './index.ts';

/** The loader's own bound on a rules or list file, so a huge file is never read into memory. */
export const MAX_PACK_FILE_BYTES = 64 * 1024 * 1024;

type ReadResult = { ok: true; text: string } | { ok: false; reason: string };

/** List files read through each source, by normalized relative name (see packHash). */
const readsOf = new WeakMap<PackSource, Map<string, string>>();

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/**
 * A relative path as `a/b/c` (no empty, `.` segments), or an error when it is absolute or climbs
 * out with `..`. `..` that stays inside (`lists/../x.txt`) is resolved.
 */
function normalizeRel(rel: string): { ok: true; rel: string } | { ok: false; reason: string } {
  if (typeof rel !== 'string' || rel.length === 0) return { ok: false, reason: 'empty path' };
  if (rel.includes('\0')) return { ok: false, reason: 'path contains a NUL byte' };
  if (rel.startsWith('/') || rel.startsWith('\\') || path.isAbsolute(rel) || /^[a-zA-Z]:/.test(rel)) {
    return { ok: false, reason: 'absolute paths are not allowed; name a file relative to the pack directory' };
  }
  const out: string[] = [];
  for (const seg of rel.split(/[\\/]+/)) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return { ok: false, reason: 'the path leaves the pack directory' };
      out.pop();
    } else out.push(seg);
  }
  if (out.length === 0) return { ok: false, reason: 'the path names the pack directory itself' };
  return { ok: true, rel: out.join('/') };
}

function isInside(root: string, target: string): boolean {
  const r = path.relative(root, target);
  return r === '' || (!r.startsWith('..') && !path.isAbsolute(r));
}

function errText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return errorMessage(e);
}

function statOrNull(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

function readRulesFile(p: string): string {
  const st = statOrNull(p);
  if (!st || !st.isFile()) throw new PackLoadError('E_PACK_PATH', `${p}: not a regular file`);
  if (st.size > MAX_PACK_FILE_BYTES) throw new PackLoadError('E_PACK_PATH', `${p}: larger than 64 MiB`);
  try {
    return stripBom(readFileSync(p, 'utf8'));
  } catch (e) {
    throw new PackLoadError('E_PACK_PATH', `${p}: ${errText(e)}`);
  }
}

/**
 * A pack on disk: a directory (its `*.rules` files, not recursive, in lexical order) or one `.rules`
 * file (lists relative to its directory). Rules files are read now; list files on demand.
 * Throws PackLoadError when the path does not exist, holds no `.rules` file, or is neither.
 */
export function loadPackDir(dirOrFile: string): PackSource {
  const st = statOrNull(dirOrFile);
  if (!st) throw new PackLoadError('E_PACK_NOT_FOUND', `${dirOrFile}: no such pack (file or directory not found)`);
  let dir: string;
  let names: string[];
  if (st.isDirectory()) {
    dir = dirOrFile;
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (e) {
      throw new PackLoadError('E_PACK_PATH', `${dir}: ${errText(e)}`);
    }
    names = entries.filter((n) => n.endsWith('.rules') && statOrNull(path.join(dir, n))?.isFile() === true).sort();
    if (names.length === 0) throw new PackLoadError('E_PACK_EMPTY', `${dir}: no .rules files in this directory`);
  } else if (st.isFile()) {
    if (!dirOrFile.endsWith('.rules')) throw new PackLoadError('E_PACK_PATH', `${dirOrFile}: a pack is a directory or a .rules file`);
    dir = path.dirname(dirOrFile);
    names = [path.basename(dirOrFile)];
  } else {
    throw new PackLoadError('E_PACK_PATH', `${dirOrFile}: a pack is a directory or a .rules file`);
  }
  const rules = names.map((n) => {
    const p = path.join(dir, n);
    return { path: p, text: readRulesFile(p) };
  });
  return recordingSource(rules, (rel) => {
    const target = path.join(dir, ...rel.split('/'));
    let realRoot: string;
    let realTarget: string;
    try {
      realRoot = realpathSync(dir);
      realTarget = realpathSync(target);
    } catch (e) {
      return { ok: false, reason: errText(e) };
    }
    if (!isInside(realRoot, realTarget)) return { ok: false, reason: 'the path leaves the pack directory (through a symbolic link)' };
    const fst = statOrNull(realTarget);
    if (!fst) return { ok: false, reason: 'no such file' };
    if (!fst.isFile()) return { ok: false, reason: 'not a regular file' };
    if (fst.size > MAX_PACK_FILE_BYTES) return { ok: false, reason: 'larger than 64 MiB' };
    try {
      return { ok: true, text: stripBom(readFileSync(realTarget, 'utf8')) };
    } catch (e) {
      return { ok: false, reason: errText(e) };
    }
  });
}

/**
 * A PackSource over `rules` whose readFile normalises the path (refusing escapes), reads through
 * `read`, and remembers what was read (for the pack hash and history: `readsOf`).
 */
function recordingSource(rules: PackSource['rules'], read: (rel: string) => ReadResult): PackSource {
  const reads = new Map<string, string>();
  const src: PackSource = {
    rules,
    readFile(rel: string): ReadResult {
      const norm = normalizeRel(rel);
      if (!norm.ok) return norm;
      const r = read(norm.rel);
      if (r.ok) reads.set(norm.rel, r.text);
      return r;
    },
  };
  readsOf.set(src, reads);
  return src;
}

/**
 * A pack from an upload (`{"a.rules": "...", "lists/x.txt": "..."}`): top-level `.rules` keys are
 * its rules files (sorted), shown as `path.join(root, key)`; every key is a file a list may name.
 * Throws PackLoadError for an absolute or escaping key, or when no top-level `.rules` key exists.
 */
export function packFromFiles(files: Readonly<Record<string, string>>, root = ''): PackSource {
  const byRel = new Map<string, string>();
  for (const [key, text] of Object.entries(files)) {
    const norm = key.split(/[\\/]/).includes('..') ? { ok: false as const, reason: '`..` is not allowed in a file name' } : normalizeRel(key);
    if (!norm.ok) throw new PackLoadError('E_PACK_PATH', `bad file name ${JSON.stringify(key)}: ${norm.reason}`);
    if (typeof text !== 'string') throw new PackLoadError('E_PACK_PATH', `file ${JSON.stringify(key)}: contents must be a string`);
    if (byRel.has(norm.rel)) throw new PackLoadError('E_PACK_PATH', `file ${JSON.stringify(key)} given twice`);
    byRel.set(norm.rel, text);
  }
  const names = [...byRel.keys()].filter((k) => !k.includes('/') && k.endsWith('.rules')).sort();
  if (names.length === 0) throw new PackLoadError('E_PACK_EMPTY', 'the pack has no top-level .rules file');
  const rules = names.map((n) => ({ path: root ? path.join(root, n) : n, text: stripBom(byRel.get(n)!) }));
  return recordingSource(rules, (rel) => {
    const text = byRel.get(rel);
    if (text === undefined) return { ok: false, reason: 'no such file in the pack' };
    if (Buffer.byteLength(text, 'utf8') > MAX_PACK_FILE_BYTES) return { ok: false, reason: 'larger than 64 MiB' };
    return { ok: true, text: stripBom(text) };
  });
}

/** Entries of a `file` list: one a line; `#` starts a comment (whole-line or trailing); blanks skipped. */
export function parseListFile(text: string): { entries: { value: string; line: number }[] } {
  const entries: { value: string; line: number }[] = [];
  const lines = stripBom(text).split('\n');
  for (let i = 0; i < lines.length; i++) {
    let l = lines[i]!;
    const hash = l.indexOf('#');
    if (hash >= 0) l = l.slice(0, hash);
    const value = l.trim();
    if (value !== '') entries.push({ value, line: i + 1 });
  }
  return { entries };
}

/**
 * `sha256:<hex>` over the rules files (base name and contents, in order) and list files (name and
 * contents, in name order): `listFiles` when given, else those read through `src` so far.
 */
export function packHash(src: PackSource, listFiles?: ReadonlyMap<string, string>): string {
  const h = createHash('sha256');
  const field = (s: string): void => {
    h.update(`${Buffer.byteLength(s, 'utf8')}:`);
    h.update(s, 'utf8');
  };
  h.update('vigil-pack-v1\n');
  for (const r of src.rules) {
    h.update('R');
    field(path.basename(r.path));
    field(r.text);
  }
  const lists = listFiles ?? readsOf.get(src) ?? new Map<string, string>();
  for (const name of [...lists.keys()].sort()) {
    h.update('L');
    field(name);
    field(lists.get(name)!);
  }
  return `sha256:${h.digest('hex')}`;
}

/** In-process Redis-backed lists (tests, `vigil eval`, a store without Redis). */
export class MemoryListBackend implements RedisListBackend {
  private readonly sets = new Map<string, Set<string>>();

  has(key: string, value: string): boolean {
    return this.sets.get(key)?.has(value) ?? false;
  }

  add(key: string, ...values: string[]): void {
    let s = this.sets.get(key);
    if (!s) {
      s = new Set();
      this.sets.set(key, s);
    }
    for (const v of values) s.add(v);
  }

  delete(key: string, ...values: string[]): void {
    const s = this.sets.get(key);
    if (!s) return;
    for (const v of values) s.delete(v);
    if (s.size === 0) this.sets.delete(key);
  }
}
