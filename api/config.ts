// Server configuration: every environment variable of interfaces.md "Configuration", validated with
// zod once at start. A bad value never reaches a running server: `loadConfig` throws one ConfigError
// naming every bad variable (never echoing a secret), and the server refuses to start.
import { errorMessage } from '../common/errors.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { parseRecordTarget, type RecordTarget } from '../engine/recorder.ts';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { packageRoot } from '../common/paths.ts';
import { parseRedisTarget, type RedisTarget as StoreRedisTarget } from '../features/store/index.ts';

/** The project root (common/paths.ts), against which the shipped defaults resolve whatever the cwd. */
export const PROJECT_ROOT = packageRoot();
export const DEFAULT_RULES = resolve(PROJECT_ROOT, 'rules/login_core');

/** REDIS_URL parsed (features/store's parser, so the store and the server agree), or none. */
export type RedisConfig = { readonly mode: 'none' } | StoreRedisTarget;

/**
 * Connection limits of the HTTP server (docs/operations.md § Connections), ms. Node checks the head
 * and request deadlines on a timer (api/app.ts createHttpServer sets how often).
 */
export interface HttpLimits {
  /** VIGIL_HEADERS_TIMEOUT: the request line and headers must arrive within this. */
  readonly headersTimeoutMs: number;
  /** VIGIL_REQUEST_TIMEOUT: the whole request (head and body) must arrive within this. */
  readonly requestTimeoutMs: number;
  /** VIGIL_BODY_TIMEOUT: a request body that stops arriving (not one byte) for this long is answered 408. */
  readonly bodyTimeoutMs: number;
  /** VIGIL_KEEPALIVE_TIMEOUT: an idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMs: number;
}

// Longer keep-alive than the usual 60 s idle timeout of load balancers: they close first, never Vigil
// under a request they are about to send.
export const HTTP_LIMITS: HttpLimits = Object.freeze({
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 15_000,
  bodyTimeoutMs: 5_000,
  keepAliveTimeoutMs: 65_000,
});

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Config {
  readonly port: number;
  /** REDIS_URL as given (undefined: in-process store). */
  readonly redisUrl: string | undefined;
  readonly redis: RedisConfig;
  /** VIGIL_RULES, absolute: a pack directory or a single `.rules` file. */
  readonly rulesPath: string;
  /** MMDB paths; undefined: the signal source's bundled default. */
  readonly geoipCity: string | undefined;
  readonly geoipAsn: string | undefined;
  readonly geoipAnon: string | undefined;
  /** ONNX path; undefined: the shipped model. */
  readonly model: string | undefined;
  /** VIGIL_RECORD: where evaluated events are appended for training (undefined: off). */
  readonly record: RecordTarget | undefined;
  readonly apiToken: string | undefined;
  readonly adminToken: string | undefined;
  /**
   * VIGIL_ADMIN_RATE_LIMIT: requests a minute one client may make to the admin routes, failed
   * authentications included (api/guard.ts); 0 turns the limit off.
   */
  readonly adminRateLimit: number;
  readonly hashSecret: string;
  /**
   * True when VIGIL_HASH_SECRET was unset (refused in production) and a random per-process secret
   * is in use, as features/privacy.ts resolveHashSecret does: history then lives as long as the
   * process. The server warns; under workers the primary hands its secret to every worker.
   */
  readonly hashSecretGenerated: boolean;
  /** VIGIL_RETENTION_DAYS: history in the store, and decisions in the decision log. */
  readonly retentionDays: number;
  /**
   * VIGIL_DECISION_LOG (postgres://…); undefined: PGlite in process (in VIGIL_DATA_DIR, else in
   * memory); 'off': no decision log at all (decisions live only in the outcome window).
   */
  readonly decisionLog: string | undefined;
  /** VIGIL_DECISION_LOG_SCHEMA: the PostgreSQL schema the log's tables live in (default `vigil`). */
  readonly decisionLogSchema: string;
  /** VIGIL_DATA_DIR, absolute: PGlite's database and the decision log's spool; undefined: none kept. */
  readonly dataDir: string | undefined;
  /** VIGIL_OUTCOME_WINDOW in seconds (default 1 h, at most 7 d): how long the store keeps a decision. */
  readonly outcomeWindowSeconds: number;
  /**
   * VIGIL_SESSION_WINDOW in seconds (default 24 h, at most 30 d): how long a sign-in's session record
   * is kept for the session.* features of the account changes that name it.
   */
  readonly sessionWindowSeconds: number;
  readonly signalTimeoutMs: number;
  readonly maxSkewMs: number;
  readonly workers: number;
  /** VIGIL_PACK_CHECK_TIMEOUT in ms: how long one uploaded pack's check may run in its worker. */
  readonly packCheckTimeoutMs: number;
  /** VIGIL_PACK_CHECK_MEMORY_MB: the heap a pack-check worker may grow to. */
  readonly packCheckMemoryMb: number;
  readonly logLevel: LogLevel;
  readonly production: boolean;
  readonly http: HttpLimits;
}

export { ConfigError, type ConfigIssue } from './errors.ts';

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `250ms`, `30s`, `5m`, `2h`, `7d` → milliseconds; undefined for anything else. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text);
  if (!m) return undefined;
  return Number(m[1]) * DURATION_UNITS_MS[m[2] as keyof typeof DURATION_UNITS_MS];
}

const SECRET_MIN = 16;

/**
 * Admin requests a minute per client. The console makes a few calls per view and the CLI one to
 * three per command, so people stay far below it; a script guessing tokens or looping over
 * backtests does not.
 */
export const DEFAULT_ADMIN_RATE_LIMIT = 120;

function intVar(min: number, max: number, dflt: number) {
  return z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return dflt;
      if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max} (got ${JSON.stringify(s)})` });
        return z.NEVER;
      }
      return Number(s);
    });
}

function secretVar(what: string) {
  // An empty secret most likely is a failed secret injection; refusing it beats silently
  // disabling auth. Values are never echoed.
  return z
    .string()
    .optional()
    .refine((s) => s === undefined || s.length >= SECRET_MIN, {
      message: `${what} must be at least ${SECRET_MIN} characters (unset the variable to disable it)`,
    })
    .refine((s) => s === undefined || !/\s/.test(s), { message: `${what} must not contain whitespace` });
}

function pathVar(kind: 'file' | 'file-or-dir') {
  return z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const abs = resolve(s);
      if (!existsSync(abs)) {
        ctx.addIssue({ code: 'custom', message: `${abs} does not exist` });
        return z.NEVER;
      }
      if (kind === 'file' && !statSync(abs).isFile()) {
        ctx.addIssue({ code: 'custom', message: `${abs} is not a file` });
        return z.NEVER;
      }
      return abs;
    });
}

/** A duration variable (`30s`, `5m`, `2h`, `7d`) → ms, within (0, maxMs]. */
function durationVar(dfltMs: number, maxMs: number) {
  return z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return dfltMs;
      const ms = parseDuration(s);
      if (ms === undefined || ms <= 0 || ms > maxMs) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a positive duration such as 30s, 5m, 2h or 7d, at most ${formatMs(maxMs)} (got ${JSON.stringify(s)})`,
        });
        return z.NEVER;
      }
      return ms;
    });
}

function formatMs(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return ms % 60_000 === 0 ? `${ms / 60_000}m` : `${ms / 1000}s`;
}

function postgresUrl(s: string | undefined, ctx: z.RefinementCtx): string | undefined {
  if (s === undefined || s === 'off') return s;
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    u = new URL('invalid:');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    // Never echo the value: a connection string may carry a password.
    ctx.addIssue({ code: 'custom', message: 'must be a postgres:// or postgresql:// connection URL, or off (unset: an in-process PGlite database)' });
    return z.NEVER;
  }
  return s;
}

function parseRedis(s: string | undefined, ctx: z.RefinementCtx): RedisConfig {
  if (s === undefined) return { mode: 'none' };
  try {
    return parseRedisTarget(s);
  } catch (err) {
    ctx.addIssue({
      code: 'custom',
      message: `${errorMessage(err).replace(/^REDIS_URL:? ?/, '')} (expected redis://…, rediss://…, or a comma list of cluster nodes host:port)`,
    });
    return z.NEVER;
  }
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const envSchema = z.object({
  PORT: intVar(0, 65535, 8080),
  REDIS_URL: z.string().optional().transform(parseRedis),
  VIGIL_RULES: pathVar('file-or-dir'),
  VIGIL_GEOIP_CITY: pathVar('file'),
  VIGIL_GEOIP_ASN: pathVar('file'),
  VIGIL_GEOIP_ANON: pathVar('file'),
  VIGIL_MODEL: pathVar('file'),
  VIGIL_RECORD: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const t = parseRecordTarget(s);
      if (!t) {
        ctx.addIssue({ code: 'custom', message: `must be file:/path/events.ndjson or redis:STREAM (got ${JSON.stringify(s)})` });
        return z.NEVER;
      }
      return t;
    }),
  VIGIL_API_TOKEN: secretVar('the API token'),
  VIGIL_ADMIN_TOKEN: secretVar('the admin token'),
  VIGIL_HASH_SECRET: secretVar('the hash secret'),
  VIGIL_ADMIN_RATE_LIMIT: intVar(0, 1_000_000, DEFAULT_ADMIN_RATE_LIMIT),
  VIGIL_RETENTION_DAYS: intVar(1, 36_500, 180),
  VIGIL_SIGNAL_TIMEOUT_MS: intVar(1, 60_000, 25),
  VIGIL_MAX_SKEW: durationVar(5 * 60_000, 3650 * 86_400_000),
  VIGIL_DECISION_LOG: z.string().optional().transform(postgresUrl),
  VIGIL_DECISION_LOG_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier ([a-z_][a-z0-9_]*, at most 63 characters)')
    .optional(),
  VIGIL_DATA_DIR: z
    .string()
    .optional()
    .transform((s, ctx) => {
      if (s === undefined) return undefined;
      const abs = resolve(s);
      if (existsSync(abs) && !statSync(abs).isDirectory()) {
        ctx.addIssue({ code: 'custom', message: `${abs} is not a directory` });
        return z.NEVER;
      }
      return abs;
    }),
  VIGIL_OUTCOME_WINDOW: durationVar(3_600_000, 7 * 86_400_000),
  VIGIL_SESSION_WINDOW: durationVar(86_400_000, 30 * 86_400_000),
  VIGIL_WORKERS: intVar(1, 256, 1),
  VIGIL_HEADERS_TIMEOUT: durationVar(HTTP_LIMITS.headersTimeoutMs, 600_000),
  VIGIL_REQUEST_TIMEOUT: durationVar(HTTP_LIMITS.requestTimeoutMs, 600_000),
  VIGIL_BODY_TIMEOUT: durationVar(HTTP_LIMITS.bodyTimeoutMs, 600_000),
  VIGIL_KEEPALIVE_TIMEOUT: durationVar(HTTP_LIMITS.keepAliveTimeoutMs, 3_600_000),
  VIGIL_PACK_CHECK_TIMEOUT: durationVar(10_000, 600_000),
  VIGIL_PACK_CHECK_MEMORY_MB: intVar(64, 16_384, 512),
  VIGIL_LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).optional(),
  NODE_ENV: z.string().optional(),
});

/** Every variable the server reads (what a deployment may set: test/deploy checks compose.yaml and the Dockerfile). */
export const CONFIG_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

const SECRET_VARS = new Set(['VIGIL_API_TOKEN', 'VIGIL_ADMIN_TOKEN', 'VIGIL_HASH_SECRET']);

/**
 * Validate the environment. Empty values count as unset, except for the tokens and the hash
 * secret, where an empty value is refused.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    raw[key] = v === '' && !SECRET_VARS.has(key) ? undefined : v;
  }
  const parsed = envSchema.safeParse(raw);
  const issues: ConfigIssue[] = [];
  if (!parsed.success) {
    for (const i of parsed.error.issues) issues.push({ variable: String(i.path[0] ?? '?'), message: i.message });
  }
  const production = env.NODE_ENV === 'production';
  if (production && (env.VIGIL_HASH_SECRET === undefined || env.VIGIL_HASH_SECRET === '')) {
    issues.push({
      variable: 'VIGIL_HASH_SECRET',
      message: 'is required when NODE_ENV=production (identifiers are stored as HMACs keyed by it)',
    });
  }
  if (parsed.success && parsed.data.VIGIL_WORKERS > 1 && parsed.data.REDIS_URL.mode === 'none') {
    issues.push({
      variable: 'VIGIL_WORKERS',
      message: 'more than one worker needs REDIS_URL (each worker would keep its own in-process store)',
    });
  }
  if (parsed.success && parsed.data.VIGIL_WORKERS > 1 && parsed.data.VIGIL_DECISION_LOG === undefined) {
    issues.push({
      variable: 'VIGIL_WORKERS',
      message: 'more than one worker needs VIGIL_DECISION_LOG (each worker would keep its own in-process database)',
    });
  }
  if (parsed.success && parsed.data.VIGIL_HEADERS_TIMEOUT > parsed.data.VIGIL_REQUEST_TIMEOUT) {
    issues.push({
      variable: 'VIGIL_HEADERS_TIMEOUT',
      message: `must not be longer than VIGIL_REQUEST_TIMEOUT (${formatMs(parsed.data.VIGIL_REQUEST_TIMEOUT)}): the head is part of the request`,
    });
  }
  if (issues.length > 0 || !parsed.success) throw new ConfigError(dedupe(issues));
  const d = parsed.data;
  return {
    port: d.PORT,
    redisUrl: d.REDIS_URL.mode === 'none' ? undefined : raw.REDIS_URL,
    redis: d.REDIS_URL,
    rulesPath: d.VIGIL_RULES ?? DEFAULT_RULES,
    geoipCity: d.VIGIL_GEOIP_CITY,
    geoipAsn: d.VIGIL_GEOIP_ASN,
    geoipAnon: d.VIGIL_GEOIP_ANON,
    model: d.VIGIL_MODEL,
    record: d.VIGIL_RECORD,
    apiToken: d.VIGIL_API_TOKEN,
    adminToken: d.VIGIL_ADMIN_TOKEN,
    adminRateLimit: d.VIGIL_ADMIN_RATE_LIMIT,
    hashSecret: d.VIGIL_HASH_SECRET ?? randomBytes(32).toString('base64url'),
    hashSecretGenerated: d.VIGIL_HASH_SECRET === undefined,
    retentionDays: d.VIGIL_RETENTION_DAYS,
    decisionLog: d.VIGIL_DECISION_LOG,
    decisionLogSchema: d.VIGIL_DECISION_LOG_SCHEMA ?? 'vigil',
    dataDir: d.VIGIL_DATA_DIR,
    outcomeWindowSeconds: d.VIGIL_OUTCOME_WINDOW / 1000,
    sessionWindowSeconds: d.VIGIL_SESSION_WINDOW / 1000,
    signalTimeoutMs: d.VIGIL_SIGNAL_TIMEOUT_MS,
    maxSkewMs: d.VIGIL_MAX_SKEW,
    workers: d.VIGIL_WORKERS,
    packCheckTimeoutMs: d.VIGIL_PACK_CHECK_TIMEOUT,
    packCheckMemoryMb: d.VIGIL_PACK_CHECK_MEMORY_MB,
    logLevel: d.VIGIL_LOG_LEVEL ?? 'info',
    production,
    http: {
      headersTimeoutMs: d.VIGIL_HEADERS_TIMEOUT,
      requestTimeoutMs: d.VIGIL_REQUEST_TIMEOUT,
      bodyTimeoutMs: d.VIGIL_BODY_TIMEOUT,
      keepAliveTimeoutMs: d.VIGIL_KEEPALIVE_TIMEOUT,
    },
  };
}

function dedupe(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = `${i.variable}\0${i.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
