// The spool: where answered decisions wait on local disk while the database cannot take them. An
// append-only set of NDJSON files (`000001.ndjson`, …) in a directory this process has locked, each
// line a wire row (row.ts) or an outcome record; a bound on total bytes past which rows are
// refused (the caller counts them as dropped); an in-memory index of every spooled id (its user,
// file and outcome) so get/setOutcome/eraseUser answer without reading the files; replay that hands
// closed files to the database one at a time and deletes each once written; erasure that rewrites
// the files holding a user's lines.
//
// Durability: every append is written and fdatasync'ed before it resolves (the caller only then
// forgets the rows), and a new file's directory entry is fsync'ed; a crash can leave at most a
// partial last line, which loading ignores. One process owns a directory (a `lock` file holding its
// pid); a second process takes `<dir>-1`, `-2`, …, and directories whose owner is gone are adopted
// (their files moved in) at open, so a restart with fewer processes replays everything.
import { mkdir, open, readdir, readFile, rename, rm, rmdir, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { errorMessage } from '../common/errors.ts';
import { fromWire, normalizeUlid, OUTCOMES, outcomeCode, ulidTime, withOutcome } from './row.ts';
import type { DecisionLogLogger, LogRow, Outcome } from './types.ts';

export interface SpoolRow {
  /** Canonical ULID. */
  readonly id: string;
  readonly user: string;
  /** Wire JSON without outcome. */
  readonly json: string;
  readonly outcome: Outcome | null;
  readonly outcomeAt: number | null;
}

/** A row handed to replay: its wire JSON (outcome included) and its event time. */
export interface ReplayRow {
  readonly id: string;
  readonly time: number;
  readonly json: string;
}

interface IndexEntry {
  readonly user: string;
  readonly file: number;
  outcome: Outcome | null;
  outcomeAt: number | null;
  /** File holding the outcome line, when the outcome came after the row was spooled. */
  outcomeFile: number | null;
}

export interface SpoolOptions {
  readonly dir: string;
  readonly maxBytes: number;
  /** A file is closed and a new one begun past this size (default 8 MiB). */
  readonly fileMaxBytes?: number;
  readonly logger?: DecisionLogLogger;
}

const FILE_RE = /^(\d{6,})\.ndjson$/;
const fileName = (seq: number): string => `${String(seq).padStart(6, '0')}.ndjson`;
/** Directories this process holds (a second Spool on the same directory in one process is refused too). */
const held = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function claim(dir: string): Promise<boolean> {
  if (held.has(dir)) return false;
  await mkdir(dir, { recursive: true });
  const lock = join(dir, 'lock');
  try {
    await writeFile(lock, String(process.pid), { flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const pid = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) return false;
    // The owner is gone (or it was this process, which no longer holds it): take over.
    await writeFile(lock, String(process.pid));
  }
  held.add(dir);
  return true;
}

async function release(dir: string): Promise<void> {
  held.delete(dir);
  await unlink(join(dir, 'lock')).catch(() => undefined);
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

async function spoolFiles(dir: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const m = FILE_RE.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** `{"k":"r","id":"…"` or `{"k":"o","id":"…"`: the kind and id of a line without parsing it. */
function lineHead(line: string): { kind: 'r' | 'o'; id: string } | null {
  if (!line.startsWith('{"k":"') || line.charAt(7) !== '"' || !line.startsWith(',"id":"', 8)) return null;
  const kind = line.charAt(6);
  if (kind !== 'r' && kind !== 'o') return null;
  const id = line.slice(15, 41);
  return normalizeUlid(id) === id ? { kind, id } : null;
}

/** Complete lines of a file's text (a trailing partial line, left by a crash mid-write, is not one). */
function linesOf(text: string): string[] {
  const end = text.lastIndexOf('\n');
  if (end < 0) return [];
  return text.slice(0, end).split('\n').filter((l) => l.length > 0);
}

export class Spool {
  readonly dir: string;
  private readonly maxBytes: number;
  private readonly fileMaxBytes: number;
  private readonly logger: DecisionLogLogger | undefined;
  private readonly index = new Map<string, IndexEntry>();
  private readonly sizes = new Map<number, number>();
  private total = 0;
  private nextSeq = 1;
  private cur: { seq: number; fh: FileHandle } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Lines that could not be read at load or replay (damaged files); reported, skipped. */
  corrupt = 0;

  private constructor(dir: string, o: SpoolOptions) {
    this.dir = dir;
    this.maxBytes = o.maxBytes;
    this.fileMaxBytes = o.fileMaxBytes ?? 8 * 1024 * 1024;
    this.logger = o.logger;
  }

  /** Claims `o.dir` (or the first free `<dir>-N`), adopts orphaned siblings and loads the index. */
  static async open(o: SpoolOptions): Promise<Spool> {
    let dir: string | null = null;
    for (let n = 0; n < 64 && dir === null; n++) {
      const d = n === 0 ? o.dir : `${o.dir}-${n}`;
      if (await claim(d)) dir = d;
    }
    if (dir === null) throw new Error(`no free spool directory at ${o.dir} (64 are locked by live processes)`);
    const s = new Spool(dir, o);
    try {
      await s.adoptSiblings(o.dir);
      await s.load();
    } catch (err) {
      await release(dir);
      throw err;
    }
    return s;
  }

  get rows(): number {
    return this.index.size;
  }
  get bytes(): number {
    return this.total;
  }
  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Runs `fn` alone (appends, rewrites and replays never interleave). */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async adoptSiblings(base: string): Promise<void> {
    const parent = dirname(base);
    const stem = basename(base);
    const names = await readdir(parent).catch(() => [] as string[]);
    for (const name of names) {
      const d = join(parent, name);
      if (d === this.dir || (name !== stem && !new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-\\d+$`).test(name))) continue;
      if (!(await claim(d))) continue;
      try {
        const files = await spoolFiles(d);
        if (files.length > 0) {
          let seq = Math.max(0, ...(await spoolFiles(this.dir))) + 1;
          for (const f of files) await rename(join(d, fileName(f)), join(this.dir, fileName(seq++)));
          await syncDir(this.dir);
          this.logger?.info({ from: d, to: this.dir, files: files.length }, 'decision log: adopted an orphaned spool');
        }
      } finally {
        await release(d);
      }
      if (d !== base) await rmdir(d).catch(() => undefined);
    }
  }

  private async load(): Promise<void> {
    const files = await spoolFiles(this.dir);
    for (const f of files) {
      const text = await readFile(join(this.dir, fileName(f)), 'utf8');
      this.sizes.set(f, Buffer.byteLength(text));
      this.total += Buffer.byteLength(text);
      for (const line of linesOf(text)) this.indexLine(line, f);
    }
    this.nextSeq = (files[files.length - 1] ?? 0) + 1;
    if (this.index.size > 0) this.logger?.info({ dir: this.dir, rows: this.index.size, bytes: this.total }, 'decision log: spool found at start');
  }

  private indexLine(line: string, file: number): void {
    const head = lineHead(line);
    let w: Record<string, unknown>;
    try {
      w = head ? (JSON.parse(line) as Record<string, unknown>) : {};
    } catch {
      w = {};
    }
    if (!head || typeof w !== 'object' || w === null) {
      this.corrupt++;
      return;
    }
    const oc = typeof w.outcome === 'number' ? OUTCOMES[w.outcome] ?? null : null;
    const at = typeof w.outcome_ms === 'number' ? w.outcome_ms : null;
    if (head.kind === 'r') {
      if (typeof w.user_h !== 'string') {
        this.corrupt++;
        return;
      }
      this.index.set(head.id, { user: w.user_h, file, outcome: oc, outcomeAt: oc ? at : null, outcomeFile: null });
    } else {
      const e = this.index.get(head.id);
      if (e && e.outcome === null && oc !== null) {
        e.outcome = oc;
        e.outcomeAt = at;
        e.outcomeFile = file;
      }
    }
  }

  private async currentFile(): Promise<{ seq: number; fh: FileHandle }> {
    if (this.cur && (this.sizes.get(this.cur.seq) ?? 0) < this.fileMaxBytes) return this.cur;
    await this.closeCurrent();
    const seq = this.nextSeq++;
    const fh = await open(join(this.dir, fileName(seq)), 'a');
    await syncDir(this.dir);
    this.sizes.set(seq, 0);
    this.cur = { seq, fh };
    return this.cur;
  }

  private async closeCurrent(): Promise<void> {
    const c = this.cur;
    this.cur = null;
    if (!c) return;
    await c.fh.close().catch(() => undefined);
    if ((this.sizes.get(c.seq) ?? 0) === 0) {
      this.sizes.delete(c.seq);
      await unlink(join(this.dir, fileName(c.seq))).catch(() => undefined);
    }
  }

  private async write(text: string): Promise<number> {
    const c = await this.currentFile();
    const buf = Buffer.from(text, 'utf8');
    try {
      let off = 0;
      while (off < buf.length) off += (await c.fh.write(buf, off, buf.length - off)).bytesWritten;
      await c.fh.datasync();
    } catch (err) {
      // Whatever reached the file may end in a partial line: never append after it.
      this.sizes.set(c.seq, (this.sizes.get(c.seq) ?? 0) + buf.length);
      this.total += buf.length;
      await this.closeCurrent();
      throw err;
    }
    this.sizes.set(c.seq, (this.sizes.get(c.seq) ?? 0) + buf.length);
    this.total += buf.length;
    return c.seq;
  }

  /**
   * Appends rows (durably) while the bound allows; returns how many were spooled; the rest (the
   * newest) did not fit. Throws when the disk refuses the write (nothing of it is counted as spooled).
   */
  append(rows: readonly SpoolRow[]): Promise<{ spooled: number; refused: number }> {
    return this.locked(async () => {
      if (this.closed) throw new Error('the spool is closed');
      let room = this.maxBytes - this.total;
      const lines: string[] = [];
      const kept: SpoolRow[] = [];
      for (const r of rows) {
        const line = withOutcome(r.json, r.outcome, r.outcomeAt) + '\n';
        const len = Buffer.byteLength(line);
        if (len > room) break;
        room -= len;
        lines.push(line);
        kept.push(r);
      }
      if (kept.length > 0) {
        const seq = await this.write(lines.join(''));
        for (const r of kept) this.index.set(r.id, { user: r.user, file: seq, outcome: r.outcome, outcomeAt: r.outcomeAt, outcomeFile: null });
      }
      return { spooled: kept.length, refused: rows.length - kept.length };
    });
  }

  /** Records an outcome for a spooled row; 'gone' when the row is no longer in the spool. */
  setOutcome(id: string, outcome: Outcome, at: number): Promise<'ok' | 'already' | 'gone'> {
    return this.locked(async () => {
      const e = this.index.get(id);
      if (!e) return 'gone';
      if (e.outcome !== null) return 'already';
      // Outcome lines are not held to the bound: each spooled row gets at most one, ~100 bytes.
      const seq = await this.write(`{"k":"o","id":"${id}","outcome":${outcomeCode(outcome)},"outcome_ms":${at}}\n`);
      e.outcome = outcome;
      e.outcomeAt = at;
      e.outcomeFile = seq;
      return 'ok';
    });
  }

  get(id: string): Promise<LogRow | null> {
    return this.locked(async () => {
      const e = this.index.get(id);
      if (!e) return null;
      const text = await readFile(join(this.dir, fileName(e.file)), 'utf8');
      const at = text.indexOf(`{"k":"r","id":"${id}"`);
      if (at < 0) return null;
      const end = text.indexOf('\n', at);
      const w = JSON.parse(text.slice(at, end < 0 ? undefined : end)) as Record<string, unknown>;
      return fromWire(w, e.outcome, e.outcomeAt);
    });
  }

  /** Rewrites the files holding `user`'s lines without them; returns the rows removed. */
  eraseUser(user: string): Promise<number> {
    return this.locked(async () => {
      const ids = new Set<string>();
      const files = new Set<number>();
      for (const [id, e] of this.index) {
        if (e.user !== user) continue;
        ids.add(id);
        files.add(e.file);
        if (e.outcomeFile !== null) files.add(e.outcomeFile);
      }
      if (ids.size === 0) return 0;
      if (this.cur && files.has(this.cur.seq)) await this.closeCurrent();
      for (const f of [...files].sort((a, b) => a - b)) {
        const path = join(this.dir, fileName(f));
        const text = await readFile(path, 'utf8').catch(() => '');
        const keep = linesOf(text).filter((l) => {
          const h = lineHead(l);
          return !(h && ids.has(h.id));
        });
        const before = this.sizes.get(f) ?? Buffer.byteLength(text);
        if (keep.length === 0) {
          await unlink(path).catch(() => undefined);
          this.sizes.delete(f);
          this.total -= before;
          continue;
        }
        const out = keep.join('\n') + '\n';
        const tmp = `${path}.tmp`;
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(out, 'utf8');
          await fh.datasync();
        } finally {
          await fh.close();
        }
        await rename(tmp, path);
        const after = Buffer.byteLength(out);
        this.sizes.set(f, after);
        this.total += after - before;
      }
      await syncDir(this.dir);
      for (const id of ids) this.index.delete(id);
      return ids.size;
    });
  }

  /**
   * Hands every row spooled so far to `write`, one file at a time, oldest first (outcomes recorded
   * since are folded into their rows); deletes each file once `write` resolves. `maxFiles` bounds one
   * call (the writer replays a file between batches). Stops at the first
   * failure (the file stays) and rethrows it. Returns the rows written.
   */
  async replay(write: (rows: readonly ReplayRow[]) => Promise<void>, maxFiles = Infinity): Promise<number> {
    const files = await this.locked(async () => {
      const open = this.cur?.seq;
      let all = [...this.sizes.keys()].sort((a, b) => a - b);
      // The file being appended to is closed (and the next append begins a new one) only when the
      // closed files do not already make up the request.
      if (open !== undefined && all.filter((f) => f !== open).length < maxFiles) {
        await this.closeCurrent();
        all = [...this.sizes.keys()].sort((a, b) => a - b);
      } else if (open !== undefined) {
        all = all.filter((f) => f !== open);
      }
      return all.slice(0, maxFiles);
    });
    let n = 0;
    for (const f of files) {
      n += await this.locked(async () => {
        if (!this.sizes.has(f)) return 0;
        const path = join(this.dir, fileName(f));
        const text = await readFile(path, 'utf8');
        const rows: ReplayRow[] = [];
        for (const line of linesOf(text)) {
          const h = lineHead(line);
          if (!h) {
            this.corrupt++;
            continue;
          }
          if (h.kind !== 'r') continue;
          const e = this.index.get(h.id);
          // Rows erased meanwhile, or spooled again later (a later file has the live copy), are skipped.
          if (!e || e.file !== f) continue;
          // An outcome spooled with its row is in the line already; a later one is folded in here.
          const json = e.outcomeFile !== null ? withOutcome(line, e.outcome, e.outcomeAt) : line;
          rows.push({ id: h.id, time: ulidTime(h.id), json });
        }
        if (rows.length > 0) await write(rows);
        await unlink(path);
        this.total -= this.sizes.get(f) ?? 0;
        this.sizes.delete(f);
        for (const r of rows) this.index.delete(r.id);
        return rows.length;
      });
    }
    await this.locked(async () => {
      // With every file gone, an entry left in the index names a line no file holds (a damaged
      // file): forgetting it keeps `rows` honest and the writer from replaying nothing forever.
      if (this.sizes.size === 0 && this.index.size > 0) {
        this.corrupt += this.index.size;
        this.logger?.warn({ entries: this.index.size }, 'decision log: spool index entries without a line dropped');
        this.index.clear();
      }
    });
    return n;
  }

  /** Closes the current file and releases the directory (the files stay for the next start). */
  async close(): Promise<void> {
    await this.locked(async () => {
      if (this.closed) return;
      this.closed = true;
      await this.closeCurrent();
      await release(this.dir);
      // An empty directory is not left behind (rmdir fails, harmlessly, when files wait in it).
      if (this.sizes.size === 0) await rmdir(this.dir).catch(() => undefined);
    });
  }

  /** Deletes every file (tests, and a schema that is being dropped). */
  async destroy(): Promise<void> {
    await this.close();
    await rm(this.dir, { recursive: true, force: true }).catch((err: unknown) =>
      this.logger?.warn({ dir: this.dir, err: errorMessage(err) }, 'decision log: could not remove the spool directory'),
    );
  }
}
