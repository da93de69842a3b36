// Test helpers for the API: a log sink that keeps pino lines, a small Engine that evaluates the
// active pack from the event's own fields (no signal sources), and an app factory wiring them with
// the real pack manager and the real DSL compiler.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Registry } from 'prom-client';
import { ulid } from 'ulid';
import { createApp } from '../../api/app.ts';
import { createLogger, type Logger } from '../../api/logging.ts';
import { createMetrics, type VigilMetrics } from '../../api/metrics.ts';
import { evaluateRecord } from '../../dsl/index.ts';
import {
  checkPackFiles,
  checkPackPath,
  createMemoryPackRepository,
  createPackManager,
  type PackManager,
  type PackRepository,
} from '../../engine/packs/index.ts';
import { createMemoryAudit, type AuditEntry, type AuditLog } from '../../engine/audit.ts';
import { createLiveLists } from '../../engine/lists.ts';
import type { Engine, EvaluateResult, Outcome, StoredDecision, VigilEvent } from '../../engine/types.ts';
import { createMemoryStore, type CounterTarget } from '../../features/store/index.ts';
import { VIGIL_SCHEME } from '../../features/catalog.ts';

export const FIXTURES = new URL('./fixtures/packs/', import.meta.url).pathname;
export const GOOD_PACK = join(FIXTURES, 'good');
export const BROKEN_PACK = join(FIXTURES, 'broken');

export interface LogSink {
  readonly lines: Record<string, unknown>[];
  readonly logger: Logger;
}

export function logSink(): LogSink {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: {
      write(s: string) {
        for (const l of s.split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      },
    },
  });
  return { lines, logger };
}

/** Every file of a fixture directory as a PackFiles map. */
export function readFiles(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p)] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

export interface TestEngine extends Engine {
  readyState: { ok: boolean };
  readonly decisions: Map<string, StoredDecision>;
  readonly erased: string[];
  readonly events: VigilEvent[];
  /** clearCounters calls, in order. */
  readonly cleared: CounterTarget[];
}

/**
 * Evaluates the active pack on `event.type`, `user.id`, `user.mfa`, `ip.address`, `device.id`; live
 * lists are the real ones over an in-process store (not consulted by evaluate).
 */
export function testEngine(packs: Pick<PackManager, 'current'>): TestEngine {
  const decisions = new Map<string, StoredDecision>();
  const erased: string[] = [];
  const events: VigilEvent[] = [];
  const cleared: CounterTarget[] = [];
  const readyState = { ok: true };
  const listStore = createMemoryStore({ hashSecret: 'test-engine-lists' });
  const lists = createLiveLists({ store: listStore, packs: () => packs.current(), sweepMs: 0 });
  return {
    readyState,
    decisions,
    erased,
    events,
    cleared,
    lists,
    async clearCounters(target) {
      cleared.push(target);
      return 2;
    },
    async evaluate(ev, opts) {
      events.push(ev);
      const active = packs.current();
      if (!active) throw new Error('no pack');
      const features: Record<string, unknown> = { 'event.type': ev.type, 'user.id': ev.userId, 'ip.address': ev.ip };
      if (ev.mfa !== undefined) features['user.mfa'] = ev.mfa;
      if (ev.deviceId !== undefined) features['device.id'] = ev.deviceId;
      const r = evaluateRecord(active.pack, ev.type, features, { scheme: VIGIL_SCHEME });
      if (!r.ok) throw new Error(r.errors.join('; '));
      const result: EvaluateResult = {
        decision_id: ulid(),
        decision: r.decision.decision,
        score: r.decision.score,
        rules: r.decision.rules,
        shadow: r.decision.shadow,
        notices: r.decision.notices,
        model: null,
        pack: { name: active.meta.name, version: active.meta.version, hash: active.meta.hash },
        degraded: false,
        ...(opts?.explain ? { features } : {}),
      };
      decisions.set(result.decision_id, { decision_id: result.decision_id, request: { type: ev.type }, features, result, at: new Date(ev.time).toISOString() });
      return result;
    },
    async outcome(id: string, outcome: Outcome) {
      const d = decisions.get(id);
      if (!d) return 'not_found';
      decisions.set(id, { ...d, outcome });
      return 'ok';
    },
    async getDecision(id) {
      return decisions.get(id) ?? null;
    },
    async searchDecisions(q) {
      const all = [...decisions.values()]
        .filter((d) => q.user === undefined || d.features['user.id'] === q.user)
        .filter((d) => q.decision === undefined || d.result.decision === q.decision)
        .filter((d) => q.rule === undefined || d.result.rules.some((h) => h.name === q.rule))
        .filter((d) => (q.since === undefined || Date.parse(d.at) >= q.since) && (q.until === undefined || Date.parse(d.at) < q.until))
        .sort((a, b) => (a.decision_id < b.decision_id ? 1 : -1));
      const from = q.cursor === undefined ? 0 : Number(q.cursor);
      const limit = q.limit ?? 50;
      const page = all.slice(from, from + limit);
      return { decisions: page, cursor: from + limit < all.length ? String(from + limit) : null };
    },
    async securityLog(userId, q = {}) {
      const all = [...decisions.values()].filter((d) => d.features['user.id'] === userId).sort((a, b) => (a.decision_id < b.decision_id ? 1 : -1));
      const from = q.cursor === undefined ? 0 : Number(q.cursor);
      const limit = q.limit ?? 20;
      const page = all.slice(from, from + limit).map((d) => ({
        at: d.at,
        type: String(d.request.type),
        decision: d.result.decision,
        country: null,
        city: null,
        browser: null,
        os: null,
        notices: [],
      }));
      return { entries: page, cursor: from + limit < all.length ? String(from + limit) : null };
    },
    async eraseUser(id) {
      erased.push(id);
      return { keys: 3, decisions: 2 };
    },
    async ready() {
      return { ok: readyState.ok, checks: { store: readyState.ok } };
    },
    async close() {
      await listStore.close();
    },
  };
}

export function testPackManager(
  opts: {
    repo?: PackRepository;
    rulesPath?: string;
    logger?: Logger;
    metrics?: VigilMetrics;
    debounceMs?: number;
    audit?: AuditLog;
    now?: () => Date;
  } = {},
): PackManager {
  return createPackManager({
    repo: opts.repo ?? createMemoryPackRepository(),
    // In process: these tests are about the manager and the routes; test/engine/pack-checker.test.ts
    // covers the worker threads production checks in.
    compile: async (files, root) => checkPackFiles(files, root, VIGIL_SCHEME),
    compilePath: (p) => checkPackPath(p, VIGIL_SCHEME),
    rulesPath: opts.rulesPath ?? GOOD_PACK,
    logger: opts.logger ?? logSink().logger,
    pollMs: 0,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(opts.debounceMs !== undefined ? { debounceMs: opts.debounceMs } : {}),
    ...(opts.audit ? { audit: opts.audit } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

export const API_TOKEN = 'api-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef';
export const NOW = Date.parse('2026-11-24T18:00:00Z');

export interface TestApp {
  readonly app: ReturnType<typeof createApp>;
  readonly engine: TestEngine;
  readonly packs: PackManager;
  readonly metrics: VigilMetrics;
  readonly logs: LogSink;
  /** Shared by the pack manager and the admin routes. */
  readonly audit: AuditLog & { readonly entries: readonly AuditEntry[] };
  shuttingDown: boolean;
}

/** A started app: good pack active, both tokens set unless overridden, clock pinned at NOW. */
export async function testApp(
  opts: {
    apiToken?: string | undefined;
    adminToken?: string | undefined;
    maxSkewMs?: number;
    rulesPath?: string;
    repo?: PackRepository;
    /** VIGIL_ADMIN_RATE_LIMIT (default: the server's default). */
    adminRateLimit?: number;
  } = {},
): Promise<TestApp> {
  const logs = logSink();
  const metrics = createMetrics(new Registry());
  const audit = createMemoryAudit();
  const packs = testPackManager({
    logger: logs.logger,
    metrics,
    audit,
    now: () => new Date(NOW),
    ...(opts.rulesPath ? { rulesPath: opts.rulesPath } : {}),
    ...(opts.repo ? { repo: opts.repo } : {}),
  });
  await packs.start();
  const engine = testEngine(packs);
  const state = { shuttingDown: false };
  const app = createApp({
    engine,
    packs,
    logger: logs.logger,
    metrics,
    config: {
      apiToken: 'apiToken' in opts ? opts.apiToken : API_TOKEN,
      adminToken: 'adminToken' in opts ? opts.adminToken : ADMIN_TOKEN,
      maxSkewMs: opts.maxSkewMs ?? 5 * 60_000,
      ...(opts.adminRateLimit !== undefined ? { adminRateLimit: opts.adminRateLimit } : {}),
    },
    audit,
    now: () => NOW,
    shuttingDown: () => state.shuttingDown,
  });
  return {
    app,
    engine,
    packs,
    metrics,
    logs,
    audit,
    get shuttingDown() {
      return state.shuttingDown;
    },
    set shuttingDown(v: boolean) {
      state.shuttingDown = v;
    },
  };
}

export const GOOD_EVENT = {
  type: 'login',
  user: { id: 'u-123', created_at: '2024-01-05T10:00:00Z', mfa: false },
  ip: '81.2.69.142',
  device: { id: 'd-9f2c', user_agent: 'Mozilla/5.0' },
  time: '2026-11-24T18:00:00Z',
};

/** Assert the one error shape and return the code. */
export function errorCode(body: unknown): string {
  const e = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } }).error;
  if (!e || typeof e.code !== 'string' || typeof e.message !== 'string' || !('details' in e)) {
    throw new Error(`not the error shape: ${JSON.stringify(body)}`);
  }
  return e.code;
}
