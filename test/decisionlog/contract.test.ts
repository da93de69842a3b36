// The decision log's contract, run unchanged against both back ends: PGlite (embedded, in a worker)
// and the real PostgreSQL (TEST_DATABASE_URL or 127.0.0.1:5432/test; the suite FAILS when it does
// not answer). Each back end works in its own schema (dropped afterwards) and each test in its own
// users, so tests share one log without seeing each other's rows.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDecisionLog, DecisionLogError, migrate, type DecisionLog, type DecisionLogOptions, type LogRow } from '../../decisionlog/index.ts';
import { createPgliteDb, createPostgresDb, type Db } from '../../decisionlog/db.ts';
import { hashOf, testRow } from '../helpers/logrows.ts';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

interface Backend {
  readonly name: 'pglite' | 'postgres';
  /** Options of a log on this back end (a fresh schema and spool each call unless given). */
  setup(): Promise<void>;
  options(extra?: Partial<DecisionLogOptions>): DecisionLogOptions;
  /** A raw connection to the database of `o` (migration checks; for PGlite, close the log first). */
  rawDb(o: DecisionLogOptions): Promise<Db>;
  teardown(): Promise<void>;
}

function postgresBackend(): Backend {
  const schemas: string[] = [];
  const dirs: string[] = [];
  let base = '';
  return {
    name: 'postgres',
    async setup() {
      await requirePostgres();
      base = await mkdtemp(join(tmpdir(), 'vigil-dl-contract-'));
      dirs.push(base);
    },
    options(extra = {}) {
      const schema = extra.schema ?? uniqueSchema('dl');
      schemas.push(schema);
      return { url: postgresUrl(), schema, spoolDir: join(base, schema), flushMs: 10, maintainEveryMs: 0, ...extra };
    },
    async rawDb() {
      return createPostgresDb({ url: postgresUrl(), poolSize: 4, statementTimeoutMs: 10_000 });
    },
    async teardown() {
      for (const s of schemas) await dropSchema(postgresUrl(), s);
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    },
  };
}

function pgliteBackend(): Backend {
  let base = '';
  return {
    name: 'pglite',
    async setup() {
      base = await mkdtemp(join(tmpdir(), 'vigil-dl-contract-lite-'));
    },
    options(extra = {}) {
      // A data directory per schema: a PGlite directory may be open in one instance at a time.
      const schema = extra.schema ?? uniqueSchema('dl');
      return { dataDir: join(base, schema), schema, flushMs: 10, maintainEveryMs: 0, ...extra };
    },
    async rawDb(o) {
      return createPgliteDb(o.dataDir);
    },
    async teardown() {
      await rm(base, { recursive: true, force: true });
    },
  };
}

function strip(r: LogRow): LogRow {
  const features = { ...r.features };
  delete features['user.id'];
  delete features['device.id'];
  delete features['ip.address'];
  return { ...r, id: r.id.toUpperCase(), features };
}

for (const backend of [pgliteBackend(), postgresBackend()]) {
  describe(`decision log contract: ${backend.name}`, () => {
    let log: DecisionLog;
    let opts: DecisionLogOptions;
    const t0 = Date.now() - 2 * HOUR;

    beforeAll(async () => {
      await backend.setup();
      opts = backend.options();
      log = await createDecisionLog(opts);
    });

    afterAll(async () => {
      await log?.close();
      await backend.teardown();
    });

    it('keeps audit entries: newest first, by time and action, limited; refuses malformed ones', async () => {
      const base = Date.now() - HOUR;
      await log.audit.record({ at: base, by: 'alice', action: 'list_add', reason: 'botnet', details: { list: 'vigil:blocked_ips', added: 3 } });
      await log.audit.record({ at: base + 1000, by: 'bob', action: 'override_set', details: { rule: 'new_device', mode: 'off' } });
      await log.audit.record({ at: base + 2000, by: 'admin', action: 'list_remove', details: { list: 'vigil:blocked_ips', removed: 1 } });
      const all = await log.audit.query({ since: base });
      expect(all.map((e) => e.action)).toEqual(['list_remove', 'override_set', 'list_add']);
      expect(all[2]).toEqual({ at: base, by: 'alice', action: 'list_add', reason: 'botnet', details: { list: 'vigil:blocked_ips', added: 3 } });
      expect((await log.audit.query({ since: base, action: 'override_set' })).map((e) => e.by)).toEqual(['bob']);
      expect(await log.audit.query({ since: base, limit: 1 })).toHaveLength(1);
      expect(await log.audit.query({ since: base + 5000 })).toEqual([]);
      for (const bad of [
        { at: base, by: '', action: 'list_add', details: {} },
        { at: base, by: 'x', action: 'DROP TABLE', details: {} },
        { at: Number.NaN, by: 'x', action: 'list_add', details: {} },
        { at: base, by: 'x', action: 'list_add', details: [] as unknown as Record<string, unknown> },
      ]) {
        await expect(log.audit.record(bad)).rejects.toMatchObject({ code: 'LOG_INPUT' });
      }
      expect(await log.audit.query({ since: base })).toHaveLength(3);
    });

    it('keeps the overrides that changed a decision', async () => {
      const row = testRow(t0 + 1500, { user: hashOf('overridden'), overrides: ['new_device'] });
      log.append(row);
      expect((await log.get(row.id))?.overrides).toEqual(['new_device']);
      await log.flush();
      expect((await log.get(row.id))?.overrides).toEqual(['new_device']);
      expect((await log.get(testRow(t0 + 1501).id))).toBeNull();
    });

    it('stores a row and returns it unchanged by id (queued, then written)', async () => {
      const row = testRow(t0 + 1000, {
        user: hashOf('roundtrip'),
        rules: [{ name: 'new_country', action: 'step_up', score: 40, tags: ['ato', 'geo'] }],
        shadow: [{ name: 'new_asn_v2', action: 'block', score: 0, tags: [] }],
        decision: 'step_up',
        score: 40.5,
        prefix: '2001:db8:1::/48',
        asn: 4_200_000_000,
        features: { 'geo.country': 'GB', 'user.id': 'raw-user', 'ip.address': '81.2.69.142', 'device.id': 'd-1', 'model.anomaly': 0.25 },
      });
      log.append(row);
      // Still in memory: found there.
      expect(await log.get(row.id)).toEqual(strip(row));
      await log.flush();
      expect(log.stats.queued).toBe(0);
      const stored = await log.get(row.id);
      expect(stored).toEqual(strip(row));
      expect(stored?.features).not.toHaveProperty('user.id');
      expect(stored?.features).not.toHaveProperty('ip.address');
      expect(await log.get(row.id.toLowerCase())).toEqual(strip(row));
      expect(await log.get('01ARZ3NDEKTSV4RRFFQ69G5FAV')).toBeNull();
      expect(await log.get('not-an-id')).toBeNull();
    });

    it('cleans strings the database would refuse (NUL, unpaired surrogates) instead of losing the row', async () => {
      const row = testRow(t0 + 2000, { user: hashOf('nul'), features: { 'ua.browser': 'Fire\u0000fox', 'ua.os': 'bad\uD800' } });
      log.append(row);
      await log.flush();
      const got = await log.get(row.id);
      expect(got?.features).toEqual({ 'ua.browser': 'Firefox', 'ua.os': 'bad\uFFFD' });
    });

    it('a rule\'s hits include its shadow matches, with and without a user', async () => {
      const carol = hashOf('shadow-carol');
      const shadowHit = testRow(t0 + 3000, { user: carol, shadow: [{ name: 'shadow_only_rule', action: 'block', score: 0, tags: [] }] });
      const other = testRow(t0 + 3001, { user: carol });
      log.append(shadowHit);
      log.append(other);
      await log.flush();
      const ids = (xs: readonly LogRow[]): string[] => xs.map((r) => r.id);
      expect(ids((await log.search({ rule: 'shadow_only_rule' })).rows)).toEqual([shadowHit.id]);
      expect(ids((await log.search({ user: carol, rule: 'shadow_only_rule' })).rows)).toEqual([shadowHit.id]);
      expect(await log.eraseUser(carol)).toBe(2);
      expect((await log.search({ rule: 'shadow_only_rule' })).rows).toEqual([]);
    });

    it('searches by user, rule, decision and time, newest first, with cursor paging', async () => {
      const alice = hashOf('search-alice');
      const bob = hashOf('search-bob');
      const rows: LogRow[] = [];
      for (let i = 0; i < 9; i++) {
        const hit = i % 3 === 0;
        rows.push(
          testRow(t0 + 10_000 + i * 60_000, {
            user: i % 2 === 0 ? alice : bob,
            decision: hit ? 'block' : i % 3 === 1 ? 'step_up' : 'allow',
            rules: hit ? [{ name: 'search_rule_x', action: 'block', score: 90, tags: [] }] : [{ name: 'search_rule_y', action: null, score: 5, tags: [] }],
          }),
        );
      }
      for (const r of rows) log.append(r);
      await log.flush();
      const ids = (xs: readonly LogRow[]): string[] => xs.map((r) => r.id);
      const newestFirst = (xs: readonly LogRow[]): string[] => ids([...xs].sort((a, b) => b.time - a.time));

      const a = await log.search({ user: alice });
      expect(ids(a.rows)).toEqual(newestFirst(rows.filter((r) => r.user === alice)));
      expect(a.nextCursor).toBeNull();

      const x = await log.search({ rule: 'search_rule_x' });
      expect(ids(x.rows)).toEqual(newestFirst(rows.filter((r) => r.rules[0]?.name === 'search_rule_x')));

      const ax = await log.search({ user: alice, rule: 'search_rule_x' });
      expect(ids(ax.rows)).toEqual(newestFirst(rows.filter((r) => r.user === alice && r.rules[0]?.name === 'search_rule_x')));

      const xb = await log.search({ rule: 'search_rule_y', decision: 'step_up' });
      expect(ids(xb.rows)).toEqual(newestFirst(rows.filter((r) => r.rules[0]?.name === 'search_rule_y' && r.decision === 'step_up')));

      const since = t0 + 10_000 + 2 * 60_000;
      const until = t0 + 10_000 + 6 * 60_000;
      const win = await log.search({ user: bob, since, until });
      expect(ids(win.rows)).toEqual(newestFirst(rows.filter((r) => r.user === bob && r.time >= since && r.time < until)));
      const blocks = await log.search({ decision: 'block', since: t0 + 10_000, until: t0 + 10_000 + 9 * 60_000 });
      expect(ids(blocks.rows)).toEqual(newestFirst(rows.filter((r) => r.decision === 'block')));

      // Paging: three pages of 2, 2 and 1 for bob's... and for everything of both users, pages of 2.
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const p = await log.search({ since: t0 + 10_000, until: t0 + 10_000 + 9 * 60_000, limit: 2, ...(cursor ? { cursor } : {}) });
        expect(p.rows.length).toBeLessThanOrEqual(2);
        seen.push(...ids(p.rows));
        cursor = p.nextCursor ?? undefined;
        pages++;
      } while (cursor);
      expect(pages).toBe(5);
      expect(seen).toEqual(newestFirst(rows));

      const rulePages: string[] = [];
      let rc: string | undefined;
      do {
        const p = await log.search({ rule: 'search_rule_y', limit: 4, ...(rc ? { cursor: rc } : {}) });
        rulePages.push(...ids(p.rows));
        rc = p.nextCursor ?? undefined;
      } while (rc);
      expect(rulePages).toEqual(newestFirst(rows.filter((r) => r.rules[0]?.name === 'search_rule_y')));
    });

    it("keeps a user's security log: coarse fields of their decisions, newest first, paged", async () => {
      const user = hashOf('security-log');
      const login = testRow(t0 + 70_000, { user, city: 'London' });
      const change = testRow(t0 + 71_000, {
        user,
        type: 'account_change',
        change: 'mfa_remove',
        decision: 'step_up',
        notices: ['session_moved', 'sensitive_change'],
        country: 'SE',
        city: 'Linköping',
        request: { browser: 'Chrome', os: 'Windows' },
      });
      const recovery = testRow(t0 + 72_000, { user, type: 'recovery', decision: 'block', country: null, request: {} });
      log.append(login);
      log.append(change);
      log.append(recovery);
      log.append(testRow(t0 + 72_500, { user: hashOf('security-log-other') }));
      // Read back by id while queued, then from the table: the new fields travel with the row.
      expect(await log.get(change.id)).toMatchObject({ city: 'Linköping', change: 'mfa_remove', notices: ['session_moved', 'sensitive_change'] });
      await log.flush();
      expect(await log.get(change.id)).toEqual(strip(change));
      const all = await log.securityLog({ user });
      expect(all).toEqual({
        entries: [
          { time: recovery.time, type: 'recovery', change: null, decision: 'block', country: null, city: null, browser: null, os: null, notices: [] },
          { time: change.time, type: 'account_change', change: 'mfa_remove', decision: 'step_up', country: 'SE', city: 'Linköping', browser: 'Chrome', os: 'Windows', notices: ['session_moved', 'sensitive_change'] },
          { time: login.time, type: 'login', change: null, decision: 'allow', country: 'GB', city: 'London', browser: 'Firefox', os: 'Linux', notices: [] },
        ],
        nextCursor: null,
      });
      const p1 = await log.securityLog({ user, limit: 2 });
      expect(p1.entries.map((e) => e.time)).toEqual([recovery.time, change.time]);
      const p2 = await log.securityLog({ user, limit: 2, cursor: p1.nextCursor! });
      expect(p2).toEqual({ entries: [all.entries[2]], nextCursor: null });
      for (const q of [{ user, limit: 0 }, { user, limit: 101 }, { user, limit: 1.5 }, { user, cursor: 'nope' }, { user: 'has spaces' }]) {
        await expect(log.securityLog(q)).rejects.toMatchObject({ code: 'LOG_BAD_QUERY' });
      }
      expect(await log.eraseUser(user)).toBe(3);
      expect(await log.securityLog({ user })).toEqual({ entries: [], nextCursor: null });
    });

    it('refuses a row whose security-log fields are malformed', async () => {
      const before = log.stats.refused;
      const user = hashOf('security-log-bad');
      for (const o of [{ notices: ['Bad Code'] }, { notices: 'new_device' as unknown as string[] }, { change: 'DROP TABLE' }, { city: 'x'.repeat(300) }]) {
        log.append(testRow(t0 + 73_000, { user, ...o }));
      }
      expect(log.stats.refused).toBe(before + 4);
      await log.flush();
      expect((await log.securityLog({ user })).entries).toEqual([]);
    });

    it('refuses bad search arguments with LOG_BAD_QUERY', async () => {
      const bad = [{ limit: 0 }, { limit: 1001 }, { limit: 1.5 }, { cursor: 'nope' }, { user: 'has spaces' }, { rule: "x'; drop" }, { since: Number.NaN }];
      for (const q of bad) {
        await expect(log.search(q)).rejects.toMatchObject({ code: 'LOG_BAD_QUERY' });
      }
      await expect(log.search({ decision: 'maybe' as 'allow' })).rejects.toBeInstanceOf(DecisionLogError);
    });

    it('records outcomes on queued and written rows; the first outcome wins', async () => {
      const user = hashOf('outcomes');
      const queued = testRow(t0 + 20_000, { user });
      const written = testRow(t0 + 21_000, { user });
      log.append(written);
      await log.flush();
      log.append(queued);
      expect(await log.setOutcome(queued.id, 'challenge_passed', t0 + 30_000)).toBe('ok');
      expect(await log.setOutcome(queued.id, 'failed', t0 + 31_000)).toBe('already');
      expect(await log.setOutcome(written.id, 'succeeded', t0 + 32_000)).toBe('ok');
      expect(await log.setOutcome(written.id, 'failed', t0 + 33_000)).toBe('already');
      expect(await log.setOutcome(written.id, 'succeeded', t0 + 32_000)).toBe('already');
      expect(await log.setOutcome('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'failed', t0)).toBe('not_found');
      expect(await log.setOutcome('garbage', 'failed', t0)).toBe('not_found');
      await expect(log.setOutcome(written.id, 'maybe' as 'failed', t0)).rejects.toMatchObject({ code: 'LOG_BAD_QUERY' });
      await log.flush();
      expect(await log.get(queued.id)).toMatchObject({ outcome: 'challenge_passed', outcomeAt: t0 + 30_000 });
      expect(await log.get(written.id)).toMatchObject({ outcome: 'succeeded', outcomeAt: t0 + 32_000 });
      expect(await log.setOutcome(queued.id, 'failed', t0 + 34_000)).toBe('already');
      const page = await log.search({ user });
      expect(page.rows.map((r) => r.outcome)).toEqual(['succeeded', 'challenge_passed']);
    });

    it('erases a user from the table and the queue, and says how many rows', async () => {
      const user = hashOf('erase-me');
      const other = hashOf('erase-other');
      for (let i = 0; i < 5; i++) log.append(testRow(t0 + 40_000 + i, { user, rules: [{ name: 'erase_rule', action: null, score: 1, tags: [] }] }));
      log.append(testRow(t0 + 40_100, { user: other }));
      await log.flush();
      const queued = testRow(t0 + 40_200, { user });
      log.append(queued);
      expect(await log.setOutcome(queued.id, 'failed', t0 + 40_300)).toBe('ok');
      expect(await log.eraseUser(user)).toBe(6);
      await log.flush();
      expect((await log.search({ user })).rows).toEqual([]);
      expect((await log.search({ rule: 'erase_rule' })).rows).toEqual([]);
      expect(await log.get(queued.id)).toBeNull();
      expect((await log.search({ user: other })).rows).toHaveLength(1);
      expect(await log.eraseUser(user)).toBe(0);
      await expect(log.eraseUser('not a hash')).rejects.toMatchObject({ code: 'LOG_BAD_QUERY' });
    });

    it('scans a time range oldest first, in pages', async () => {
      const user = hashOf('scan');
      const start = t0 + 3_000_000;
      const rows = Array.from({ length: 25 }, (_, i) => testRow(start + i * 1000, { user, features: { i } }));
      for (const r of [...rows].reverse()) log.append(r);
      await log.flush();
      const got: LogRow[] = [];
      // scanPage is 1000 in the shared log; reopened with pages of 7 it reads the same rows (and
      // shows that what was written survives a restart of the log).
      await log.close();
      log = await createDecisionLog({ ...opts, scanPage: 7 });
      for await (const r of log.scan({ since: start, until: start + 25_000 })) got.push(r);
      expect(got.map((r) => r.id)).toEqual(rows.map((r) => r.id.toUpperCase()));
      const part: LogRow[] = [];
      for await (const r of log.scan({ since: start + 5000, until: start + 12_000 })) part.push(r);
      expect(part.map((r) => r.features.i)).toEqual([5, 6, 7, 8, 9, 10, 11]);
      expect(() => log.scan({ since: Number.NaN })).toThrow(DecisionLogError);
    });

    it('refuses invalid rows at append with a counted error, and keeps writing good ones', async () => {
      const before = log.stats.refused;
      const good = testRow(t0 + 50_000, { user: hashOf('bad-input') });
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      const bad: unknown[] = [
        null,
        { ...testRow(t0 + 50_001), id: 'nope' },
        { ...testRow(t0 + 50_002), time: t0 + 50_003 },
        testRow(t0 + 50_004, { user: '81.2.69.142' }),
        testRow(t0 + 50_005, { ip: '81.2.69.142' }),
        testRow(t0 + 50_006, { prefix: '81.2.69.142/32' }),
        testRow(t0 + 50_007, { prefix: '2001:db8::1/64' }),
        testRow(t0 + 50_008, { score: Number.NaN }),
        testRow(t0 + 50_009, { decision: 'deny' as 'block' }),
        testRow(t0 + 50_010, { ctx: cyclic }),
        testRow(t0 + 50_011, { request: { n: 10n } as unknown as Record<string, unknown> }),
        testRow(t0 + 50_012, { features: { x: { nested: true } as unknown as string } }),
        testRow(t0 + 50_013, { rules: [{ name: 'has space', action: null, score: 1, tags: [] }] }),
        testRow(t0 + 50_014, { country: 'Great Britain' }),
        testRow(Date.now() - 400 * DAY),
      ];
      for (const b of bad) expect(() => log.append(b as LogRow)).not.toThrow();
      log.append(good);
      log.append(good);
      await log.flush();
      expect(log.stats.refused - before).toBe(bad.length + 1);
      expect(log.stats.lastError).toMatch(/refused/);
      expect(await log.get(good.id)).toEqual(strip(good));
      expect(await log.ping()).toBe(true);
    });

    it('migrations are recorded once and re-running them (even concurrently) changes nothing', async () => {
      await log.close();
      const db = await backend.rawDb(opts);
      const schema = opts.schema!;
      try {
        expect(await migrate(db, schema)).toEqual([]);
        const fresh = backend.options().schema!;
        const both = await Promise.all([migrate(db, fresh), migrate(db, fresh)]);
        // Every migration once, whichever of the two concurrent runs applied it.
        expect(both.flat()).toEqual([1, 2, 3, 4, 5]);
        const rows = await db.query<{ version: number; name: string }>(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`);
        expect(rows).toEqual([
          { version: 1, name: 'decisions' },
          { version: 2, name: 'audit' },
          { version: 3, name: 'overrides' },
          { version: 4, name: 'packs' },
          { version: 5, name: 'security_log' },
        ]);
      } finally {
        await db.close();
        log = await createDecisionLog(opts);
      }
    });

    it('a read-only log reads the same table, refuses appends and maintenance', async () => {
      const user = hashOf('read-only');
      const row = testRow(t0 + 60_000, { user });
      log.append(row);
      await log.flush();
      // PGlite's data directory takes one opener at a time; PostgreSQL takes both at once.
      if (backend.name === 'pglite') await log.close();
      const ro = await createDecisionLog({ ...opts, readOnly: true });
      try {
        expect(await ro.get(row.id)).toEqual(strip(row));
        expect((await ro.search({ user })).rows.map((r) => r.id)).toEqual([row.id]);
        const before = ro.stats.refused;
        ro.append(testRow(t0 + 60_001, { user }));
        expect(ro.stats.refused).toBe(before + 1);
        await expect(ro.maintain()).rejects.toMatchObject({ code: 'LOG_CONFIG' });
      } finally {
        await ro.close();
        if (backend.name === 'pglite') log = await createDecisionLog(opts);
      }
    });

    it('maintain creates partitions ahead and drops those past the retention', async () => {
      // The suite's own log, reopened with a three-day retention (a fresh PGlite costs seconds).
      await log.close();
      log = await createDecisionLog({ ...opts, retentionDays: 3 });
      const now = Date.now();
      const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
      const parts = await log.partitions();
      for (let i = 0; i <= 3; i++) expect(parts).toContain(day(now + i * DAY));
      const old = testRow(now - 2 * DAY, { user: hashOf('maintain') });
      log.append(old);
      await log.flush();
      await log.audit.record({ at: now - 2 * DAY, by: 'admin', action: 'model_reload', details: { version: 'old' } });
      await log.audit.record({ at: now + 2 * DAY, by: 'admin', action: 'model_reload', details: { version: 'new' } });
      expect(await log.partitions()).toContain(day(old.time));
      expect(await log.get(old.id)).not.toBeNull();
      // Four days later the old row's day lies past a three-day retention.
      await log.maintain(now + 4 * DAY);
      const after = await log.partitions();
      expect(after).not.toContain(day(old.time));
      expect(after).toContain(day(now + 7 * DAY));
      expect(after[0]! >= day(now + DAY)).toBe(true);
      expect(await log.get(old.id)).toBeNull();
      // The audit log follows the same retention.
      expect((await log.audit.query({ action: 'model_reload' })).map((e) => e.details.version)).toEqual(['new']);
    });
  });
}

describe('decision log: PGlite in memory', () => {
  it('works without a data directory and forgets at close', async () => {
    const log = await createDecisionLog({ flushMs: 5, maintainEveryMs: 0 });
    try {
      expect(log.kind).toBe('pglite');
      const row = testRow(Date.now() - 1000);
      log.append(row);
      await log.flush();
      expect(log.stats.written).toBe(1);
      expect((await log.search({ user: row.user })).rows.map((r) => r.id)).toEqual([row.id]);
    } finally {
      await log.close();
    }
    await expect(log.get('01ARZ3NDEKTSV4RRFFQ69G5FAV')).rejects.toMatchObject({ code: 'LOG_CLOSED' });
  });
});
