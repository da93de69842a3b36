// Configuration: defaults, every variable's validation, the production secret rule, and that one
// ConfigError names every bad variable without echoing secrets.
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_RULES, loadConfig, parseDuration } from '../../api/config.ts';

const GOOD_PACK = new URL('./fixtures/packs/good', import.meta.url).pathname;

function issuesOf(env: Record<string, string>): { variable: string; message: string }[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig defaults', () => {
  it('applies every default on an empty environment', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8080);
    expect(c.redis).toEqual({ mode: 'none' });
    expect(c.redisUrl).toBeUndefined();
    expect(c.rulesPath).toBe(DEFAULT_RULES);
    expect(c.retentionDays).toBe(180);
    expect(c.signalTimeoutMs).toBe(25);
    expect(c.maxSkewMs).toBe(300_000);
    expect(c.workers).toBe(1);
    expect(c.apiToken).toBeUndefined();
    expect(c.adminToken).toBeUndefined();
    expect(c.hashSecretGenerated).toBe(true);
    expect(c.hashSecret.length).toBeGreaterThanOrEqual(32);
    expect(loadConfig({}).hashSecret).not.toBe(c.hashSecret);
    expect(c.geoipCity).toBeUndefined();
    expect(c.model).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.production).toBe(false);
  });

  it('treats empty non-secret values as unset', () => {
    const c = loadConfig({ PORT: '', VIGIL_WORKERS: '', VIGIL_MAX_SKEW: '' });
    expect(c.port).toBe(8080);
    expect(c.workers).toBe(1);
    expect(c.maxSkewMs).toBe(300_000);
  });

  it('reads valid values', () => {
    const c = loadConfig({
      PORT: '0',
      REDIS_URL: 'redis://127.0.0.1:6379/0',
      VIGIL_RULES: GOOD_PACK,
      VIGIL_API_TOKEN: 'a'.repeat(16),
      VIGIL_ADMIN_TOKEN: 'b'.repeat(20),
      VIGIL_HASH_SECRET: 'c'.repeat(32),
      VIGIL_RETENTION_DAYS: '30',
      VIGIL_SIGNAL_TIMEOUT_MS: '50',
      VIGIL_MAX_SKEW: '7d',
      VIGIL_WORKERS: '4',
      VIGIL_LOG_LEVEL: 'warn',
      VIGIL_DECISION_LOG: 'postgres://vigil@db.internal:5432/vigil',
      VIGIL_DATA_DIR: '.',
      VIGIL_OUTCOME_WINDOW: '2h',
      NODE_ENV: 'production',
    });
    expect(c.decisionLog).toBe('postgres://vigil@db.internal:5432/vigil');
    expect(c.dataDir).toBe(process.cwd());
    expect(c.outcomeWindowSeconds).toBe(7200);
    expect(c.port).toBe(0);
    expect(c.redis).toEqual({ mode: 'single', url: 'redis://127.0.0.1:6379/0' });
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379/0');
    expect(c.rulesPath).toBe(GOOD_PACK);
    expect(c.retentionDays).toBe(30);
    expect(c.signalTimeoutMs).toBe(50);
    expect(c.maxSkewMs).toBe(7 * 86_400_000);
    expect(c.workers).toBe(4);
    expect(c.hashSecretGenerated).toBe(false);
    expect(c.hashSecret).toBe('c'.repeat(32));
    expect(c.production).toBe(true);
    expect(c.logLevel).toBe('warn');
  });

  it('parses a comma list of cluster nodes', () => {
    const c = loadConfig({ REDIS_URL: '10.0.0.1:7000, 10.0.0.2:7001,redis://10.0.0.3' });
    expect(c.redis).toMatchObject({
      mode: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: '10.0.0.3', port: 6379 },
      ],
    });
  });
});

describe('loadConfig refuses bad values', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['REDIS_URL', 'redis://'],
    ['REDIS_URL', ','],
    ['VIGIL_RULES', '/nonexistent/pack/dir'],
    ['VIGIL_GEOIP_CITY', '/nonexistent/city.mmdb'],
    ['VIGIL_GEOIP_ASN', '/nonexistent/asn.mmdb'],
    ['VIGIL_GEOIP_ANON', '/tmp'],
    ['VIGIL_MODEL', '/nonexistent/model.onnx'],
    ['VIGIL_RETENTION_DAYS', '0'],
    ['VIGIL_RETENTION_DAYS', '1e3'],
    ['VIGIL_SIGNAL_TIMEOUT_MS', '0'],
    ['VIGIL_SIGNAL_TIMEOUT_MS', 'fast'],
    ['VIGIL_MAX_SKEW', '5'],
    ['VIGIL_MAX_SKEW', '5 minutes'],
    ['VIGIL_MAX_SKEW', '0s'],
    ['VIGIL_MAX_SKEW', '-5m'],
    ['VIGIL_WORKERS', '0'],
    ['VIGIL_WORKERS', 'many'],
    ['VIGIL_LOG_LEVEL', 'loud'],
  ])('%s=%s', (variable, value) => {
    const issues = issuesOf({ [variable]: value });
    expect(issues.map((i) => i.variable)).toEqual([variable]);
  });

  it.each(['VIGIL_API_TOKEN', 'VIGIL_ADMIN_TOKEN', 'VIGIL_HASH_SECRET'])('%s: empty, short or spaced secrets are refused, never echoed', (variable) => {
    for (const value of ['', 'short-secret', 'has a space in it 123']) {
      const issues = issuesOf({ [variable]: value });
      expect(issues.map((i) => i.variable)).toEqual([variable]);
      if (value !== '') expect(issues[0]!.message).not.toContain(value);
    }
  });

  it('refuses production without VIGIL_HASH_SECRET', () => {
    expect(issuesOf({ NODE_ENV: 'production' }).map((i) => i.variable)).toEqual(['VIGIL_HASH_SECRET']);
    expect(issuesOf({ NODE_ENV: 'production', VIGIL_HASH_SECRET: '' }).map((i) => i.variable)).toContain('VIGIL_HASH_SECRET');
  });

  it('refuses several workers without Redis or without a PostgreSQL decision log', () => {
    expect(issuesOf({ VIGIL_WORKERS: '2' }).map((i) => i.variable)).toEqual(['VIGIL_WORKERS', 'VIGIL_WORKERS']);
    expect(issuesOf({ VIGIL_WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379' }).map((i) => i.message)).toEqual([
      expect.stringMatching(/VIGIL_DECISION_LOG/),
    ]);
    expect(loadConfig({ VIGIL_WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379', VIGIL_DECISION_LOG: 'postgres://127.0.0.1/test' }).workers).toBe(2);
  });

  it('VIGIL_DECISION_LOG=off turns the decision log off (workers then need only Redis)', () => {
    expect(loadConfig({ VIGIL_DECISION_LOG: 'off' }).decisionLog).toBe('off');
    expect(loadConfig({ VIGIL_DECISION_LOG: 'off', VIGIL_WORKERS: '2', REDIS_URL: 'redis://127.0.0.1:6379' }).workers).toBe(2);
  });

  it('decision log defaults: PGlite in memory, a one-hour outcome window', () => {
    const c = loadConfig({});
    expect([c.decisionLog, c.decisionLogSchema, c.dataDir, c.outcomeWindowSeconds]).toEqual([undefined, 'vigil', undefined, 3600]);
  });

  it('refuses a decision log that is not a postgres URL (without echoing it), an outcome window past 7 days, a data dir that is a file', () => {
    const issues = issuesOf({
      VIGIL_DECISION_LOG: 'mysql://root:hunter2@db/x',
      VIGIL_OUTCOME_WINDOW: '8d',
      VIGIL_DATA_DIR: GOOD_PACK + '/main.rules',
      VIGIL_DECISION_LOG_SCHEMA: 'Vigil; drop',
    });
    expect(issues.map((i) => i.variable).sort()).toEqual(['VIGIL_DATA_DIR', 'VIGIL_DECISION_LOG', 'VIGIL_DECISION_LOG_SCHEMA', 'VIGIL_OUTCOME_WINDOW']);
    expect(JSON.stringify(issues)).not.toContain('hunter2');
    expect(issuesOf({ VIGIL_OUTCOME_WINDOW: '0s' }).map((i) => i.variable)).toEqual(['VIGIL_OUTCOME_WINDOW']);
    expect(loadConfig({ VIGIL_OUTCOME_WINDOW: '7d' }).outcomeWindowSeconds).toBe(7 * 86_400);
  });

  it('lists every bad variable in one error, one per line', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'x', VIGIL_MAX_SKEW: 'y', VIGIL_WORKERS: '0', VIGIL_API_TOKEN: 'tiny' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const ce = err as ConfigError;
    expect(ce.issues.map((i) => i.variable).sort()).toEqual(['PORT', 'VIGIL_API_TOKEN', 'VIGIL_MAX_SKEW', 'VIGIL_WORKERS']);
    for (const v of ['PORT', 'VIGIL_API_TOKEN', 'VIGIL_MAX_SKEW', 'VIGIL_WORKERS']) expect(ce.message).toMatch(new RegExp(`^  ${v}: `, 'm'));
    expect(ce.message).not.toContain('tiny');
  });
});

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '5', 'm', '1.5m', '5M', ' 5m', '5m ', '1w'])('refuses %j', (text) => expect(parseDuration(text)).toBeUndefined());
});
