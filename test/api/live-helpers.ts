// Test helpers for the operator's levers (live lists, counters, audit): a small pack that reads
// redis lists of every kind and velocity counters, written to a temporary directory under a unique
// name prefix (list keys are verbatim Redis names, so each test run owns its own), and Vigil
// instances — the real engine, the real Redis store, the real app — that share one Redis.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { createApp } from '../../api/app.ts';
import { createMetrics } from '../../api/metrics.ts';
import { createMemoryAudit, type AuditLog } from '../../engine/audit.ts';
import { createEngine } from '../../engine/index.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { createMemoryStore, createStore, type SignalStore } from '../../features/store/index.ts';
import { deletePrefix, redisUrl, uniquePrefix } from '../helpers/redis.ts';
import { ADMIN_TOKEN, logSink, testPackManager, type LogSink } from './helpers.ts';

export const NOW = Date.parse('2026-11-24T18:00:00Z');
export const admin = `Bearer ${ADMIN_TOKEN}`;

/** The lists' Redis names under one prefix. */
export interface ListNames {
  readonly ips: string;
  readonly users: string;
  readonly hours: string;
  readonly flags: string;
  readonly spare: string;
  readonly odd: string;
}

export function listNames(prefix: string): ListNames {
  return {
    ips: `${prefix}{lists}:blocked_ips`,
    users: `${prefix}{lists}:blocked_users`,
    hours: `${prefix}{lists}:quiet_hours`,
    flags: `${prefix}{lists}:flags`,
    spare: `${prefix}{lists}:spare`,
    odd: `${prefix}odd}name`,
  };
}

export function packSource(n: ListNames): string {
  return `pack live_levers version 1

list blocked_ips: ip = redis "${n.ips}"
list blocked_users: string = redis "${n.users}"
list quiet_hours: number = redis "${n.hours}"
list flags: bool = redis "${n.flags}"
list odd: string = redis "${n.odd}"
# Declared, read by no rule: still managed through the API.
list spare: string = redis "${n.spare}"

rule blocked_ip { when ip.address in blocked_ips then block score 100 }
rule blocked_user { when user.id in blocked_users then block score 100 }
rule quiet_hour { when event.hour in quiet_hours then step_up score 20 }
rule flagged { when user.mfa in flags then step_up score 20 }
rule odd_device { when device.id in odd then step_up score 20 }
rule ip_burst { when velocity.ip_failed_10m >= 3 then block score 100 }
rule subnet_burst { when velocity.subnet_failed_1h >= 3 then step_up score 20 }
rule user_failures { when velocity.user_failed_1h >= 3 then step_up score 20 }
`;
}

export interface Deployment {
  readonly prefix: string;
  readonly names: ListNames;
  readonly dir: string;
  /** An admin client on the test Redis. */
  readonly redis: Redis;
  instance(opts?: { adminToken?: string | undefined; audit?: AuditLog; memory?: boolean; redisUrl?: string }): Promise<Instance>;
  close(): Promise<void>;
}

export interface Instance {
  readonly app: ReturnType<typeof createApp>;
  readonly engine: Engine;
  readonly packs: PackManager;
  readonly store: SignalStore;
  readonly audit: AuditLog | undefined;
  readonly logs: LogSink;
}

/** One pack directory, one Redis prefix; instances built on it share the Redis (or have their own in-process store). */
export async function deployment(name: string): Promise<Deployment> {
  const prefix = uniquePrefix(name);
  const names = listNames(prefix);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-live-'));
  writeFileSync(join(dir, 'main.rules'), packSource(names));
  const redis = new Redis(redisUrl());
  const instances: Instance[] = [];
  return {
    prefix,
    names,
    dir,
    redis,
    async instance(opts = {}) {
      const logs = logSink();
      const packs = testPackManager({ rulesPath: dir, logger: logs.logger });
      await packs.start();
      const store = opts.memory
        ? createMemoryStore({ hashSecret: 'live-levers-secret-0123', prefix })
        : await createStore({ redisUrl: opts.redisUrl ?? redisUrl(), hashSecret: 'live-levers-secret-0123', prefix });
      const engine = createEngine({ store, geoip: null, packs: () => packs.current(), signalTimeoutMs: 1000, logger: logs.logger, listSweepMs: 100 });
      const app = createApp({
        engine,
        packs,
        logger: logs.logger,
        metrics: createMetrics(new Registry()),
        config: { apiToken: undefined, adminToken: 'adminToken' in opts ? opts.adminToken : ADMIN_TOKEN, maxSkewMs: 300_000 },
        ...(opts.audit ? { audit: opts.audit } : {}),
        now: () => NOW,
      });
      const inst = { app, engine, packs, store, audit: opts.audit, logs };
      instances.push(inst);
      return inst;
    },
    async close() {
      for (const i of instances.splice(0)) {
        await i.engine.close();
        await i.packs.close();
      }
      await deletePrefix(redis, prefix);
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { createMemoryAudit };
