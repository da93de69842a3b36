// One CLI: every command and subcommand answers --help, refuses a bad option value as a usage error
// (exit 2) in one error style, and the help texts that restate training's defaults match them.
// Also what `vigil --help`, `vigil check` and a replay of feature records load: none of the
// engine, GeoIP, onnxruntime, Redis, Express or the simulator.
import { spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SAMPLE_SIZE, DEFAULT_SEED, DEFAULT_TREES } from '../../training/iforest.ts';
import { ATTACK_TYPES } from '../../training/simulate.ts';
import { DEFAULT_WARMUP_DAYS } from '../../cli/main.ts';
import { run, tempDir } from './helpers.ts';

const ADMIN_COMMANDS = ['pack push', 'pack status', 'pack history', 'pack rollback', 'pack diff', 'list add', 'list rm', 'list ls', 'counters clear', 'audit'];
const COMMANDS = ['check', 'test', 'eval', 'replay', 'serve', 'train', 'model', 'model eval', 'simulate', 'explain', 'pack', 'list', 'counters', ...ADMIN_COMMANDS];

describe('--help', () => {
  it.each(COMMANDS)('vigil %s --help prints its usage on stdout and exits 0', async (cmd) => {
    const argv = cmd.split(' ');
    const r = await run([...argv, '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`Usage: vigil ${argv.join(' ')}`);
    expect(r.err).toBe('');
  });
  it('the top-level help lists every command', async () => {
    const r = await run(['--help']);
    for (const c of ['check', 'test', 'eval', 'replay', 'serve', 'train', 'model', 'simulate', 'explain', 'pack', 'list', 'counters', 'audit']) {
      expect(r.out).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });
  it.each(ADMIN_COMMANDS)('vigil %s --help names --url, --json and where the token comes from, and has no --token', async (cmd) => {
    const r = await run([...cmd.split(' '), '--help']);
    expect(r.out).toContain('--url <url>');
    expect(r.out).toContain('--json');
    expect(r.out).toContain('$VIGIL_ADMIN_TOKEN only');
    expect(r.out).not.toContain('--token');
  });
  it("help texts restate training's defaults correctly", async () => {
    const train = (await run(['train', '--help'])).out.replace(/\s+/g, ' ');
    expect(train).toContain(`(default ${DEFAULT_TREES})`);
    expect(train).toContain(`(default ${DEFAULT_SAMPLE_SIZE})`);
    expect(train).toContain(`(default ${DEFAULT_SEED})`);
    const simulate = (await run(['simulate', '--help'])).out.replace(/\s+/g, ' ');
    expect(simulate).toContain(`${ATTACK_TYPES.join(', ')}, or none`);
    expect((await run(['model', 'eval', '--help'])).out.replace(/\s+/g, ' ')).toContain(`(default ${DEFAULT_WARMUP_DAYS})`);
  });
});

describe('usage errors', () => {
  it.each([
    [['replay', '--workers', '0', 'p', 'e'], 'vigil replay', '--workers must be an integer from 1 to 64, got "0"'],
    [['replay', '--workers', 'two', 'p', 'e'], 'vigil replay', '--workers must be an integer'],
    [['train', '--events', 'e', '--out', 'o', '--trees', '1.5'], 'vigil train', '--trees must be an integer ≥ 1, got "1.5"'],
    [['simulate', '--users', '3', '--days', '2', '--seed', '1', '--attack-scale', 'lots'], 'vigil simulate', '--attack-scale must be a number from 0 to 100'],
    [['simulate', '--users', '3', '--days', '2', '--seed', '1', '--start', 'yesterday'], 'vigil simulate', '--start must be an ISO date-time'],
    [['simulate', '--users', '3', '--days', '2', '--seed', '1', '--attacks', 'phishing'], 'vigil simulate', 'unknown attack type "phishing"'],
    [['model', 'eval', '--events', 'e', '--warmup-days', '-1'], 'vigil model eval', '--warmup-days must be an integer from 0 to 366'],
    [['model', 'eval', '--events', 'e', '--model', 'm.onnx', '--no-model'], 'vigil model eval', '--model and --no-model exclude each other'],
    [['model', 'eval'], 'vigil model eval', '--events is required'],
    [['explain', 'a/b'], 'vigil explain', 'decision-id must be letters and digits'],
    [['explain', '01JD00', '--url', 'not a url'], 'vigil explain', '--url must be an http(s) URL'],
    [['check'], 'vigil check', "missing required argument 'pack'"],
    [['pack', 'push', 'p', '--token', 't'], 'vigil pack push', "unknown option '--token'"],
    [['pack', 'push', 'p', '--force'], 'vigil pack push', '--force needs --reason'],
    [['pack', 'status', '--url', 'localhost:8080'], 'vigil pack status', '--url must be an http(s) URL'],
    [['pack', 'rollback', '--reason', ''], 'vigil pack rollback', '--reason must not be empty'],
    [['list', 'add', 'n', '1.2.3.4', '--ttl', '2 hours'], 'vigil list add', '--ttl must be a duration such as 90s'],
    [['list', 'add', 'n'], 'vigil list add', "missing required argument 'entries'"],
    [['list', 'rm', 'n', '1.2.3.4', '--actor', 'a b'], 'vigil list rm', '--actor must be 1-64 characters'],
    [['counters', 'clear'], 'vigil counters clear', 'give --ip, --user or both'],
    [['counters', 'clear', '--user', 'u', '--subnet'], 'vigil counters clear', '--subnet goes with --ip'],
    [['audit', '--since', 'yesterday'], 'vigil audit', '--since must be a duration ago'],
    [['audit', '--limit', '0'], 'vigil audit', '--limit must be an integer from 1 to 1000'],
    [['audit', '--action', 'all'], 'vigil audit', '--action must be one of pack_activate'],
    [['test', '--frobnicate', 'x'], 'vigil test', "unknown option '--frobnicate'"],
    [['frobnicate'], 'vigil', "unknown command 'frobnicate'"],
  ])('%j: exit 2, one error line, then the usage and where the help is', async (argv, name, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    const lines = r.err.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]!.startsWith(`${name}: error: `)).toBe(true);
    expect(lines[0]).toContain(message);
    expect(lines[1]).toMatch(new RegExp(`^Usage: ${name} .*\\(see '${name} --help'\\)$`));
  });
  it('a command group without its subcommand shows its help on stderr, exit 2', async () => {
    const r = await run(['model']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('Usage: vigil model');
    expect(r.err).toContain('eval');
  });
  it('failures that are not usage errors exit 1 with one error line', async () => {
    const r = await run(['replay', 'rules/login_core', 'no/such/events.ndjson']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('vigil replay: error: no/such/events.ndjson: no such file\n');
  });
});

describe('model eval warm-up', () => {
  const day = (d: number): string => JSON.stringify({ request: { type: 'login', user: { id: 'u' }, ip: '81.2.69.142', time: '2026-01-05T00:00:00Z' }, outcome: 'succeeded', label: 'legit', day: d });
  const t = tempDir({ 'week.ndjson': `${[0, 3, 6].map(day).join('\n')}\n` });
  afterAll(() => t.cleanup());

  it('a warm-up at or past the last day of the data is a usage error, before any replay', async () => {
    const r = await run(['model', 'eval', '--events', `${t.dir}/week.ndjson`, '--no-model']);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toContain(`--warmup-days ${DEFAULT_WARMUP_DAYS} leaves no legitimate attempt to measure: the events end on day 6`);
    expect(r.err).toContain('use --warmup-days 6 or less');
    const seven = await run(['model', 'eval', '--events', '-', '--no-model', '--warmup-days', '7'], `${day(6)}\n`);
    expect(seven.code).toBe(2);
    expect(seven.err).toContain('--warmup-days 7');
  });
});

// ---------------------------------------------------------------------------------------------
// What is loaded
// ---------------------------------------------------------------------------------------------

const ROOT = new URL('../../', import.meta.url).href;
const HEAVY_PACKAGES = /\/node_modules\/(onnxruntime-node|ioredis|express|maxmind|zod|pino|ua-parser-js|prom-client)\//;
const HEAVY_OURS = /^(engine|api|training|decisionlog)\/|^features\/(?!(catalog|ip|event-types)\.[jt]s$)/;

function heavy(url: string): boolean {
  if (HEAVY_PACKAGES.test(url)) return true;
  // bin/vigil.js runs the compiled CLI: dist/ mirrors the source layout.
  return url.startsWith(ROOT) && HEAVY_OURS.test(url.slice(ROOT.length).split('?')[0]!.replace(/^dist\//, ''));
}

/** The files `node bin/vigil.js ARGS` loads, through a module hook that names each one. */
function loadedBy(args: string[]): Promise<{ status: number | null; loaded: string[] }> {
  const hooks = tempDir({
    'hooks.mjs': "export async function load(url, context, next) { if (url.startsWith('file:')) process.stderr.write(`LOADED ${url}\\n`); return next(url, context); }\n",
    'register.mjs': "import { register } from 'node:module';\nregister(new URL('./hooks.mjs', import.meta.url));\n",
  });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', `${hooks.dir}/register.mjs`, 'bin/vigil.js', ...args], { timeout: 30_000 });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (status) => {
      hooks.cleanup();
      resolve({ status, loaded: err.split('\n').flatMap((l) => (l.startsWith('LOADED ') ? [l.slice(7)] : [])) });
    });
  });
}

describe.concurrent('lazy loading', () => {
  const t = tempDir({ 'records.ndjson': '{"event":"login","features":{"velocity.ip_failed_10m":80,"ip.address":"203.0.113.9"}}\n' });
  afterAll(() => t.cleanup());
  it.each([
    [['--help'], 0],
    [['pack', 'push', '--help'], 0],
    [['check', 'rules/login_core'], 0],
    [['replay', 'rules/login_core', 'RECORDS'], 0],
  ])('vigil %j loads no engine, GeoIP, model, Redis, HTTP or simulator code', async (args, code) => {
    const r = await loadedBy(args.map((a) => (a === 'RECORDS' ? `${t.dir}/records.ndjson` : a)));
    expect(r.status).toBe(code);
    expect(r.loaded.some((u) => u.endsWith('/dist/cli/main.js'))).toBe(true);
    expect(r.loaded.filter(heavy)).toEqual([]);
    // --help needs the command names only: not even the feature registry.
    if (args[0] === '--help') expect(r.loaded.filter((u) => /\/features\/(catalog|ip)\.[jt]s$/.test(u))).toEqual([]);
  });
});
