// `--from-log` of `vigil replay` and `vigil train`: the decisions the decision log kept for a time
// range, read in time order (read-only: no migration, no spool, nothing written) and written as
// `{"event","features"}` lines to a temporary file, which the command then reads like any events
// file (replay's fast path and --workers included). The log is VIGIL_DECISION_LOG (PostgreSQL) or the
// PGlite database in VIGIL_DATA_DIR (which a running server holds open: stop it first). A decision's
// kept features are those its pack and the model read, never a raw identifier: a rule reading
// user.id, device.id or ip.address sees them missing, and so does one reading a feature the pack of
// the day did not read. An outcome labels a training row: succeeded or challenge_passed → "legit",
// failed or challenge_failed → "failed", none → no label.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { InvalidArgumentError } from 'commander';
import type { ArgParser } from './args.ts';

/** `--since`/`--until`: a duration before now (`24h`, `30d`, `90m`) or an ISO 8601 date-time. */
export function instantArg(flag: string, now: () => number = Date.now): ArgParser<number> {
  return (value) => {
    const rel = /^(\d{1,6})(m|h|d)$/.exec(value);
    if (rel) return now() - Number(rel[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
    const t = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(t)) throw new InvalidArgumentError(`${flag} must be a duration ago (24h, 30d) or an ISO date-time, got ${JSON.stringify(value)}`);
    return t;
  };
}

export interface FromLog {
  readonly path: string;
  readonly rows: number;
  cleanup(): Promise<void>;
}

const LABELS: Readonly<Record<string, string>> = { succeeded: 'legit', challenge_passed: 'legit', failed: 'failed', challenge_failed: 'failed' };

/** Export the log's decisions in [since, until) to a temporary NDJSON file. Throws with a message for people. */
export async function exportFromLog(
  range: { readonly since: number; readonly until?: number },
  env: Readonly<Record<string, string | undefined>>,
): Promise<FromLog> {
  const url = env.VIGIL_DECISION_LOG;
  const dataDir = env.VIGIL_DATA_DIR;
  if (!url && !dataDir) {
    throw new Error('no decision log to read: set VIGIL_DECISION_LOG (postgres://…) or VIGIL_DATA_DIR (the server\'s embedded database)');
  }
  const { createDecisionLog } = await import('../decisionlog/index.ts');
  const dir = await mkdtemp(join(tmpdir(), 'vigil-from-log-'));
  const path = join(dir, 'events.ndjson');
  const log = await createDecisionLog({
    ...(url ? { url } : { dataDir }),
    ...(env.VIGIL_DECISION_LOG_SCHEMA ? { schema: env.VIGIL_DECISION_LOG_SCHEMA } : {}),
    readOnly: true,
    requireDb: true,
    maintainEveryMs: 0,
  });
  const out = createWriteStream(path);
  let rows = 0;
  try {
    for await (const row of log.scan({ since: range.since, ...(range.until !== undefined ? { until: range.until } : {}) })) {
      const label = row.outcome === null ? undefined : LABELS[row.outcome];
      const line = JSON.stringify({ event: row.type, features: row.features, ...(label !== undefined ? { label } : {}) }) + '\n';
      if (!out.write(line)) await once(out, 'drain');
      rows++;
    }
    out.end();
    await once(out, 'finish');
  } catch (e) {
    out.destroy();
    await rm(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await log.close();
  }
  return { path, rows, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
