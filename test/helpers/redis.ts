// Test helpers for Redis: the shared test server's URL, a loud check that it answers (tests needing
// Redis FAIL without it, never skip), unique key prefixes so parallel test files never collide,
// dumping and deleting a prefix, and a dedicated throwaway redis-server on a spare loopback port
// for tests that pause, slow down or kill the server.
import { errorMessage } from '../../common/errors.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** The shared test Redis (TEST_REDIS_URL, default 127.0.0.1:6379). */
export function redisUrl(): string {
  return process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
}

/** Throws (failing the suite) when the test Redis does not answer PING within 2 s. */
export async function requireRedis(url = redisUrl()): Promise<void> {
  const c = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const pong = await c.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING answer ${pong}`);
  } catch (err) {
    throw new Error(
      `Redis at ${url} does not answer (${errorMessage(err)}): these tests need a running redis-server`,
    );
  } finally {
    c.disconnect();
  }
}

let seq = 0;
/** A key prefix no other test (file, process or run) uses. */
export function uniquePrefix(name: string): string {
  seq++;
  return `test:${name}:${process.pid}:${Date.now().toString(36)}:${seq}:`;
}

export interface KeyDump {
  readonly key: string;
  readonly type: string;
  readonly value: string;
  /** PTTL: ms left, -1 without expiry. */
  readonly pttl: number;
}

function globEscape(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => '\\' + c);
}

/** Every key under `prefix` on one node, with a text rendering of its value. */
export async function dumpPrefix(node: Redis, prefix: string): Promise<KeyDump[]> {
  const out: KeyDump[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', globEscape(prefix) + '*', 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const type = await node.type(key);
      let value: string;
      switch (type) {
        case 'string':
          value = (await node.getBuffer(key))?.toString('latin1') ?? '';
          break;
        case 'hash':
          value = JSON.stringify(await node.hgetall(key));
          break;
        case 'zset':
          value = JSON.stringify(await node.zrange(key, '0', '-1', 'WITHSCORES'));
          break;
        case 'set':
          value = JSON.stringify(await node.smembers(key));
          break;
        case 'list':
          value = JSON.stringify(await node.lrange(key, 0, -1));
          break;
        default:
          value = '';
      }
      out.push({ key, type, value, pttl: await node.pttl(key) });
    }
  } while (cursor !== '0');
  return out;
}

/** Delete every key under `prefix` on one node. */
export async function deletePrefix(node: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await node.scan(cursor, 'MATCH', globEscape(prefix) + '*', 'COUNT', 1000);
    cursor = next;
    // One key per UNLINK: on a Cluster node a multi-key command across slots is refused (CROSSSLOT).
    if (keys.length > 0) await node.pipeline(keys.map((k) => ['unlink', k])).exec();
  } while (cursor !== '0');
}

/** A TCP port free on 127.0.0.1 now (and, when `plus` is given, port + plus free as well). */
export async function freePort(plus?: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (plus === undefined) return port;
    if (port + plus < 65536 && (await isFree(port + plus))) return port;
  }
  throw new Error('no free port pair found');
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Kill the server (SIGKILL: as abrupt as a crash) and wait for it to exit. */
  kill(): Promise<void>;
  /** Start it again on the same port. */
  restart(): Promise<void>;
  /** Kill and remove the data directory. */
  stop(): Promise<void>;
}

/** Spawn `redis-server` (no persistence) and wait until it answers PING. */
export async function spawnRedis(port: number, dir: string, extra: readonly string[] = []): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra],
    { stdio: 'ignore' },
  );
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
      try {
        if (probe.status !== 'ready') await probe.connect();
        if ((await probe.ping()) === 'PONG') return child;
      } catch {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    probe.disconnect();
  }
}

function waitExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A private redis-server on a spare loopback port, for tests that pause, slow or kill it. */
export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-redis-'));
  const port = await freePort();
  let child = await spawnRedis(port, dir);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async kill() {
      const c = child;
      c.kill('SIGKILL');
      await waitExit(c);
    },
    async restart() {
      child = await spawnRedis(port, dir);
    },
    async stop() {
      const c = child;
      c.kill('SIGKILL');
      await waitExit(c);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
