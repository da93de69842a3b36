// The decision log's promise that nothing answered is lost, tested against a real, throwaway
// PostgreSQL that is killed, restarted and paused under load: every appended row ends up in the
// table; the spool keeps its bound and counts what it drops; a new log on the same spool directory
// replays it; a hung database never slows append(). Also the spool directory's ownership rules.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecisionLog, type DecisionLog, type LogRow } from '../../decisionlog/index.ts';
import { ulidToUuid } from '../../decisionlog/row.ts';
import { Spool } from '../../decisionlog/spool.ts';
import { hashOf, testRow } from '../helpers/logrows.ts';
import { startPostgresServer, uniqueSchema, type PostgresServer } from '../helpers/postgres.ts';
import { freePort } from '../helpers/redis.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Ids (as uuids) of every row in `schema`'s decisions table, and the outcomes stored. */
async function stored(url: string, schema: string): Promise<{ ids: Set<string>; outcomes: Map<string, number> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const ids = new Set((await c.query<{ id: string }>(`SELECT id::text AS id FROM "${schema}".decisions`)).rows.map((r) => r.id));
    const outcomes = new Map(
      (await c.query<{ id: string; outcome: number }>(`SELECT id::text AS id, outcome FROM "${schema}".decision_outcomes`)).rows.map((r) => [r.id, r.outcome]),
    );
    return { ids, outcomes };
  } finally {
    await c.end();
  }
}

async function ndjsonFiles(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.ndjson'));
}

describe('decision log spool (throwaway PostgreSQL)', () => {
  let server: PostgresServer;
  let base: string;
  const logs: DecisionLog[] = [];

  beforeAll(async () => {
    server = await startPostgresServer();
    base = await mkdtemp(join(tmpdir(), 'vigil-dl-spool-'));
  });

  afterAll(async () => {
    for (const l of logs) await l.close().catch(() => undefined);
    await server?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('loses nothing when PostgreSQL is killed mid-load and comes back', async () => {
    const schema = uniqueSchema('kill');
    const log = await createDecisionLog({ url: server.url, schema, spoolDir: join(base, schema), flushMs: 10, batchMax: 250, maintainEveryMs: 0 });
    logs.push(log);
    const appended: LogRow[] = [];
    let maxSpooled = 0;
    let slowestAppendMs = 0;
    const t0 = Date.now() - 60_000;
    const start = Date.now();
    let killed = false;
    let restarting: Promise<void> | null = null;
    // ~4,000 rows/s for 3.5 s; the server dies at 0.7 s and is started again at 1.7 s.
    while (Date.now() - start < 3500) {
      const a = performance.now();
      for (let i = 0; i < 20; i++) {
        const r = testRow(t0 + appended.length, { user: hashOf(`kill-${appended.length % 97}`) });
        appended.push(r);
        log.append(r);
      }
      slowestAppendMs = Math.max(slowestAppendMs, performance.now() - a);
      maxSpooled = Math.max(maxSpooled, log.stats.spooled);
      const t = Date.now() - start;
      if (!killed && t > 700) {
        killed = true;
        await server.kill();
      }
      if (killed && !restarting && t > 1700) restarting = server.restart();
      await sleep(5);
    }
    await restarting;
    await log.flush();
    const s = log.stats;
    expect(s.dropped).toBe(0);
    expect(s.refused).toBe(0);
    expect(maxSpooled).toBeGreaterThan(0);
    expect(s.spooled).toBe(0);
    expect(s.queued).toBe(0);
    expect(s.writeErrors).toBeGreaterThan(0);
    const { ids } = await stored(server.url, schema);
    const missing = appended.filter((r) => !ids.has(ulidToUuid(r.id)));
    expect(missing.map((r) => r.id)).toEqual([]);
    expect(ids.size).toBe(appended.length);
    expect(slowestAppendMs).toBeLessThan(250);
    expect(await ndjsonFiles(join(base, schema))).toEqual([]);
  });

  it('keeps the spool within its bound, counts what it drops, and answers from it while the database is away', async () => {
    const port = await freePort();
    const schema = uniqueSchema('bound');
    const dir = join(base, schema);
    const log = await createDecisionLog({ url: `postgres://postgres@127.0.0.1:${port}/postgres`, schema, spoolDir: dir, spoolMaxBytes: 20_000, flushMs: 5, maintainEveryMs: 0 });
    logs.push(log);
    expect(log.stats.up).toBe(false);
    expect(await log.ping()).toBe(false);
    const rows = Array.from({ length: 60 }, (_, i) => testRow(Date.now() - 10_000 + i, { user: hashOf(`bound-${i % 2}`) }));
    for (const r of rows) log.append(r);
    await log.flush();
    const s = log.stats;
    expect(s.spooled).toBeGreaterThan(0);
    expect(s.dropped).toBeGreaterThan(0);
    expect(s.spooled + s.dropped).toBe(rows.length);
    expect(s.spoolBytes).toBeLessThanOrEqual(20_000);
    const first = rows[0]!;
    expect(await log.get(first.id)).toMatchObject({ id: first.id, user: first.user });
    expect(await log.setOutcome(first.id, 'failed', Date.now())).toBe('ok');
    expect(await log.setOutcome(first.id, 'succeeded', Date.now())).toBe('already');
    expect(await log.get(first.id)).toMatchObject({ outcome: 'failed' });
    // Neither in memory nor spooled, and the database does not answer: the caller is told so.
    await expect(log.get(rows[rows.length - 1]!.id)).rejects.toMatchObject({ code: 'LOG_UNAVAILABLE' });
    const spooledBefore = log.stats.spooled;
    await expect(log.eraseUser(hashOf('bound-1'))).rejects.toMatchObject({ code: 'LOG_UNAVAILABLE' });
    expect(log.stats.spooled).toBeLessThan(spooledBefore);
    expect(log.stats.spooled).toBe(rows.slice(0, spooledBefore).filter((r) => r.user === hashOf('bound-0')).length);
    await log.close();
  });

  it('a new log on the same spool directory replays it (outcomes and erasures included)', async () => {
    const schema = uniqueSchema('replay');
    const dir = join(base, schema);
    // Create the schema while the server is up, then take the server away.
    const first = await createDecisionLog({ url: server.url, schema, spoolDir: dir, flushMs: 5, maintainEveryMs: 0 });
    await server.kill();
    const rows = Array.from({ length: 300 }, (_, i) => testRow(Date.now() - 50_000 + i, { user: hashOf(`replay-${i % 3}`) }));
    for (const r of rows) first.append(r);
    await first.flush();
    expect(first.stats.spooled).toBe(rows.length);
    expect(await first.setOutcome(rows[0]!.id, 'challenge_failed', Date.now())).toBe('ok');
    await expect(first.eraseUser(hashOf('replay-2'))).rejects.toMatchObject({ code: 'LOG_UNAVAILABLE' });
    await first.close();
    expect((await ndjsonFiles(dir)).length).toBeGreaterThan(0);

    await server.restart();
    const second = await createDecisionLog({ url: server.url, schema, spoolDir: dir, flushMs: 5, maintainEveryMs: 0 });
    logs.push(second);
    await second.flush();
    expect(second.stats.spooled).toBe(0);
    const { ids, outcomes } = await stored(server.url, schema);
    const kept = rows.filter((r) => r.user !== hashOf('replay-2'));
    expect(ids.size).toBe(kept.length);
    for (const r of kept) expect(ids.has(ulidToUuid(r.id))).toBe(true);
    expect(outcomes.get(ulidToUuid(rows[0]!.id))).toBe(3);
    expect(await second.get(rows[0]!.id)).toMatchObject({ outcome: 'challenge_failed' });
    expect(await ndjsonFiles(dir)).toEqual([]);
  });

  it('a hung database never slows append(); what it cannot take goes to the spool and is written later', async () => {
    const schema = uniqueSchema('hung');
    const log = await createDecisionLog({
      url: server.url, schema, spoolDir: join(base, schema), flushMs: 5, batchMax: 100, queueMax: 1000, statementTimeoutMs: 500, maintainEveryMs: 0,
    });
    logs.push(log);
    await server.pause();
    const rows: LogRow[] = [];
    let slowest = 0;
    let maxSpooled = 0;
    try {
      for (let burst = 0; burst < 30; burst++) {
        const a = performance.now();
        for (let i = 0; i < 100; i++) {
          const r = testRow(Date.now() - 30_000 + rows.length, { user: hashOf(`hung-${i}`) });
          rows.push(r);
          log.append(r);
        }
        slowest = Math.max(slowest, performance.now() - a);
        // ~3,300 rows/s: past queueMax the rows must reach the spool, whose writes (each fsync'ed)
        // keep up with that even on a busy machine; the memory bound is never exceeded.
        await sleep(30);
        maxSpooled = Math.max(maxSpooled, log.stats.spooled);
        expect(log.stats.queued).toBeLessThanOrEqual(2 * 1000);
      }
      // Past queueMax the rows went to disk while the database hung.
      expect(maxSpooled).toBeGreaterThan(0);
      expect(slowest).toBeLessThan(250);
    } finally {
      await server.resume();
    }
    await log.flush();
    expect(log.stats.dropped).toBe(0);
    const { ids } = await stored(server.url, schema);
    expect(rows.filter((r) => !ids.has(ulidToUuid(r.id))).map((r) => r.id)).toEqual([]);
  });
});

describe('spool directory ownership', () => {
  it('a second owner takes <dir>-1, and an orphaned sibling is adopted at the next start', async () => {
    const base = await mkdtemp(join(tmpdir(), 'vigil-dl-own-'));
    const dir = join(base, 'spool');
    try {
      const a = await Spool.open({ dir, maxBytes: 1 << 20 });
      const b = await Spool.open({ dir, maxBytes: 1 << 20 });
      expect(a.dir).toBe(dir);
      expect(b.dir).toBe(`${dir}-1`);
      const r = testRow(Date.now());
      await b.append([{ id: r.id, user: r.user, json: JSON.stringify({ k: 'r', id: r.id, user_h: r.user }), outcome: null, outcomeAt: null }]);
      await a.close();
      await b.close();
      const c = await Spool.open({ dir, maxBytes: 1 << 20 });
      expect(c.dir).toBe(dir);
      expect(c.rows).toBe(1);
      expect(c.has(r.id)).toBe(true);
      expect(await readdir(base)).toEqual(['spool']);
      await c.close();
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
