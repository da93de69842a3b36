// Versioned schema migrations for everything Vigil keeps in its database (the decision log now; the
// audit log, pack history and security log later add files): numbered SQL files `NNN_name.sql` in
// decisionlog/migrations/, applied in order in one transaction at start, recorded in
// `<schema>.schema_migrations`. A transaction-scoped advisory lock makes two instances starting at
// once take turns (the second finds everything applied). Files run with search_path set to the
// schema, so they name tables unqualified.
import { assetPath } from '../common/paths.ts';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { errorMessage } from '../common/errors.ts';
import type { Db } from './db.ts';
import { DecisionLogError } from './errors.ts';
import type { DecisionLogLogger } from './types.ts';

// SQL files are not compiled: found from the package root in both layouts (common/paths.ts).
export const MIGRATIONS_DIR = assetPath('decisionlog/migrations') + '/';

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  readonly checksum: string;
}

const FILE_RE = /^(\d{3,})_([a-z0-9_]+)\.sql$/;
const SCHEMA_RE = /^[a-z_][a-z0-9_]{0,62}$/;

export function checkSchemaName(schema: string): string {
  if (!SCHEMA_RE.test(schema)) {
    throw new DecisionLogError('LOG_CONFIG', `schema must match ${SCHEMA_RE.source}, got ${JSON.stringify(schema)}`);
  }
  return schema;
}

/** A quoted identifier (names here are already restricted to [a-z0-9_]). */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const m = FILE_RE.exec(file);
    if (!m) continue;
    const sql = await readFile(`${dir}/${file}`, 'utf8');
    out.push({ version: Number(m[1]), name: m[2] ?? file, sql, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16) });
  }
  out.sort((a, b) => a.version - b.version);
  for (let i = 1; i < out.length; i++) {
    if (out[i]?.version === out[i - 1]?.version) throw new DecisionLogError('LOG_MIGRATION', `two migrations numbered ${out[i]?.version}`);
  }
  return out;
}

/** The advisory lock key of a schema's migrations and partition changes (a signed 64-bit integer). */
export function lockKey(schema: string, what: string): string {
  return createHash('sha256').update(`vigil:${what}:${schema}`).digest().readBigInt64BE(0).toString();
}

/**
 * Applies the migrations `schema` has not seen, in order, in one transaction. Returns the versions
 * applied. A changed file whose version was already applied is reported (logged), never re-run.
 */
export async function migrate(db: Db, schema: string, opts: { dir?: string; logger?: DecisionLogLogger } = {}): Promise<number[]> {
  checkSchemaName(schema);
  const migrations = await loadMigrations(opts.dir);
  const s = ident(schema);
  return db.tx(async (q) => {
    await q.query(`SELECT pg_advisory_xact_lock($1::bigint)`, [lockKey(schema, 'migrate')]);
    await q.exec(`CREATE SCHEMA IF NOT EXISTS ${s};
      CREATE TABLE IF NOT EXISTS ${s}.schema_migrations (
        version    integer     PRIMARY KEY,
        name       text        NOT NULL,
        checksum   text        NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      );`);
    const done = new Map<number, string>();
    for (const r of await q.query<{ version: number; checksum: string }>(`SELECT version, checksum FROM ${s}.schema_migrations`)) {
      done.set(r.version, r.checksum);
    }
    const applied: number[] = [];
    for (const m of migrations) {
      const seen = done.get(m.version);
      if (seen !== undefined) {
        if (seen !== m.checksum) {
          opts.logger?.warn({ schema, version: m.version, name: m.name }, 'decision log: an applied migration file has changed since');
        }
        continue;
      }
      try {
        await q.exec(`SET LOCAL search_path TO ${s}, pg_catalog;\n${m.sql}`);
      } catch (err) {
        throw new DecisionLogError('LOG_MIGRATION', `migration ${m.version}_${m.name} failed: ${errorMessage(err)}`, { cause: err });
      }
      await q.query(`INSERT INTO ${s}.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`, [m.version, m.name, m.checksum]);
      applied.push(m.version);
    }
    if (applied.length > 0) opts.logger?.info({ schema, applied }, 'decision log: migrations applied');
    return applied;
  });
}
