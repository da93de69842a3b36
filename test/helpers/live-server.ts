// A real server (runServer, PORT=0) on the test Redis for tests that talk to it over HTTP: its signal
// keys under `keys`, its pack keys under a prefix of its own, the production engine without GeoIP,
// model or decision log (none is what these tests exercise), logs discarded. close() stops it and
// deletes every key it wrote.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { runServer, type ServerHandle } from '../../api/server.ts';
import { createEngine } from '../../engine/index.ts';
import { createStore } from '../../features/store/index.ts';
import { deletePrefix, redisUrl, requireRedis } from './redis.ts';

export interface LiveServer {
  readonly server: ServerHandle;
  readonly url: string;
  close(): Promise<void>;
}

export interface LiveServerOptions {
  /** Prefix of the signal store's keys (uniquePrefix). */
  readonly keys: string;
  /** The engine's signal budget (default: the configured VIGIL_SIGNAL_TIMEOUT_MS). */
  readonly signalTimeoutMs?: number;
  /** How often live lists are re-read (default: the engine's). */
  readonly listSweepMs?: number;
}

export async function startLiveServer(env: Readonly<Record<string, string>>, o: LiveServerOptions): Promise<LiveServer> {
  await requireRedis();
  const packPrefix = `vigiltest-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const server = await runServer(
    { PORT: '0', REDIS_URL: redisUrl(), VIGIL_LOG_LEVEL: 'warn', ...env },
    {
      signals: false,
      logDestination: new Writable({ write: (_c, _e, cb) => cb() }),
      redisPrefix: packPrefix,
      createEngine: async ({ config, packs, redis: client }) =>
        createEngine({
          store: await createStore({ redis: client, hashSecret: config.hashSecret, prefix: o.keys }),
          geoip: null,
          packs: () => packs.current(),
          signalTimeoutMs: o.signalTimeoutMs ?? config.signalTimeoutMs,
          ...(o.listSweepMs !== undefined ? { listSweepMs: o.listSweepMs } : {}),
        }),
    },
  );
  return {
    server,
    url: `http://127.0.0.1:${server.port}`,
    async close() {
      await server.close();
      const redis = new Redis(redisUrl());
      try {
        await deletePrefix(redis, o.keys);
        await deletePrefix(redis, `{${packPrefix}:packs}`);
      } finally {
        redis.disconnect();
      }
    },
  };
}
