// The Redis pack repository: the pack history (append-only, newest first, capped), the files of
// each pack in it, the set of hashes ever activated, the shadow pack, the rule overrides, and the
// pub/sub channel every instance follows. Each change is one Lua script or MULTI on keys sharing a
// hash tag, so it is atomic and runs on Redis Cluster. Beside the contract: how many instances
// follow the channel (a start against an empty Redis asks them before publishing a pack of its
// own, engine/packs/restore.ts), everything stored (copied once into PostgreSQL by
// engine/packs/durable.ts), and the copy of the head the PostgreSQL repository keeps here.
import { Cluster, type ChainableCommander, type Redis } from 'ioredis';
import { PACK_HISTORY_LENGTH, type PackFiles, type PackMeta, type PackRepository, type RollbackOutcome, type RuleOverride } from './types.ts';

export interface RedisPackRepositoryOptions {
  /** Commands. Not closed by the repository (the caller shares it with the signal store). */
  readonly client: Redis | Cluster;
  /** A dedicated connection for SUBSCRIBE (e.g. `client.duplicate()`); closed by `close()`. */
  readonly subscriber: Redis | Cluster;
  /** Key and channel prefix; default `vigil`. */
  readonly prefix?: string;
  readonly maxHistory?: number;
}

// Drops the files of packs no history entry refers to any more.
const GC = `
local function gc(dropped)
  if #dropped == 0 then return end
  local live = {}
  for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do live[cjson.decode(e).hash] = true end
  for _, e in ipairs(dropped) do
    local h = cjson.decode(e).hash
    if not live[h] then redis.call('HDEL', KEYS[2], h) end
  end
end
-- Keeps the newest max entries; the files of the dropped ones go unless a kept entry names them.
local function trim(max)
  local dropped = redis.call('LRANGE', KEYS[1], max, -1)
  if #dropped > 0 then
    redis.call('LTRIM', KEYS[1], 0, max - 1)
    gc(dropped)
  end
end
`;

// KEYS: history, files, seen. ARGV: meta json (without previous_hash), hash, files json, max
// history. The entry gets the head's hash as its previous_hash, read in the same script.
const PUSH =
  GC +
  `
local head = redis.call('LINDEX', KEYS[1], 0)
local prev = 'null'
if head then
  local h = cjson.decode(head).hash
  if h == ARGV[2] then return {0, head} end
  prev = cjson.encode(h)
end
local entry = string.sub(ARGV[1], 1, -2) .. ',"previous_hash":' .. prev .. '}'
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('LPUSH', KEYS[1], entry)
redis.call('SADD', KEYS[3], ARGV[2])
trim(tonumber(ARGV[4]))
return {1, entry}
`;

// KEYS: history, files. ARGV: head id, entry json, its hash, max history. Appends the rollback
// entry on top; the entry rolled away from stays below it.
const ROLLBACK =
  GC +
  `
local head = redis.call('LINDEX', KEYS[1], 0)
if not head then return 'none' end
if cjson.decode(head).id ~= ARGV[1] then return 'conflict' end
if redis.call('HEXISTS', KEYS[2], ARGV[3]) == 0 then return 'conflict' end
redis.call('LPUSH', KEYS[1], ARGV[2])
trim(tonumber(ARGV[4]))
return 'ok'
`;

/** A copy of what the repository holds, newest entry first (an upgrade's one-time import). */
export interface RedisPackDump {
  readonly entries: PackMeta[];
  readonly files: Record<string, { files: PackFiles; root: string }>;
  readonly seen: string[];
  readonly shadow: { entry: PackMeta; files: PackFiles; root: string } | null;
  readonly overrides: RuleOverride[];
}

export interface RedisPackRepository extends PackRepository {
  /** Connections subscribed to the change channel (every node of a cluster counted). */
  peers(): Promise<number>;
  dump(): Promise<RedisPackDump>;
  /** Record hashes as activated before (a restore re-adds what the lost set held, as far as known). */
  markSeen(hashes: readonly string[]): Promise<void>;
  /** The head's copy (`{prefix:packs}:head`) kept by the PostgreSQL repository. */
  readonly headCopy: {
    /** Write `entry` if no copy exists; true when this call wrote it (the copy was missing). */
    claim(entry: PackMeta): Promise<boolean>;
    set(entry: PackMeta): Promise<void>;
  };
}

export function createRedisPackRepository(opts: RedisPackRepositoryOptions): RedisPackRepository {
  const prefix = opts.prefix ?? 'vigil';
  const tag = `{${prefix}:packs}`;
  const kHistory = `${tag}:history`;
  const kFiles = `${tag}:files`;
  const kSeen = `${tag}:seen`;
  // The shadow pack's entry apart from its files: every sync reads the entry, only a change the files.
  const kShadow = `${tag}:shadow`;
  const kShadowFiles = `${tag}:shadow:files`;
  const kOverrides = `${tag}:overrides`;
  const kHead = `${tag}:head`;
  const channel = `${prefix}:packs:changed`;
  const maxHistory = opts.maxHistory ?? PACK_HISTORY_LENGTH;
  const { client, subscriber } = opts;

  return {
    async list(limit) {
      const raw = await client.lrange(kHistory, 0, limit - 1);
      return raw.map(parseMeta);
    },
    async files(hash) {
      const raw = await client.hget(kFiles, hash);
      if (raw === null) return null;
      const v = JSON.parse(raw) as { files: PackFiles; root: string };
      return { files: v.files, root: v.root };
    },
    async push(meta, files, root) {
      const r = (await client.eval(
        PUSH,
        3,
        kHistory,
        kFiles,
        kSeen,
        // The script closes the object after previous_hash: a meta carrying one would hold two.
        JSON.stringify({ ...meta, previous_hash: undefined }),
        meta.hash,
        JSON.stringify({ files, root }),
        String(maxHistory),
      )) as [number, string];
      return { pushed: r[0] === 1, head: parseMeta(r[1]) };
    },
    async rollback(headId, entry): Promise<RollbackOutcome> {
      const r = (await client.eval(ROLLBACK, 2, kHistory, kFiles, headId, JSON.stringify(entry), entry.hash, String(maxHistory))) as string;
      if (r === 'ok') return { result: 'ok', head: entry };
      return r === 'none' ? { result: 'none' } : { result: 'conflict' };
    },
    async seen(hash) {
      return (await client.sismember(kSeen, hash)) === 1;
    },
    async publish(id) {
      await client.publish(channel, id);
    },
    async subscribe(onChange) {
      subscriber.on('message', (ch: string) => {
        if (ch === channel) onChange();
      });
      // ioredis resubscribes after a reconnect, but messages sent meanwhile are lost: resync.
      subscriber.on('ready', () => onChange());
      await subscriber.subscribe(channel);
    },
    async shadow() {
      const raw = await client.get(kShadow);
      return raw === null ? null : parseMeta(raw);
    },
    async shadowFiles(id) {
      const raw = await client.get(kShadowFiles);
      if (raw === null) return null;
      const v = JSON.parse(raw) as { id: string; files: PackFiles; root: string };
      return v.id === id ? { files: v.files, root: v.root } : null;
    },
    async setShadow(meta, files, root) {
      await exec(
        client
          .multi()
          .set(kShadow, JSON.stringify(meta))
          .set(kShadowFiles, JSON.stringify({ id: meta.id, files, root })),
      );
    },
    async clearShadow() {
      const [raw] = await exec(client.multi().get(kShadow).del(kShadow, kShadowFiles));
      return typeof raw === 'string' ? parseMeta(raw) : null;
    },
    async overrides() {
      const all = await client.hgetall(kOverrides);
      return Object.values(all).map(parseOverride);
    },
    async setOverride(o, expired) {
      const m = client.multi();
      if (expired.length > 0) m.hdel(kOverrides, ...expired);
      await exec(m.hset(kOverrides, o.rule, JSON.stringify(o)));
    },
    async clearOverride(rule) {
      const [raw] = await exec(client.multi().hget(kOverrides, rule).hdel(kOverrides, rule));
      return typeof raw === 'string' ? parseOverride(raw) : null;
    },
    async peers() {
      const nodes = client instanceof Cluster ? client.nodes('all') : [client];
      let n = 0;
      for (const node of nodes) {
        const r = (await node.pubsub('NUMSUB', channel)) as [string, number | string];
        n += Number(r[1] ?? 0);
      }
      return n;
    },
    async dump() {
      const [history, files, seen, shadow, shadowFiles, overrides] = await Promise.all([
        client.lrange(kHistory, 0, -1),
        client.hgetall(kFiles),
        client.smembers(kSeen),
        client.get(kShadow),
        client.get(kShadowFiles),
        client.hgetall(kOverrides),
      ]);
      const sf = shadowFiles === null ? null : (JSON.parse(shadowFiles) as { id: string; files: PackFiles; root: string });
      const sm = shadow === null ? null : parseMeta(shadow);
      return {
        entries: history.map(parseMeta),
        files: Object.fromEntries(Object.entries(files).map(([h, raw]) => [h, JSON.parse(raw) as { files: PackFiles; root: string }])),
        seen,
        shadow: sm && sf && sf.id === sm.id ? { entry: sm, files: sf.files, root: sf.root } : null,
        overrides: Object.values(overrides).map(parseOverride),
      };
    },
    async markSeen(hashes) {
      if (hashes.length > 0) await client.sadd(kSeen, ...hashes);
    },
    headCopy: {
      async claim(entry) {
        return (await client.set(kHead, JSON.stringify(entry), 'NX')) === 'OK';
      },
      async set(entry) {
        await client.set(kHead, JSON.stringify(entry));
      },
    },
    async close() {
      try {
        await subscriber.quit();
      } catch {
        subscriber.disconnect();
      }
    },
  };
}

function parseMeta(raw: string): PackMeta {
  return metaOf(JSON.parse(raw) as object);
}

/** A history entry from its stored JSON object (Redis or PostgreSQL). */
export function metaOf(v: object): PackMeta {
  // Entries written before the history was append-only lack `action` and `previous_hash`.
  const m = v as Partial<PackMeta> & Pick<PackMeta, 'id' | 'name' | 'version' | 'hash' | 'activated_at' | 'by' | 'source'>;
  return {
    id: m.id,
    name: m.name,
    version: m.version,
    hash: m.hash,
    activated_at: m.activated_at,
    by: m.by,
    source: m.source,
    action: m.action ?? (m.source === 'rollback' ? 'rollback' : 'activate'),
    previous_hash: m.previous_hash ?? null,
    ...(typeof m.reason === 'string' ? { reason: m.reason } : {}),
    ...(m.forced === true ? { forced: true } : {}),
  };
}

/** A MULTI's replies; a command's error (or a discarded transaction) rejects. */
async function exec(m: ChainableCommander): Promise<unknown[]> {
  const replies = await m.exec();
  if (replies === null) throw new Error('the Redis transaction was discarded');
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply;
  });
}

function parseOverride(raw: string): RuleOverride {
  return overrideOf(JSON.parse(raw) as object);
}

/** An override from its stored JSON object (Redis or PostgreSQL). */
export function overrideOf(v: object): RuleOverride {
  const o = v as RuleOverride;
  return { rule: o.rule, mode: o.mode, reason: o.reason, by: o.by, set_at: o.set_at, expires_at: o.expires_at };
}
