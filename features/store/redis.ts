// The Redis backend of the signal store, single node or Redis Cluster (ioredis): connection setup
// from REDIS_URL (a URL, or a comma list of cluster nodes) with fail-fast options, one pipeline per
// call on a single node, and on Cluster one pipeline per hash-tag group sent concurrently (a
// pipeline may not span slots). Erase: SCAN on a single node, GETKEYSINSLOT on Cluster.
import { errorMessage } from '../../common/errors.ts';
import { Cluster, Redis, type ClusterNode } from 'ioredis';
import { RECORD_LOGIN_COMMAND, RECORD_LOGIN_LUA, SCRIPT_COMMANDS, type Cmd } from './commands.ts';
import { LIST_SCRIPTS } from './lists.ts';
import type { Backend } from './core.ts';
import { globEscape } from './keys.ts';
import type { StoreLogger } from './types.ts';

export type RedisTarget =
  | { readonly mode: 'single'; readonly url: string }
  | {
      readonly mode: 'cluster';
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      readonly username?: string;
      readonly password?: string;
      readonly tls: boolean;
    };

/**
 * Parse REDIS_URL: one `redis://` / `rediss://` URL is a single node; a comma list of URLs (or
 * `host:port` entries) names Redis Cluster seed nodes, whose credentials come from the first entry.
 * Throws a clear Error for anything else.
 */
export function parseRedisTarget(spec: string, forceCluster = false): RedisTarget {
  const parts = spec
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (parts.length === 0) throw new Error('REDIS_URL is empty');
  const urls = parts.map((p) => {
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(p) ? p : `redis://${p}`;
    // Echoed in the start error: never with its password.
    const shown = withoutCredentials(p);
    let u: URL;
    try {
      u = new URL(withScheme);
    } catch {
      throw new Error(`REDIS_URL: "${shown}" is not a redis:// URL or host:port`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL: "${shown}" must use redis:// or rediss://`);
    if (u.hostname === '') throw new Error(`REDIS_URL: "${shown}" has no host`);
    return u;
  });
  if (urls.length === 1 && !forceCluster) return { mode: 'single', url: (urls[0] as URL).href };
  const first = urls[0] as URL;
  return {
    mode: 'cluster',
    nodes: urls.map((u) => ({ host: u.hostname.replace(/^\[|\]$/g, ''), port: u.port === '' ? 6379 : Number(u.port) })),
    ...(first.username ? { username: decodeURIComponent(first.username) } : {}),
    ...(first.password ? { password: decodeURIComponent(first.password) } : {}),
    tls: first.protocol === 'rediss:',
  };
}

/** `user:password@` of a URL-ish text replaced, for messages. */
export function withoutCredentials(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, '$1…@');
}

/** host:port of a target (a Cluster: its seed nodes), for logs and errors; never credentials. */
export function redisEndpoint(target: RedisTarget): string {
  if (target.mode === 'cluster') return target.nodes.map((n) => hostPort(n.host, n.port)).join(',');
  const u = new URL(target.url);
  return hostPort(u.hostname.replace(/^\[|\]$/g, ''), u.port === '' ? 6379 : Number(u.port));
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** host:port a client connects to (a Cluster: the nodes it knows, else its kind). */
export function clientEndpoint(client: Redis | Cluster): string {
  if (client instanceof Redis) {
    const o = client.options;
    return o.path !== undefined && o.path !== '' ? o.path : hostPort(o.host ?? '127.0.0.1', o.port ?? 6379);
  }
  const nodes = client.nodes('all').map((n) => hostPort(n.options.host ?? '?', n.options.port ?? 6379));
  return nodes.length === 0 ? 'Redis Cluster' : [...new Set(nodes)].sort().join(',');
}

export interface WatchOptions {
  readonly logger?: StoreLogger | undefined;
  /** Which of Vigil's connections this is (`server`, `store`, `subscriber`), for the log line. */
  readonly name: string;
  /** host:port (default: read from the client). */
  readonly endpoint?: string;
}

/**
 * Give a client its `error` listener (without one, ioredis prints "Unhandled error event" and a
 * stack trace to stderr) and log its state changes, one structured line each: the first error and
 * the first reconnection attempt of an outage (not every retry; a retry fails every second or so
 * while Redis is away), then being ready again, with how long it was down. The first connection is
 * not logged (the start is). Lines carry `redis` (host:port, never credentials), `client` and
 * `state`; an error line its message (ioredis messages carry no credentials or command arguments).
 */
export function watchRedis(client: Redis | Cluster, opts: WatchOptions): void {
  const base = { redis: opts.endpoint ?? clientEndpoint(client), client: opts.name };
  const log = opts.logger;
  let up = client.status === 'ready';
  let everUp = up;
  let downSince = 0;
  let saidError = false;
  let saidReconnecting = false;
  const down = (): void => {
    if (!up) return;
    up = false;
    downSince = Date.now();
  };
  const onError = (err: unknown, node?: string): void => {
    if (client.status === 'end') return;
    down();
    if (saidError) return;
    saidError = true;
    log?.warn({ ...base, ...(node !== undefined ? { node } : {}), state: 'error', err: errorMessage(err) }, 'Redis connection error');
  };
  client.on('error', (err: unknown) => onError(err));
  if (client instanceof Cluster) client.on('node error', (err: unknown, node: unknown) => onError(err, typeof node === 'string' ? node : undefined));
  client.on('reconnecting', () => {
    down();
    if (saidReconnecting) return;
    saidReconnecting = true;
    log?.warn({ ...base, state: 'reconnecting' }, 'Redis connection lost; reconnecting');
  });
  client.on('ready', () => {
    const wasDown = everUp && !up;
    up = true;
    everUp = true;
    saidError = false;
    saidReconnecting = false;
    if (wasDown) log?.info({ ...base, state: 'ready', down_ms: Date.now() - downSince }, 'Redis connection ready again');
  });
}

export interface ConnectOptions {
  /** Give up connecting after this long (default 5000 ms). */
  readonly connectTimeoutMs?: number;
  readonly forceCluster?: boolean;
  /** Where the connection's state changes are logged (watchRedis). */
  readonly logger?: StoreLogger | undefined;
  /** The connection's name in those lines (default `redis`). */
  readonly name?: string;
}

// Fail fast: no offline queue (a command while disconnected rejects at once instead of waiting for
// the reconnection), one retry at most, and reconnection with a short capped backoff.
const retry = (times: number): number => Math.min(50 * times, 1000);

/** Open a client for `spec` and wait until it is ready; rejects if it is not within the timeout. */
export async function connectRedis(spec: string, opts: ConnectOptions = {}): Promise<Redis | Cluster> {
  const target = parseRedisTarget(spec, opts.forceCluster);
  const connectTimeout = opts.connectTimeoutMs ?? 5000;
  const client =
    target.mode === 'single'
      ? new Redis(target.url, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 1,
          connectTimeout,
          retryStrategy: retry,
        })
      : new Cluster(
          target.nodes.map((n): ClusterNode => ({ host: n.host, port: n.port })),
          {
            lazyConnect: true,
            enableOfflineQueue: false,
            clusterRetryStrategy: retry,
            redisOptions: {
              connectTimeout,
              maxRetriesPerRequest: 1,
              ...(target.username !== undefined ? { username: target.username } : {}),
              ...(target.password !== undefined ? { password: target.password } : {}),
              ...(target.tls ? { tls: {} } : {}),
            },
          },
        );
  const endpoint = redisEndpoint(target);
  watchRedis(client, { logger: opts.logger, name: opts.name ?? 'redis', endpoint });
  await readyWithin(client, connectTimeout, endpoint);
  if (client instanceof Cluster) await warmUp(client, connectTimeout);
  return client;
}

/**
 * ioredis opens the connection to each Cluster node on first use; do it now, so the first events
 * after a start do not spend their budget connecting.
 */
async function warmUp(cluster: Cluster, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.all(cluster.nodes('master').map((n) => n.ping())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
  } catch {
    // A node that does not answer yet is retried by ioredis; the store reports it per event.
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** A fail-fast duplicate of a caller's client (which may queue commands while offline). */
export async function duplicateFailFast(
  client: Redis | Cluster,
  connectTimeoutMs = 5000,
  watch: Omit<WatchOptions, 'name'> & { readonly name?: string } = {},
): Promise<Redis | Cluster> {
  const dup =
    client instanceof Cluster
      ? client.duplicate(undefined, { lazyConnect: true, enableOfflineQueue: false, clusterRetryStrategy: retry })
      : client.duplicate({ lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: retry });
  // A duplicate starts with no listener at all: ioredis would print every connection error.
  const endpoint = watch.endpoint ?? clientEndpoint(client);
  watchRedis(dup, { logger: watch.logger, name: watch.name ?? 'store', endpoint });
  await readyWithin(dup, connectTimeoutMs, endpoint);
  if (dup instanceof Cluster) await warmUp(dup, connectTimeoutMs);
  return dup;
}

/** Connect within `ms`; the client already has its error listener (watchRedis). */
async function readyWithin(client: Redis | Cluster, ms: number, endpoint: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`Redis not ready after ${ms} ms`)), ms);
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw new Error(`cannot reach Redis at ${endpoint}: ${errorMessage(err)}`, { cause: err });
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * One call that runs a whole batch of store commands on a single node, in order, and answers their
 * replies as one array. The batch travels as ONE argument, a JSON array of commands (each an array of
 * strings), decoded by Redis's bundled cjson: ioredis then handles one short command instead of a
 * hundred arguments (flattening, length-prefixing and concatenating each cost more than the whole
 * JSON.stringify). The replies come back the same way, as one JSON string (nil → null, a status
 * reply → its text), which JSON.parse reads far faster than ioredis decodes a nested array reply.
 * Integer replies are counts, well inside cjson's 14 significant digits. The store's scripts (the
 * record-login script of commands.ts, the live-list scripts of lists.ts) are inlined as functions,
 * since a script cannot call another. Keys are not declared (the batch spans many users' and
 * addresses' keys), which a single node allows; a Cluster keeps one pipeline per hash tag instead. A failing command answers `{"e": message}` in its place and the
 * others still run (as in a pipeline), and the caller fails the batch.
 * After the JSON come any number of `key, value, ms` triplets: decision documents (kilobytes each,
 * so plain arguments rather than escaped into the JSON and decoded again), each stored with
 * `SET key value PX ms` BEFORE the commands, so that no failing command of the event that carries
 * them can cost them. The reply's one extra last element says how that went: `true`, or the error.
 */
export const BATCH_COMMAND = 'vigilbatch';
export const BATCH_LUA = `
local scripts = {}
scripts['${RECORD_LOGIN_COMMAND}'] = { 1, function(KEYS, ARGV)
${RECORD_LOGIN_LUA}
end }
${LIST_SCRIPTS.map(
  (sc) => `scripts['${sc.name}'] = { ${sc.keys}, function(KEYS, ARGV)
${sc.lua}
end }`,
).join('\n')}
local function plain(v)
  if v == false then return cjson.null end
  if type(v) == 'table' then
    if v.ok ~= nil then return v.ok end
    if v.err ~= nil then return { e = v.err } end
    local t = {}
    for k = 1, #v do t[k] = plain(v[k]) end
    return t
  end
  return v
end
local stored = true
for i = 2, #ARGV, 3 do
  local r = redis.pcall('SET', ARGV[i], ARGV[i + 1], 'PX', ARGV[i + 2])
  if type(r) == 'table' and r.err ~= nil then stored = r.err break end
end
local cmds = cjson.decode(ARGV[1])
local out = {}
for n = 1, #cmds do
  local c = cmds[n]
  local sc = scripts[c[1]]
  if sc then
    local ok, r = pcall(sc[2], { unpack(c, 2, 1 + sc[1]) }, { unpack(c, 2 + sc[1]) })
    if ok then out[n] = plain(r) else out[n] = { e = type(r) == 'table' and r.err or tostring(r) } end
  else
    out[n] = plain(redis.pcall(unpack(c)))
  end
end
out[#cmds + 1] = stored
return cjson.encode(out)
`;

export interface RedisBackendOptions {
  readonly client: Redis | Cluster;
  /** Close the client on close() (the store opened it). */
  readonly owned: boolean;
  readonly pingTimeoutMs?: number;
}

type NetStream = Redis['stream'];

/** `SET key value PX ms`, the only form of SET the store sends. */
const isSetPx = (c: Cmd): boolean => c.argv[0] === 'set' && c.argv.length === 5 && c.argv[3] === 'PX';

type Replies = [error: Error | null, result: unknown][] | null;

function repliesOf(res: Replies, n: number): unknown[] {
  if (res === null || res.length !== n) throw new Error('pipeline aborted');
  const out = new Array<unknown>(n);
  for (let i = 0; i < n; i++) {
    const [err, v] = res[i] as [Error | null, unknown];
    if (err) throw err;
    out[i] = v;
  }
  return out;
}

export function createRedisBackend(opts: RedisBackendOptions): Backend {
  const { client } = opts;
  const isCluster = client instanceof Cluster;
  // Idempotent; makes the script callable by name in pipelines, as EVALSHA with an EVAL fallback.
  client.defineCommand(RECORD_LOGIN_COMMAND, { numberOfKeys: 1, lua: RECORD_LOGIN_LUA });
  for (const sc of LIST_SCRIPTS) client.defineCommand(sc.name, { numberOfKeys: sc.keys, lua: sc.lua });
  if (!isCluster) {
    client.defineCommand(BATCH_COMMAND, { numberOfKeys: 0, lua: BATCH_LUA });
  }
  let roundTrips = 0;

  // Every pipeline written during one event-loop turn leaves in one writev: the socket is corked at
  // the turn's first write and uncorked once the turn's I/O callbacks have run (setImmediate). Under
  // load one syscall then carries the reads and decision writes of many requests, which saves CPU on
  // both sides of the connection (measured in docs/operations.md § Performance); alone, a request
  // waits only for the rest of its own turn.
  let corked: NetStream | null = null;
  const uncork = (): void => {
    const s = corked;
    corked = null;
    s?.uncork();
  };
  function coalesce(): void {
    if (corked !== null || !(client instanceof Redis)) return;
    const s = client.stream;
    if (!s) return;
    corked = s;
    s.cork();
    setImmediate(uncork);
  }

  // A single node runs the whole batch as one script call (see BATCH_LUA): one command object, one
  // promise and one reply on this side instead of one per command.
  const batch = (json: string, sets: readonly string[]): Promise<unknown> =>
    (client as unknown as { [BATCH_COMMAND]: (json: string, ...sets: string[]) => Promise<unknown> })[BATCH_COMMAND](json, ...sets);

  /** Run `cmds` and store the decision SETs `carried` in one script call (see BATCH_LUA). */
  function execCarrying(cmds: readonly Cmd[], carried: readonly Cmd[]): { replies: Promise<unknown[]>; carried: Promise<void> } {
    // The batch and the documents go as strings: handing ioredis Buffers instead measured slower
    // (docs/operations.md § Performance).
    const sets = new Array<string>(carried.length * 3);
    for (let i = 0; i < carried.length; i++) {
      const a = (carried[i] as Cmd).argv;
      if (!isSetPx(carried[i] as Cmd)) throw new TypeError('only SET key value PX ms can be carried');
      sets[3 * i] = String(a[1]);
      sets[3 * i + 1] = String(a[2]);
      sets[3 * i + 2] = String(a[4]);
    }
    // Numbers go as their JavaScript string form: Lua would print a decoded number its own way.
    const list = new Array<string[]>(cmds.length);
    for (let i = 0; i < cmds.length; i++) {
      const a = (cmds[i] as Cmd).argv;
      const out = new Array<string>(a.length);
      for (let j = 0; j < a.length; j++) out[j] = String(a[j]);
      list[i] = out;
    }
    roundTrips++;
    coalesce();
    const reply = batch(JSON.stringify(list), sets).then((raw) => {
      const all: unknown = typeof raw === 'string' ? JSON.parse(raw) : null;
      if (!Array.isArray(all) || all.length !== cmds.length + 1) throw new Error('batch reply does not match its commands');
      const stored: unknown = all.pop();
      return { replies: all as unknown[], stored };
    });
    return {
      replies: reply.then(({ replies }) => {
        for (let i = 0; i < replies.length; i++) {
          const r: unknown = replies[i];
          if (r === null || typeof r !== 'object' || Array.isArray(r)) continue;
          const e = (r as { e?: unknown }).e;
          if (e !== undefined) throw new Error(String(e));
          // cjson writes an empty array as {}.
          replies[i] = [];
        }
        return replies;
      }),
      carried: reply.then(({ stored }) => {
        if (stored !== true) throw new Error(`decision not stored: ${String(stored)}`);
      }),
    };
  }

  async function execSingle(cmds: readonly Cmd[]): Promise<unknown[]> {
    const first = cmds[0];
    if (cmds.length === 1 && first !== undefined && !SCRIPT_COMMANDS.has(first.argv[0])) {
      // One plain command (a decision's GET): sent as itself.
      roundTrips++;
      coalesce();
      const [name, ...args] = first.argv;
      return [await client.call(name, ...args)];
    }
    const r = execCarrying(cmds, []);
    r.carried.catch(() => undefined);
    return r.replies;
  }

  async function execCluster(cmds: readonly Cmd[]): Promise<unknown[]> {
    // One pipeline per hash tag: its keys share a slot, so it is valid on Cluster; the groups go out
    // concurrently, so the event still costs one round-trip time.
    const groups = new Map<string, number[]>();
    for (let i = 0; i < cmds.length; i++) {
      const tag = (cmds[i] as Cmd).tag;
      const g = groups.get(tag);
      if (g) g.push(i);
      else groups.set(tag, [i]);
    }
    const out = new Array<unknown>(cmds.length);
    await Promise.all(
      [...groups.values()].map(async (idx) => {
        roundTrips++;
        const res = await client.pipeline(idx.map((i) => (cmds[i] as Cmd).argv as unknown as unknown[])).exec();
        const replies = repliesOf(res, idx.length);
        for (let j = 0; j < idx.length; j++) out[idx[j] as number] = replies[j];
      }),
    );
    return out;
  }

  async function scanErase(node: Redis, pattern: string): Promise<number> {
    let cursor = '0';
    let n = 0;
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) n += await node.unlink(...found);
    } while (cursor !== '0');
    return n;
  }

  async function slotErase(cluster: Cluster, stem: string): Promise<number> {
    // Every key of the user shares one slot: list that slot on its master instead of scanning.
    const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', stem));
    let n = 0;
    for (const node of cluster.nodes('master')) {
      const count = Number(await node.call('CLUSTER', 'COUNTKEYSINSLOT', slot));
      if (count === 0) continue;
      const inSlot = (await node.call('CLUSTER', 'GETKEYSINSLOT', slot, count)) as string[];
      const mine = inSlot.filter((k) => k.startsWith(stem));
      if (mine.length > 0) n += await node.unlink(...mine);
    }
    return n;
  }

  return {
    kind: isCluster ? 'cluster' : 'redis',
    redis: client,
    get roundTrips() {
      return roundTrips;
    },
    exec: isCluster ? execCluster : execSingle,
    ...(isCluster ? {} : { execCarrying }),
    ready: () => client.status === 'ready',
    eraseStem: (stem) => (client instanceof Cluster ? slotErase(client, stem) : scanErase(client, globEscape(stem) + '*')),
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      try {
        const pong = await Promise.race([
          client.ping(),
          new Promise<null>((resolve) => {
            timer = setTimeout(resolve, opts.pingTimeoutMs ?? 1000, null);
          }),
        ]);
        return pong === 'PONG';
      } catch {
        return false;
      } finally {
        if (timer) clearTimeout(timer);
      }
    },
    async close() {
      if (!opts.owned) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
