// The rule packs' durable store, in the decision log's database (migration 004_packs): the pack
// history with each pack's files and every hash ever activated, the shadow pack and the rule
// overrides. The engine's pack repository (engine/packs/durable.ts) is handed this store; the
// decision log knows nothing of packs beyond their JSON (dependencies point engine → decisionlog).
//
// Every change that depends on the head runs in one transaction under a transaction-scoped advisory
// lock of the schema's packs, so two instances sharing the database take turns: push compares the
// head's hash and append checks the head's id inside the lock, as the repository contract promises.
import type { Db, Queryable } from './db.ts';
import { DecisionLogError } from './errors.ts';
import { ident, lockKey } from './migrate.ts';

/** A history entry (or the shadow pack's) as JSON: its `id` and `hash` are what the store reads. */
export type PackEntryJson = Readonly<Record<string, unknown>> & { readonly id: string; readonly hash: string };
export type PackOverrideJson = Readonly<Record<string, unknown>> & { readonly rule: string };

export interface PackFilesJson {
  readonly files: Readonly<Record<string, string>>;
  readonly root: string;
}

/** What an older store (Redis) held, copied once into an empty store. Entries newest first. */
export interface PackImport {
  readonly entries: readonly PackEntryJson[];
  readonly files: Readonly<Record<string, PackFilesJson>>;
  readonly seen: readonly string[];
  readonly shadow: (PackFilesJson & { readonly entry: PackEntryJson }) | null;
  readonly overrides: readonly PackOverrideJson[];
}

export interface PackStore {
  /** Newest first. */
  history(limit: number): Promise<PackEntryJson[]>;
  files(hash: string): Promise<PackFilesJson | null>;
  /**
   * Append `entry` (with `previous_hash` set to the head's hash) unless the head has its hash; keeps
   * the newest `maxHistory` entries and the files they name. Resolves the head after.
   */
  push(entry: PackEntryJson, files: PackFilesJson, maxHistory: number): Promise<{ pushed: boolean; head: PackEntryJson }>;
  /** Append `entry` as is if the head's id is still `headId` and the files of its hash are kept. */
  append(headId: string, entry: PackEntryJson, maxHistory: number): Promise<'ok' | 'none' | 'conflict'>;
  seen(hash: string): Promise<boolean>;
  shadow(): Promise<PackEntryJson | null>;
  /** The shadow pack's files if `id` is still its entry's id. */
  shadowFiles(id: string): Promise<PackFilesJson | null>;
  setShadow(entry: PackEntryJson, files: PackFilesJson): Promise<void>;
  clearShadow(): Promise<PackEntryJson | null>;
  overrides(): Promise<PackOverrideJson[]>;
  /** Store `o` (replacing the rule's) and drop the overrides of `expired` rules, in one transaction. */
  setOverride(o: PackOverrideJson, expired: readonly string[]): Promise<void>;
  clearOverride(rule: string): Promise<PackOverrideJson | null>;
  /** Copy `data` in if the store holds no history yet (one transaction); false when it held some. */
  importIfEmpty(data: PackImport): Promise<boolean>;
}

type EntryRow = { readonly entry: unknown };

function asEntry(v: unknown): PackEntryJson {
  const o = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
  if (typeof o !== 'object' || o === null || typeof (o as { id?: unknown }).id !== 'string' || typeof (o as { hash?: unknown }).hash !== 'string') {
    throw new DecisionLogError('LOG_INPUT', 'a stored pack entry has no id or hash');
  }
  return o as PackEntryJson;
}

function asFiles(files: unknown, root: unknown): PackFilesJson {
  const f = typeof files === 'string' ? (JSON.parse(files) as unknown) : files;
  return { files: (typeof f === 'object' && f !== null ? f : {}) as Record<string, string>, root: String(root) };
}

export class DbPackStore implements PackStore {
  private readonly s: string;
  private readonly lock: string;

  constructor(
    private readonly db: Db,
    schema: string,
    private readonly readOnly: boolean,
  ) {
    this.s = ident(schema);
    this.lock = lockKey(schema, 'packs');
  }

  private writable(): void {
    if (this.readOnly) throw new DecisionLogError('LOG_CONFIG', 'the log was opened read-only: no pack changes');
  }

  /** A transaction holding the packs' advisory lock: changes of every instance take turns. */
  private locked<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.writable();
    return this.db.tx(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [this.lock]);
      return fn(q);
    });
  }

  private async head(q: Queryable): Promise<PackEntryJson | null> {
    const [r] = await q.query<EntryRow>(`SELECT entry FROM ${this.s}.pack_history ORDER BY seq DESC LIMIT 1`);
    return r ? asEntry(r.entry) : null;
  }

  /** Keep the newest `max` entries; the files of dropped ones go unless a kept entry names them. */
  private async trim(q: Queryable, max: number): Promise<void> {
    await q.query(
      `DELETE FROM ${this.s}.pack_history WHERE seq <= (SELECT seq FROM ${this.s}.pack_history ORDER BY seq DESC OFFSET $1::int LIMIT 1)`,
      [max],
    );
    await q.query(`DELETE FROM ${this.s}.pack_files f WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.pack_history h WHERE h.hash = f.hash)`);
  }

  async history(limit: number): Promise<PackEntryJson[]> {
    const rows = await this.db.query<EntryRow>(`SELECT entry FROM ${this.s}.pack_history ORDER BY seq DESC LIMIT $1::int`, [Math.max(0, Math.trunc(limit))]);
    return rows.map((r) => asEntry(r.entry));
  }

  async files(hash: string): Promise<PackFilesJson | null> {
    const [r] = await this.db.query<{ files: unknown; root: string }>(`SELECT files, root FROM ${this.s}.pack_files WHERE hash = $1::text`, [hash]);
    return r ? asFiles(r.files, r.root) : null;
  }

  push(entry: PackEntryJson, files: PackFilesJson, maxHistory: number): Promise<{ pushed: boolean; head: PackEntryJson }> {
    return this.locked(async (q) => {
      const head = await this.head(q);
      if (head && head.hash === entry.hash) return { pushed: false, head };
      const full: PackEntryJson = { ...entry, previous_hash: head ? head.hash : null };
      await q.query(
        `INSERT INTO ${this.s}.pack_files (hash, files, root) VALUES ($1::text, $2::jsonb, $3::text)
         ON CONFLICT (hash) DO UPDATE SET files = EXCLUDED.files, root = EXCLUDED.root`,
        [entry.hash, JSON.stringify(files.files), files.root],
      );
      await q.query(`INSERT INTO ${this.s}.pack_history (id, hash, entry) VALUES ($1::text, $2::text, $3::jsonb)`, [full.id, full.hash, JSON.stringify(full)]);
      await q.query(`INSERT INTO ${this.s}.pack_seen (hash) VALUES ($1::text) ON CONFLICT DO NOTHING`, [entry.hash]);
      await this.trim(q, maxHistory);
      return { pushed: true, head: full };
    });
  }

  append(headId: string, entry: PackEntryJson, maxHistory: number): Promise<'ok' | 'none' | 'conflict'> {
    return this.locked(async (q) => {
      const head = await this.head(q);
      if (!head) return 'none';
      if (head.id !== headId) return 'conflict';
      const [f] = await q.query(`SELECT 1 AS ok FROM ${this.s}.pack_files WHERE hash = $1::text`, [entry.hash]);
      if (!f) return 'conflict';
      await q.query(`INSERT INTO ${this.s}.pack_history (id, hash, entry) VALUES ($1::text, $2::text, $3::jsonb)`, [entry.id, entry.hash, JSON.stringify(entry)]);
      await this.trim(q, maxHistory);
      return 'ok';
    });
  }

  async seen(hash: string): Promise<boolean> {
    const [r] = await this.db.query(`SELECT 1 AS ok FROM ${this.s}.pack_seen WHERE hash = $1::text`, [hash]);
    return r !== undefined;
  }

  async shadow(): Promise<PackEntryJson | null> {
    const [r] = await this.db.query<EntryRow>(`SELECT entry FROM ${this.s}.pack_shadow WHERE slot = 1`);
    return r ? asEntry(r.entry) : null;
  }

  async shadowFiles(id: string): Promise<PackFilesJson | null> {
    const [r] = await this.db.query<{ files: unknown; root: string }>(`SELECT files, root FROM ${this.s}.pack_shadow WHERE slot = 1 AND id = $1::text`, [id]);
    return r ? asFiles(r.files, r.root) : null;
  }

  async setShadow(entry: PackEntryJson, files: PackFilesJson): Promise<void> {
    this.writable();
    await this.db.query(
      `INSERT INTO ${this.s}.pack_shadow (slot, id, entry, files, root) VALUES (1, $1::text, $2::jsonb, $3::jsonb, $4::text)
       ON CONFLICT (slot) DO UPDATE SET id = EXCLUDED.id, entry = EXCLUDED.entry, files = EXCLUDED.files, root = EXCLUDED.root`,
      [entry.id, JSON.stringify(entry), JSON.stringify(files.files), files.root],
    );
  }

  async clearShadow(): Promise<PackEntryJson | null> {
    this.writable();
    const [r] = await this.db.query<EntryRow>(`DELETE FROM ${this.s}.pack_shadow WHERE slot = 1 RETURNING entry`);
    return r ? asEntry(r.entry) : null;
  }

  async overrides(): Promise<PackOverrideJson[]> {
    const rows = await this.db.query<{ body: unknown }>(`SELECT body FROM ${this.s}.pack_overrides ORDER BY rule`);
    return rows.map((r) => (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as PackOverrideJson);
  }

  async setOverride(o: PackOverrideJson, expired: readonly string[]): Promise<void> {
    this.writable();
    await this.db.tx(async (q) => {
      if (expired.length > 0) await q.query(`DELETE FROM ${this.s}.pack_overrides WHERE rule = ANY($1::text[])`, [[...expired]]);
      await q.query(
        `INSERT INTO ${this.s}.pack_overrides (rule, body) VALUES ($1::text, $2::jsonb) ON CONFLICT (rule) DO UPDATE SET body = EXCLUDED.body`,
        [o.rule, JSON.stringify(o)],
      );
    });
  }

  async clearOverride(rule: string): Promise<PackOverrideJson | null> {
    this.writable();
    const [r] = await this.db.query<{ body: unknown }>(`DELETE FROM ${this.s}.pack_overrides WHERE rule = $1::text RETURNING body`, [rule]);
    if (!r) return null;
    return (typeof r.body === 'string' ? JSON.parse(r.body) : r.body) as PackOverrideJson;
  }

  importIfEmpty(data: PackImport): Promise<boolean> {
    return this.locked(async (q) => {
      if (await this.head(q)) return false;
      // Oldest first, so that seq orders them as the source did.
      for (const e of [...data.entries].reverse()) {
        await q.query(`INSERT INTO ${this.s}.pack_history (id, hash, entry) VALUES ($1::text, $2::text, $3::jsonb) ON CONFLICT (id) DO NOTHING`, [
          e.id,
          e.hash,
          JSON.stringify(e),
        ]);
      }
      for (const [hash, f] of Object.entries(data.files)) {
        await q.query(`INSERT INTO ${this.s}.pack_files (hash, files, root) VALUES ($1::text, $2::jsonb, $3::text) ON CONFLICT (hash) DO NOTHING`, [
          hash,
          JSON.stringify(f.files),
          f.root,
        ]);
      }
      for (const hash of new Set([...data.seen, ...data.entries.map((e) => e.hash)])) {
        await q.query(`INSERT INTO ${this.s}.pack_seen (hash) VALUES ($1::text) ON CONFLICT DO NOTHING`, [hash]);
      }
      if (data.shadow && !(await q.query(`SELECT 1 AS ok FROM ${this.s}.pack_shadow`))[0]) {
        await q.query(`INSERT INTO ${this.s}.pack_shadow (slot, id, entry, files, root) VALUES (1, $1::text, $2::jsonb, $3::jsonb, $4::text)`, [
          data.shadow.entry.id,
          JSON.stringify(data.shadow.entry),
          JSON.stringify(data.shadow.files),
          data.shadow.root,
        ]);
      }
      for (const o of data.overrides) {
        await q.query(`INSERT INTO ${this.s}.pack_overrides (rule, body) VALUES ($1::text, $2::jsonb) ON CONFLICT (rule) DO NOTHING`, [o.rule, JSON.stringify(o)]);
      }
      return data.entries.length > 0;
    });
  }
}
