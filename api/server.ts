// The production server: configuration → logger → Redis → pack lifecycle → signal store, GeoIP and
// engine → Express app → listen; VIGIL_WORKERS > 1 forks workers with node:cluster that share the
// port (the primary aggregates their metrics); SIGTERM drains and closes, SIGHUP reloads VIGIL_RULES.
import { createDecisionLog, type DecisionLog } from '../decisionlog/index.ts';
import { errorMessage } from '../common/errors.ts';
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import { pathToFileURL } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import type { DestinationStream } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import { auditLogOn, createMemoryAudit } from '../engine/audit.ts';
import { createEngine, createMemoryShadowReport, createRedisShadowReport } from '../engine/index.ts';
import { fileRecorder, redisStreamRecorder } from '../engine/recorder.ts';
import { createModelScorer, DEFAULT_MODEL_PATH } from '../features/model/index.ts';
import { createPackLifecycle, type PackManager } from '../engine/packs/index.ts';
import { openGeoIp } from '../features/geoip.ts';
import { clientEndpoint, connectRedis, createStore, watchRedis } from '../features/store/index.ts';
import type { Engine } from '../engine/types.ts';
import { createApp, createHttpServer } from './app.ts';
import { loadConfig, type Config } from './config.ts';
import { createLogger, prettyLogs, type Logger } from './logging.ts';
import { createMetrics, type VigilMetrics } from './metrics.ts';

export interface ServerHandle {
  /** The port listened on (useful with PORT=0). */
  readonly port: number;
  /** Stop accepting, finish in-flight requests, close the engine, packs and Redis. */
  close(): Promise<void>;
}

/** What the engine factory is handed. */
export interface EngineDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly packs: PackManager;
  /** The server's Redis connection (null: in-process store). */
  readonly redis: Redis | Cluster | null;
  readonly metrics: VigilMetrics;
  /** The decision log (PostgreSQL or PGlite), opened by the server: it also keeps the audit log. Null: off. */
  readonly log: DecisionLog | null;
  /** Prefix of the pack keys; the shadow report's keys take it too. */
  readonly redisPrefix?: string;
}

export type EngineFactory = (deps: EngineDeps) => Promise<Engine>;

export interface RunOptions {
  /** Build the engine (default: the production wiring below). */
  readonly createEngine?: EngineFactory;
  readonly logDestination?: DestinationStream;
  /** Install SIGTERM/SIGINT/SIGHUP handlers (default true; tests turn them off). */
  readonly signals?: boolean;
  /** Pack manager tuning (tests shorten the debounce). */
  readonly packDebounceMs?: number;
  readonly packPollMs?: number;
  /** Prefix of the pack keys and channel in Redis (default `vigil`; tests isolate themselves). */
  readonly redisPrefix?: string;
  /** Redis alone: how long a start against an empty Redis waits for a running instance to re-publish. */
  readonly packRestoreGraceMs?: number;
}

const SHUTDOWN_GRACE_MS = 10_000;
const REDIS_CONNECT_TIMEOUT_MS = 10_000;

/**
 * The production engine: the signal store on the server's Redis connection (or in process), GeoIP
 * from the configured or bundled databases, the active pack from the pack manager. engine.close()
 * closes the store and GeoIP.
 */
export const defaultEngineFactory: EngineFactory = async ({ config, logger, packs, redis, metrics, log, redisPrefix }) => {
  // The store works on its own fail-fast duplicate of the server's client.
  const store = await createStore({ redis, hashSecret: config.hashSecret, retentionDays: config.retentionDays, logger });
  const geoip = await openGeoIp({
    ...(config.geoipCity !== undefined ? { city: config.geoipCity } : {}),
    ...(config.geoipAsn !== undefined ? { asn: config.geoipAsn } : {}),
    ...(config.geoipAnon !== undefined ? { anon: config.geoipAnon } : {}),
    logger,
  }).catch(async (err: unknown) => {
    await store.close();
    throw err;
  });
  const model = await createModelScorer({
    path: config.model ?? DEFAULT_MODEL_PATH,
    logger,
    timeoutMs: config.signalTimeoutMs,
    watch: true,
    onFailure: () => metrics.signalFailure('model'),
  }).catch(async (err: unknown) => {
    geoip.close();
    await store.close();
    throw err;
  });
  metrics.watchModel(() => model.version);
  const recorder = !config.record
    ? undefined
    : config.record.kind === 'file'
      ? fileRecorder(config.record.path)
      : store.redis
        ? redisStreamRecorder(store.redis, config.record.stream)
        : undefined;
  if (config.record?.kind === 'redis' && !store.redis) logger.warn('VIGIL_RECORD=redis:… needs REDIS_URL; recording is off');
  // Written by every instance, read by any: on the server's connection, beside the pack keys.
  const shadowReport = redis
    ? createRedisShadowReport({ client: redis, logger, ...(redisPrefix !== undefined ? { prefix: redisPrefix } : {}) })
    : createMemoryShadowReport({ logger });
  return createEngine({
    store,
    geoip,
    packs: () => packs.current(),
    signalTimeoutMs: config.signalTimeoutMs,
    ...(recorder ? { recorder } : {}),
    model,
    ...(log ? { log } : {}),
    outcomeWindowSeconds: config.outcomeWindowSeconds,
    sessionWindowSeconds: config.sessionWindowSeconds,
    logger,
    onSignalFailure: (source) => metrics.signalFailure(source),
    onSignalLatency: (source, seconds) => metrics.signalLatency(source, seconds),
    shadowReport,
  });
};

/**
 * Start the server from the environment. Throws ConfigError (bad configuration) or NoPackError
 * (no pack compiles) before listening; the CLI prints the message and exits 1.
 */
export async function runServer(env: Readonly<Record<string, string | undefined>> = process.env, opts: RunOptions = {}): Promise<ServerHandle> {
  const config = loadConfig(env);
  const logger = createLogger({
    level: config.logLevel,
    ...(opts.logDestination ? { destination: opts.logDestination } : { pretty: prettyLogs({ production: config.production, tty: process.stdout.isTTY === true }) }),
  });
  if (config.workers > 1 && cluster.isPrimary) return runPrimary(config, logger, opts);
  return runWorker(config, logger, opts);
}

async function connectServerRedis(config: Config, logger: Logger): Promise<Redis | Cluster | null> {
  if (config.redis.mode === 'none' || config.redisUrl === undefined) return null;
  try {
    return await connectRedis(config.redisUrl, { connectTimeoutMs: REDIS_CONNECT_TIMEOUT_MS, logger, name: 'server' });
  } catch (err) {
    // The message names host:port (features/store/redis.ts), never the URL's credentials.
    throw new Error(`${errorMessage(err)} (REDIS_URL)`);
  }
}

/** A dedicated, connected connection for SUBSCRIBE (a subscribed connection can run nothing else). */
async function subscriberFor(client: Redis | Cluster, logger: Logger): Promise<Redis | Cluster> {
  const sub = client instanceof Cluster ? client.duplicate(undefined, { lazyConnect: true, enableOfflineQueue: true }) : client.duplicate({ lazyConnect: true, enableOfflineQueue: true });
  // Its own error listener and state lines: a duplicate inherits no listener.
  const endpoint = clientEndpoint(client);
  watchRedis(sub, { logger, name: 'subscriber', endpoint });
  try {
    await sub.connect();
  } catch (err) {
    sub.disconnect();
    throw new Error(`cannot open the Redis pub/sub connection to ${endpoint}: ${errorMessage(err)}`);
  }
  return sub;
}

interface IpcMessage {
  readonly vigil: 'listening' | 'metrics-req' | 'metrics-res';
  readonly id?: number;
  readonly port?: number;
  readonly text?: string;
}

function isIpc(m: unknown): m is IpcMessage {
  return typeof m === 'object' && m !== null && typeof (m as { vigil?: unknown }).vigil === 'string';
}

/** Under cluster, /metrics answers the sum over workers, asked of the primary. */
function clusterRender(registry: Registry): () => Promise<string> {
  // prom-client answers the primary's aggregation requests only once an AggregatorRegistry exists.
  new AggregatorRegistry();
  AggregatorRegistry.setRegistries([registry]);
  let seq = 0;
  const pending = new Map<number, (text: string) => void>();
  process.on('message', (m: unknown) => {
    if (isIpc(m) && m.vigil === 'metrics-res' && m.id !== undefined) pending.get(m.id)?.(m.text ?? '');
  });
  return () =>
    new Promise<string>((resolve) => {
      const id = ++seq;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(registry.metrics());
      }, 3000);
      pending.set(id, (text) => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(text);
      });
      process.send?.({ vigil: 'metrics-req', id } satisfies IpcMessage);
    });
}

async function runWorker(config: Config, logger: Logger, opts: RunOptions): Promise<ServerHandle> {
  const registry = new Registry();
  const metrics = createMetrics(registry, {
    defaultMetrics: true,
    ...(cluster.isWorker ? { render: clusterRender(registry) } : {}),
  });
  const redis = await connectServerRedis(config, logger);
  // A bare machine (npm start, nothing configured) gets one warning naming everything it lacks.
  const trial: string[] = [];
  const unset: string[] = [];
  if (!redis) {
    trial.push('REDIS_URL is unset: signals, decisions and pack history live in this process only (single-node trial)');
    unset.push('REDIS_URL');
  }
  if (config.hashSecretGenerated && !cluster.isWorker) {
    trial.push('VIGIL_HASH_SECRET is unset: identifiers are hashed with a random secret, so history is lost at restart');
    unset.push('VIGIL_HASH_SECRET');
  }
  if (trial.length > 0) logger.warn(`${trial.join('; ')}; set ${unset.join(' and ')} for any real use`);
  let subscriber: Redis | Cluster | null = null;
  try {
    subscriber = redis ? await subscriberFor(redis, logger) : null;
  } catch (err) {
    redis?.disconnect();
    throw err;
  }
  // The decision log: PostgreSQL when configured, else PGlite in process (in VIGIL_DATA_DIR when set).
  // An unreachable PostgreSQL does not stop the start: rows spool to disk until it answers. It also
  // keeps the audit log, which the pack manager and the admin routes write.
  let log: DecisionLog | null = null;
  if (config.decisionLog === 'off') {
    logger.warn('VIGIL_DECISION_LOG=off: decisions are kept only for the outcome window, and the audit log only in memory');
  } else {
    try {
      log = await createDecisionLog({
        ...(config.decisionLog !== undefined ? { url: config.decisionLog } : {}),
        ...(config.dataDir !== undefined ? { dataDir: config.dataDir } : {}),
        schema: config.decisionLogSchema,
        retentionDays: config.retentionDays,
        logger,
      });
    } catch (err) {
      redis?.disconnect();
      subscriber?.disconnect();
      throw err;
    }
    metrics.watchDecisionLog(log);
  }
  const audit = log ? auditLogOn(log.audit) : createMemoryAudit();
  // The pack history goes where it outlives Redis and every instance sharing the Redis reads it: the
  // log's PostgreSQL, or PGlite in VIGIL_DATA_DIR when this process is alone (no Redis). A PGlite per
  // instance beside a shared Redis would give each instance its own history: Redis keeps it then.
  const packStore = log && (log.kind === 'postgres' || (!redis && config.dataDir !== undefined)) ? log.packs : null;
  logger.info(
    { store: packStore ? (log?.kind ?? null) : redis ? 'redis' : 'memory' },
    packStore
      ? `pack history kept in the decision log's ${log?.kind === 'postgres' ? 'PostgreSQL' : 'PGlite (VIGIL_DATA_DIR)'}${redis ? '; Redis announces changes' : ''}`
      : redis
        ? 'pack history kept in Redis alone (set VIGIL_DECISION_LOG=postgres://… to keep it where losing Redis data cannot touch it)'
        : 'pack history kept in this process only',
  );
  const packs = createPackLifecycle({
    rulesPath: config.rulesPath,
    logger,
    metrics,
    audit,
    store: packStore,
    ...(opts.packRestoreGraceMs !== undefined ? { restoreGraceMs: opts.packRestoreGraceMs } : {}),
    redis: redis && subscriber ? { client: redis, subscriber, ...(opts.redisPrefix ? { prefix: opts.redisPrefix } : {}) } : null,
    ...(opts.packDebounceMs !== undefined ? { debounceMs: opts.packDebounceMs } : {}),
    ...(opts.packPollMs !== undefined ? { pollMs: opts.packPollMs } : {}),
    check: { timeoutMs: config.packCheckTimeoutMs, memoryMb: config.packCheckMemoryMb },
  });
  let engine: Engine | null = null;
  try {
    await packs.start();
    engine = await (opts.createEngine ?? defaultEngineFactory)({
      config,
      logger,
      packs,
      redis,
      metrics,
      log,
      ...(opts.redisPrefix !== undefined ? { redisPrefix: opts.redisPrefix } : {}),
    });
  } catch (err) {
    await packs.close().catch(() => undefined);
    await log?.close().catch(() => undefined);
    redis?.disconnect();
    subscriber?.disconnect();
    throw err;
  }
  const eng = engine;
  let shuttingDown = false;
  const app = createApp({ engine: eng, packs, logger, metrics, config, audit, shuttingDown: () => shuttingDown });
  let server: Server;
  try {
    server = await new Promise((resolve, reject) => {
      const s = createHttpServer(app, config.http);
      s.once('error', reject);
      s.listen(config.port, () => {
        s.off('error', reject);
        resolve(s);
      });
    });
  } catch (err) {
    // The port is taken or not ours: release what was started, as a failed start above does.
    await eng.close().catch(() => undefined);
    await log?.close().catch(() => undefined);
    await packs.close().catch(() => undefined);
    redis?.disconnect();
    subscriber?.disconnect();
    throw err;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : config.port;
  packs.watch();
  const active = packs.current();
  logger.info(
    { port, pid: process.pid, pack: active ? { name: active.meta.name, version: active.meta.version, hash: active.meta.hash } : null },
    'vigil listening',
  );

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      shuttingDown = true;
      const drained = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections turn idle as their last response ends; close them as they do.
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 50);
      const force = setTimeout(() => server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      force.unref();
      await drained;
      clearInterval(sweep);
      clearTimeout(force);
      await packs.close().catch((err: unknown) => logger.warn({ err }, 'closing packs failed'));
      await eng.close().catch((err: unknown) => logger.warn({ err }, 'closing the engine failed'));
      await log?.close().catch((err: unknown) => logger.warn({ err }, 'closing the decision log failed'));
      if (redis) await redis.quit().catch(() => redis.disconnect());
      logger.info('vigil stopped');
    })();
    return closing;
  };

  if (opts.signals !== false) {
    const stop = (signal: string): void => {
      logger.info({ signal }, 'shutting down: draining in-flight requests');
      void close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      logger.info('SIGHUP: reloading VIGIL_RULES');
      void packs.reloadFromPath('sighup').catch((err: unknown) => logger.error({ err }, 'reload failed'));
    });
  }
  if (cluster.isWorker) process.send?.({ vigil: 'listening', port } satisfies IpcMessage);
  return { port, close };
}

async function runPrimary(config: Config, logger: Logger, opts: RunOptions): Promise<ServerHandle> {
  const agg = new AggregatorRegistry();
  let stopping = false;
  const crashes: number[] = [];
  const everListened = new Set<number>();
  logger.info({ workers: config.workers, pid: process.pid }, 'starting workers');

  let resolveReady!: (port: number) => void;
  let rejectReady!: (err: Error) => void;
  const ready = new Promise<number>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  let listening = 0;

  cluster.on('message', (worker: Worker, m: unknown) => {
    if (!isIpc(m)) return;
    if (m.vigil === 'listening') {
      everListened.add(worker.id);
      if (++listening === config.workers) resolveReady(m.port ?? config.port);
    } else if (m.vigil === 'metrics-req') {
      agg.clusterMetrics().then(
        (text) => worker.send({ vigil: 'metrics-res', id: m.id, text } satisfies IpcMessage),
        (err: unknown) => {
          logger.warn({ err }, 'metrics aggregation failed');
          worker.send({ vigil: 'metrics-res', id: m.id, text: '' } satisfies IpcMessage);
        },
      );
    }
  });

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    if (!everListened.has(worker.id)) {
      // A worker that never listened hit a start error (bad pack, Redis down): restarting loops.
      stopping = true;
      rejectReady(new Error(`worker ${worker.process.pid} failed to start (exit ${code ?? signal})`));
      for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
      return;
    }
    const now = Date.now();
    crashes.push(now);
    while (crashes.length > 0 && crashes[0]! < now - 60_000) crashes.shift();
    if (crashes.length > 5) {
      logger.fatal('workers keep crashing (more than 5 in a minute); stopping');
      void stop(1);
      return;
    }
    logger.error({ pid: worker.process.pid, code, signal }, 'worker died; starting a new one');
    fork();
  });

  const allExited = (): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (Object.values(cluster.workers ?? {}).every((w) => !w || w.isDead())) resolve();
      };
      cluster.on('exit', check);
      check();
    });

  const stop = async (exitCode?: number): Promise<void> => {
    stopping = true;
    const done = allExited();
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    await done;
    logger.info('all workers stopped');
    if (exitCode !== undefined) process.exit(exitCode);
  };

  if (config.hashSecretGenerated) {
    logger.warn('VIGIL_HASH_SECRET is unset: identifiers are hashed with a random secret, so history is lost at restart; set it for any real use');
  }
  // Workers must agree on the hash secret, including a generated one.
  const fork = (): Worker => cluster.fork({ VIGIL_HASH_SECRET: config.hashSecret });
  for (let i = 0; i < config.workers; i++) fork();
  const port = await ready;

  if (opts.signals !== false) {
    process.once('SIGTERM', () => void stop(0));
    process.once('SIGINT', () => void stop(0));
    process.on('SIGHUP', () => {
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGHUP');
    });
  }
  return { port, close: () => stop() };
}

// `npx tsx api/server.ts`: run directly, printing a bad configuration or pack and exiting 1.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runServer().catch((err: unknown) => {
    process.stderr.write(`vigil: ${errorMessage(err)}\n`);
    process.exit(1);
  });
}
