// Tests for dsl/pack.ts: loading packs from a directory, a single file and an upload; confinement of
// `file` lists (absolute paths, `..`, symlinks out of the pack); list-file parsing; the pack hash;
// MemoryListBackend.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackLoadError } from '../../dsl/errors.ts';
import { MAX_PACK_FILE_BYTES, MemoryListBackend, loadPackDir, packFromFiles, packHash, parseListFile } from '../../dsl/pack.ts';

let base: string;

beforeAll(() => {
  base = mkdtempSync(path.join(tmpdir(), 'vigil-pack-'));
});
afterAll(() => {
  rmSync(base, { recursive: true, force: true });
});

/** A fresh directory under the temp base with the given files (nested paths allowed). */
function dirWith(name: string, files: Record<string, string>): string {
  const d = path.join(base, name);
  mkdirSync(d, { recursive: true });
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(d, rel)), { recursive: true });
    writeFileSync(path.join(d, rel), text);
  }
  return d;
}

function loadError(fn: () => unknown): PackLoadError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PackLoadError) return e;
    throw e;
  }
  throw new Error('expected a PackLoadError');
}

describe('loadPackDir', () => {
  it('reads a directory’s .rules files, not recursively, in lexical order', () => {
    const d = dirWith('lexical', {
      'b.rules': 'B',
      'a.rules': 'A',
      '10_x.rules': 'TEN',
      'notes.txt': 'ignored',
      'sub/c.rules': 'nested, ignored',
    });
    const src = loadPackDir(d);
    expect(src.rules).toEqual([
      { path: path.join(d, '10_x.rules'), text: 'TEN' },
      { path: path.join(d, 'a.rules'), text: 'A' },
      { path: path.join(d, 'b.rules'), text: 'B' },
    ]);
  });

  it('reads a single .rules file, with list files relative to its directory', () => {
    const d = dirWith('single', { 'main.rules': 'MAIN', 'other.rules': 'OTHER', 'lists/x.txt': '1.2.3.4\n' });
    const src = loadPackDir(path.join(d, 'main.rules'));
    expect(src.rules).toEqual([{ path: path.join(d, 'main.rules'), text: 'MAIN' }]);
    expect(src.readFile('lists/x.txt')).toEqual({ ok: true, text: '1.2.3.4\n' });
  });

  it('strips a UTF-8 byte order mark', () => {
    const d = dirWith('bom', { 'a.rules': '\ufeffpack p version 1\n', 'l.txt': '\ufeffx\n' });
    const src = loadPackDir(d);
    expect(src.rules[0]!.text).toBe('pack p version 1\n');
    expect(src.readFile('l.txt')).toEqual({ ok: true, text: 'x\n' });
  });

  it('throws E_PACK_NOT_FOUND, E_PACK_EMPTY and E_PACK_PATH', () => {
    expect(loadError(() => loadPackDir(path.join(base, 'does-not-exist'))).code).toBe('E_PACK_NOT_FOUND');
    const empty = dirWith('empty', { 'readme.txt': 'no rules here' });
    expect(loadError(() => loadPackDir(empty)).code).toBe('E_PACK_EMPTY');
    expect(loadError(() => loadPackDir(path.join(empty, 'readme.txt'))).code).toBe('E_PACK_PATH');
  });

  it('reads list files inside the pack, resolving `..` that stays inside', () => {
    const d = dirWith('lists', { 'a.rules': 'A', 'lists/x.txt': 'X', 'y.txt': 'Y' });
    const src = loadPackDir(d);
    expect(src.readFile('lists/x.txt')).toEqual({ ok: true, text: 'X' });
    expect(src.readFile('./lists//x.txt')).toEqual({ ok: true, text: 'X' });
    expect(src.readFile('lists/../y.txt')).toEqual({ ok: true, text: 'Y' });
  });

  it('refuses absolute paths, `..` escapes, missing files and directories', () => {
    const d = dirWith('confine', { 'a.rules': 'A', 'lists/x.txt': 'X' });
    writeFileSync(path.join(base, 'outside.txt'), 'SECRET');
    const src = loadPackDir(d);
    for (const rel of [path.join(base, 'outside.txt'), '/etc/passwd', '../outside.txt', 'lists/../../outside.txt', '', 'nope.txt', 'lists', '.']) {
      const r = src.readFile(rel);
      expect(r.ok, rel).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
    }
  });

  it('refuses a symlink that resolves outside the pack, accepts one that stays inside', () => {
    const outside = dirWith('outside-dir', { 'secret.txt': 'SECRET' });
    const d = dirWith('symlinks', { 'a.rules': 'A', 'real/in.txt': 'IN' });
    symlinkSync(path.join(outside, 'secret.txt'), path.join(d, 'escape.txt'));
    symlinkSync(outside, path.join(d, 'escape-dir'));
    symlinkSync(path.join(d, 'real', 'in.txt'), path.join(d, 'inside.txt'));
    const src = loadPackDir(d);
    expect(src.readFile('escape.txt').ok).toBe(false);
    expect(src.readFile('escape-dir/secret.txt').ok).toBe(false);
    expect(src.readFile('inside.txt')).toEqual({ ok: true, text: 'IN' });
  });

  it('refuses list files over 64 MiB', () => {
    const d = dirWith('big', { 'a.rules': 'A', 'big.txt': '' });
    truncateSync(path.join(d, 'big.txt'), MAX_PACK_FILE_BYTES + 1);
    const r = loadPackDir(d).readFile('big.txt');
    expect(r.ok).toBe(false);
  });
});

describe('packFromFiles', () => {
  it('takes top-level .rules keys as rules files, sorted, under root', () => {
    const src = packFromFiles({ 'b.rules': 'B', 'a.rules': 'A', 'lists/x.rules': 'not a rules file', 'lists/x.txt': 'X' }, 'upload');
    expect(src.rules).toEqual([
      { path: path.join('upload', 'a.rules'), text: 'A' },
      { path: path.join('upload', 'b.rules'), text: 'B' },
    ]);
    expect(packFromFiles({ 'main.rules': 'M' }).rules).toEqual([{ path: 'main.rules', text: 'M' }]);
  });

  it('reads list files by normalized relative name, confined to the upload', () => {
    const src = packFromFiles({ 'a.rules': 'A', 'lists/x.txt': 'X' });
    expect(src.readFile('lists/x.txt')).toEqual({ ok: true, text: 'X' });
    expect(src.readFile('./lists//x.txt')).toEqual({ ok: true, text: 'X' });
    expect(src.readFile('lists/../lists/x.txt')).toEqual({ ok: true, text: 'X' });
    for (const rel of ['../lists/x.txt', '/lists/x.txt', 'C:/x.txt', 'missing.txt', '']) expect(src.readFile(rel).ok, rel).toBe(false);
  });

  it('throws E_PACK_PATH for absolute or `..` keys and E_PACK_EMPTY without rules files', () => {
    expect(loadError(() => packFromFiles({ 'a.rules': 'A', '../x.txt': 'X' })).code).toBe('E_PACK_PATH');
    expect(loadError(() => packFromFiles({ 'a.rules': 'A', 'lists/../x.txt': 'X' })).code).toBe('E_PACK_PATH');
    expect(loadError(() => packFromFiles({ 'a.rules': 'A', '/etc/x.txt': 'X' })).code).toBe('E_PACK_PATH');
    expect(loadError(() => packFromFiles({ 'a.rules': 'A', './a.rules': 'again' })).code).toBe('E_PACK_PATH');
    expect(loadError(() => packFromFiles({ 'lists/x.txt': 'X' })).code).toBe('E_PACK_EMPTY');
    expect(loadError(() => packFromFiles({})).code).toBe('E_PACK_EMPTY');
  });
});

describe('parseListFile', () => {
  it('reads one entry a line, skipping comments and blanks, trimming, with 1-based lines', () => {
    const text = '# Tor exits\n\n  1.2.3.4  \n5.6.7.8 # trailing comment\r\n   # indented comment\n\t9.9.9.9\n#last';
    expect(parseListFile(text).entries).toEqual([
      { value: '1.2.3.4', line: 3 },
      { value: '5.6.7.8', line: 4 },
      { value: '9.9.9.9', line: 6 },
    ]);
    expect(parseListFile('').entries).toEqual([]);
    expect(parseListFile('\ufeffa\nb').entries).toEqual([
      { value: 'a', line: 1 },
      { value: 'b', line: 2 },
    ]);
  });
});

describe('packHash', () => {
  it('is sha256 over rules names and contents, and over list files', () => {
    const h = packHash(packFromFiles({ 'a.rules': 'A' }));
    expect(h).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(packHash(packFromFiles({ 'a.rules': 'A' }))).toBe(h);
    expect(packHash(packFromFiles({ 'a.rules': 'A', 'unused.txt': 'U' }))).toBe(h);
    expect(packHash(packFromFiles({ 'a.rules': 'B' }))).not.toBe(h);
    expect(packHash(packFromFiles({ 'b.rules': 'A' }))).not.toBe(h);
    // Moving text between files changes the hash.
    expect(packHash(packFromFiles({ 'a.rules': 'AB', 'b.rules': '' }))).not.toBe(packHash(packFromFiles({ 'a.rules': 'A', 'b.rules': 'B' })));
    const withList = packHash(packFromFiles({ 'a.rules': 'A' }), new Map([['l.txt', '1']]));
    expect(withList).not.toBe(h);
    expect(packHash(packFromFiles({ 'a.rules': 'A' }), new Map([['l.txt', '2']]))).not.toBe(withList);
  });

  it('covers the list files read through the source, in name order', () => {
    const a = packFromFiles({ 'a.rules': 'A', 'x.txt': '1', 'y.txt': '2' });
    const b = packFromFiles({ 'a.rules': 'A', 'x.txt': '1', 'y.txt': '3' });
    const before = packHash(a);
    a.readFile('y.txt');
    a.readFile('x.txt');
    b.readFile('x.txt');
    b.readFile('y.txt');
    expect(packHash(a)).not.toBe(before);
    expect(packHash(a)).toBe(packHash(a, new Map([['x.txt', '1'], ['y.txt', '2']])));
    expect(packHash(b)).not.toBe(packHash(a));
  });

  it('is the same for a pack on disk and the same files uploaded', () => {
    const d = dirWith('hash-same', { 'a.rules': 'A', 'b.rules': 'B', 'lists/l.txt': 'L' });
    const disk = loadPackDir(d);
    const upload = packFromFiles({ 'a.rules': 'A', 'b.rules': 'B', 'lists/l.txt': 'L' }, 'elsewhere');
    disk.readFile('lists/l.txt');
    upload.readFile('lists/l.txt');
    expect(packHash(disk)).toBe(packHash(upload));
  });
});

describe('MemoryListBackend', () => {
  it('adds, answers and deletes per key', () => {
    const lists = new MemoryListBackend();
    expect(lists.has('blocked', 'u1')).toBe(false);
    lists.add('blocked', 'u1', 'u2');
    expect(lists.has('blocked', 'u1')).toBe(true);
    expect(lists.has('blocked', 'u2')).toBe(true);
    expect(lists.has('other', 'u1')).toBe(false);
    lists.delete('blocked', 'u1', 'never-added');
    expect(lists.has('blocked', 'u1')).toBe(false);
    expect(lists.has('blocked', 'u2')).toBe(true);
    lists.delete('missing-key', 'x');
    expect(lists.has('missing-key', 'x')).toBe(false);
  });
});
