// Redis connections under failure (issue 15, point 4): every ioredis client Vigil opens has an error
// listener and logs its state changes as single structured lines naming host:port (never every
// retry, never ioredis's "Unhandled error event" stack trace on stderr); a start against a closed
// port names host:port; a password in REDIS_URL appears nowhere. Each test starts its own
// redis-server on a free port (test/helpers/redis.ts), which it kills: the shared one is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ReplyError } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, serializeError } from '../../api/logging.ts';
import { createStore, redisEndpoint, withoutCredentials, parseRedisTarget } from '../../features/store/index.ts';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/vigil.js', import.meta.url));
const GEO = fileURLToPath(new URL('../../../shared/data/geoip', import.meta.url));

interface Proc {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[];
  stdout: string;
  stderr: string;
  readonly exit: Promise<number | null>;
}

const procs: Proc[] = [];
const servers: RedisServer[] = [];
afterEach(async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exit;
  }
  for (const s of servers.splice(0)) await s.stop();
});

/** `vigil serve` (the production wiring: server connection, pub/sub subscriber, the store's duplicate). */
function serve(env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      VIGIL_DECISION_LOG: 'off',
      VIGIL_HASH_SECRET: 'test-secret-0123456789',
      VIGIL_GEOIP_CITY: join(GEO, 'GeoIP2-City-Test.mmdb'),
      VIGIL_GEOIP_ASN: join(GEO, 'GeoLite2-ASN-Test.mmdb'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const p: Proc = { child, lines: [], stdout: '', stderr: '', exit: new Promise((r) => child.once('exit', (code) => r(code))) };
  procs.push(p);
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    p.stdout += d.toString();
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        p.lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (p.stderr += d.toString()));
  return p;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const stateLines = (lines: readonly Record<string, unknown>[]) => lines.filter((l) => typeof l.state === 'string' && typeof l.redis === 'string');

describe('a running server whose Redis dies and comes back', () => {
  it('logs one line per client and state change with host:port, nothing on stderr, then one ready line each', { timeout: 120_000 }, async () => {
    const redis = await startRedisServer();
    servers.push(redis);
    const endpoint = `127.0.0.1:${redis.port}`;
    const p = serve({ REDIS_URL: redis.url });
    await until('listening', () => p.lines.some((l) => l.msg === 'vigil listening'), 60_000);
    // The first connections are not state changes worth a line.
    expect(stateLines(p.lines)).toEqual([]);

    await redis.kill();
    // ioredis retries about every second: several retries, still one line per client and state.
    await until('each client logged error and reconnecting', () => {
      const s = stateLines(p.lines);
      return ['server', 'subscriber', 'store'].every((c) => s.some((l) => l.client === c && l.state === 'error') && s.some((l) => l.client === c && l.state === 'reconnecting'));
    }, 20_000);
    await new Promise((r) => setTimeout(r, 3000));
    const down = stateLines(p.lines);
    for (const c of ['server', 'subscriber', 'store']) {
      const mine = down.filter((l) => l.client === c);
      expect(mine.map((l) => l.state).sort(), c).toEqual(['error', 'reconnecting']);
      for (const l of mine) {
        expect(l).toMatchObject({ level: 'warn', redis: endpoint });
      }
      expect(mine.find((l) => l.state === 'error')?.err).toEqual(expect.stringContaining(endpoint));
    }
    expect(p.stderr).not.toContain('Unhandled error event');
    expect(p.stderr).toBe('');

    await redis.restart();
    await until('each client ready again', () => ['server', 'subscriber', 'store'].every((c) => stateLines(p.lines).some((l) => l.client === c && l.state === 'ready')), 20_000);
    const ready = stateLines(p.lines).filter((l) => l.state === 'ready');
    expect(ready).toHaveLength(3);
    for (const l of ready) expect(l).toMatchObject({ level: 'info', redis: endpoint, down_ms: expect.any(Number) });
    expect(p.stderr).toBe('');
  });
});

describe('a start against Redis that is not there', () => {
  it('exits 1 naming host:port; a password in REDIS_URL is shown nowhere', { timeout: 60_000 }, async () => {
    const port = await freePort();
    const p = serve({ REDIS_URL: `redis://vigil:s3cret-pa55@127.0.0.1:${port}/0` });
    expect(await p.exit).toBe(1);
    expect(p.stderr).toMatch(new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${port}\\b`));
    expect(p.stderr).not.toContain('Unhandled error event');
    expect(p.stderr + p.stdout).not.toContain('s3cret-pa55');
  });

  it('a REDIS_URL that does not parse is refused without echoing its password', async () => {
    const p = serve({ REDIS_URL: 'redis://vigil:s3cret-pa55@127.0.0.1:notaport' });
    expect(await p.exit).toBe(1);
    expect(p.stderr).toMatch(/REDIS_URL: /);
    expect(p.stderr + p.stdout).not.toContain('s3cret-pa55');
  });
});

describe('the store on its own (createStore)', () => {
  it('its own connection and a duplicate of a caller\'s client each log their outage once, and no ioredis stack trace', { timeout: 60_000 }, async () => {
    const redis = await startRedisServer();
    servers.push(redis);
    const lines: { level: string; obj: Record<string, unknown> }[] = [];
    const logger = {
      warn: (obj: object) => lines.push({ level: 'warn', obj: obj as Record<string, unknown> }),
      info: (obj: object) => lines.push({ level: 'info', obj: obj as Record<string, unknown> }),
    };
    const consoleError = vi.spyOn(console, 'error');
    const own = await createStore({ redisUrl: redis.url, hashSecret: 'secret-0123456789abcdef', logger });
    const caller = own.redis!;
    const dup = await createStore({ redis: caller, hashSecret: 'secret-0123456789abcdef', logger });
    try {
      await redis.kill();
      await until('both logged', () => lines.filter((l) => l.obj.state === 'error').length >= 2, 20_000);
      await new Promise((r) => setTimeout(r, 2500));
      const states = lines.filter((l) => typeof l.obj.state === 'string');
      // Two clients (the store's own connection, the duplicate), each error + reconnecting once.
      expect(states.map((l) => `${String(l.obj.state)}`).sort()).toEqual(['error', 'error', 'reconnecting', 'reconnecting']);
      for (const l of states) expect(l.obj.redis).toBe(`127.0.0.1:${redis.port}`);
      expect(consoleError.mock.calls.flat().join(' ')).not.toContain('Unhandled error event');
    } finally {
      consoleError.mockRestore();
      await dup.close();
      await own.close();
    }
  });

  it('a closed port: the error names host:port', async () => {
    const port = await freePort();
    await expect(createStore({ redisUrl: `redis://:pw-secret@127.0.0.1:${port}`, hashSecret: 's', connectTimeoutMs: 500 })).rejects.toThrow(
      new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${port}:`),
    );
  });
});

describe('endpoints and credentials in text', () => {
  it('host:port of single nodes and clusters; credentials never', () => {
    expect(redisEndpoint(parseRedisTarget('redis://u:p@10.0.0.5:6380/2'))).toBe('10.0.0.5:6380');
    expect(redisEndpoint(parseRedisTarget('rediss://cache.internal'))).toBe('cache.internal:6379');
    expect(redisEndpoint(parseRedisTarget('redis://[::1]:7000'))).toBe('[::1]:7000');
    expect(redisEndpoint(parseRedisTarget('redis://:pw@h1:7001,h2:7002'))).toBe('h1:7001,h2:7002');
    expect(withoutCredentials('redis://user:pa55@h:1')).toBe('redis://…@h:1');
    expect(withoutCredentials('user:pa55@h:1')).toBe('…@h:1');
    expect(withoutCredentials('redis://h:1/0')).toBe('redis://h:1/0');
    expect(() => parseRedisTarget('redis://u:pa55@h:port')).toThrow(/"redis:\/\/…@h:port"/);
    expect(() => parseRedisTarget('http://u:pa55@h:1')).not.toThrow(/pa55/);
    expect(() => parseRedisTarget('http://u:pa55@h:1')).toThrow(/must use redis/);
  });
});

describe('logging an ioredis error', () => {
  it('keeps its message but not the arguments of the command that failed', () => {
    const out: string[] = [];
    const logger = createLogger({ destination: { write: (s: string) => void out.push(s) } });
    const Reply = ReplyError as new (message: string) => Error;
    const err = Object.assign(new Reply('WRONGTYPE Operation against a key holding the wrong kind of value'), {
      command: { name: 'sadd', args: ['blocked_ips', '203.0.113.9'] },
    });
    logger.error({ err }, 'list change failed');
    const line = JSON.parse(out.join('')) as { err: Record<string, unknown> };
    expect(line.err).toMatchObject({ type: 'ReplyError', message: expect.stringContaining('WRONGTYPE') });
    expect(out.join('')).not.toContain('203.0.113.9');
    // A plain object logged as err is left as it is.
    expect(serializeError({ code: 'X' })).toEqual({ code: 'X' });
  });
});
