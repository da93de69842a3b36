// The `ua` signal source: browser, OS and device type from the User-Agent header, by ua-parser-js 1.x (MIT; v2 is AGPL)
// with its default (browser) tables only. Its bot/CLI extensions are deliberately not loaded: the
// catalog promises `ua.*` missing for scripts and unknown clients (docs/dsl.md), and the shipped
// pack's `unrecognised_client` rule is `not present(ua.browser)`; naming `curl` as a browser
// would silence it. Parsing is slow next to everything else an event costs (docs/signals.md) and
// sign-in traffic repeats a few thousand distinct agents, so results are memoised in a bounded LRU;
// input is capped in length.
import { UAParser } from 'ua-parser-js';

export interface UserAgentInfo {
  /** e.g. `Chrome`, `Mobile Safari`, `Firefox`, `Edge`, `Samsung Internet`; absent for scripts and bots. */
  readonly browser?: string;
  /** e.g. `Windows`, `macOS`, `iOS`, `Android`, `Linux`, `Chrome OS`. */
  readonly os?: string;
  /** `desktop`, `mobile`, `tablet`, `smarttv`, `console`, `wearable`, `xr` or `embedded`. */
  readonly deviceType?: string;
}

export interface UserAgentParser {
  /** Never throws; `{}` for a missing, empty or unrecognisable agent. Results are shared and frozen. */
  parse(ua: string | undefined): UserAgentInfo;
  /** Entries in the cache now. */
  readonly cacheSize: number;
}

export interface UserAgentParserOptions {
  /** Distinct agents remembered (default 2048). */
  readonly cacheSize?: number;
  /** Characters of the agent parsed (default UA_MAX_LENGTH); the rest is ignored. */
  readonly maxLength?: number;
}

/**
 * Real agents stay under ~300 characters; past 512 there is nothing but padding or an attack on the
 * parser's regexes, and the cache key must stay small.
 */
export const UA_MAX_LENGTH = 512;
const DEFAULT_CACHE_SIZE = 2048;

/**
 * ua-parser-js leaves `device.type` empty for desktops (it reports only what the agent names), so
 * an agent on one of these operating systems without a device type is called `desktop`. A script
 * names no OS and so gets no device type.
 */
export const DESKTOP_OS: ReadonlySet<string> = new Set([
  'Windows',
  'macOS',
  'Mac OS',
  'Linux',
  'Chrome OS',
  'Chromium OS',
  'Ubuntu',
  'Kubuntu',
  'Xubuntu',
  'Debian',
  'Fedora',
  'Mint',
  'Arch',
  'Manjaro',
  'Gentoo',
  'Slackware',
  'SUSE',
  'RedHat',
  'CentOS',
  'Mandriva',
  'Mageia',
  'elementary OS',
  'Deepin',
  'PCLinuxOS',
  'Zenwalk',
  'VectorLinux',
  'Knoppix',
  'Linspire',
  'Linpus',
  'Sabayon',
  'FreeBSD',
  'OpenBSD',
  'NetBSD',
  'DragonFly',
  'GhostBSD',
  'PC-BSD',
  'Solaris',
  'Unix',
  'AIX',
  'HP-UX',
  'Haiku',
  'BeOS',
  'OS/2',
  'ArcaOS',
]);

const EMPTY: UserAgentInfo = Object.freeze({});

/** ua-parser-js 1.x names a few systems by older names; keep today's so rules read naturally. */
const OS_NAMES: Readonly<Record<string, string>> = { 'Mac OS': 'macOS', 'Chromium OS': 'Chrome OS' };

export function createUserAgentParser(opts: UserAgentParserOptions = {}): UserAgentParser {
  const max = Math.max(1, opts.cacheSize ?? DEFAULT_CACHE_SIZE);
  const maxLength = Math.max(1, opts.maxLength ?? UA_MAX_LENGTH);
  const parser = new UAParser();
  // A Map iterates in insertion order: re-inserting on a hit makes the first key the least recent.
  const cache = new Map<string, UserAgentInfo>();

  const compute = (ua: string): UserAgentInfo => {
    const r = parser.setUA(ua).getResult();
    const browser = nonEmpty(r.browser.name);
    const rawOs = nonEmpty(r.os.name);
    const os = rawOs !== undefined ? (OS_NAMES[rawOs] ?? rawOs) : undefined;
    const deviceType = nonEmpty(r.device.type) ?? (os !== undefined && DESKTOP_OS.has(os) ? 'desktop' : undefined);
    if (browser === undefined && os === undefined && deviceType === undefined) return EMPTY;
    return Object.freeze({
      ...(browser !== undefined ? { browser } : {}),
      ...(os !== undefined ? { os } : {}),
      ...(deviceType !== undefined ? { deviceType } : {}),
    });
  };

  return {
    parse(ua: string | undefined): UserAgentInfo {
      if (typeof ua !== 'string' || ua.length === 0) return EMPTY;
      const key = ua.length > maxLength ? ua.slice(0, maxLength) : ua;
      const hit = cache.get(key);
      if (hit !== undefined) {
        cache.delete(key);
        cache.set(key, hit);
        return hit;
      }
      let info: UserAgentInfo;
      try {
        info = compute(key);
      } catch {
        // The parser is regex tables over untrusted text; a failure there is an unknown agent.
        info = EMPTY;
      }
      cache.set(key, info);
      if (cache.size > max) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      return info;
    },
    get cacheSize(): number {
      return cache.size;
    },
  };
}

function nonEmpty(s: string | undefined): string | undefined {
  return typeof s === 'string' && s.length > 0 ? s : undefined;
}

let shared: UserAgentParser | undefined;

/**
 * Parse with a process-wide parser (created on first use). Its cache is bounded and holds only a
 * pure function's results, so sharing it is safe; code that wants its own cache size or isolation
 * uses createUserAgentParser.
 */
export function parseUserAgent(ua: string | undefined): UserAgentInfo {
  shared ??= createUserAgentParser();
  return shared.parse(ua);
}
