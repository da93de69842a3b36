// Docs that run: every shell example (fenced `sh`, `bash`, `shell` or `console` blocks) in README.md,
// docs/*.md and examples/*/README.md is executed here, against a real `node bin/vigil.js serve`
// this file starts, and must succeed; an example meant to fail must fail. Blocks run in document
// order within a file, so a variable one block sets (`ID=$(curl … | jq -r .decision_id)`) feeds the
// next; files run one after another against the one server.
//
// Markers: HTML comments on the lines right before a fence (several may be stacked):
//   <!-- docs-test: fails -->             every command must fail: exit non-zero, and a curl that
//                                         got an answer got a 4xx (not a 5xx, not a refused connection)
//   <!-- docs-test: no-run: REASON -->    not executed, but checked: `bash -n`; each `npm run X`
//                                         names a package.json script; each `npx vigil CMD` /
//                                         `vigil CMD` is a command (`vigil CMD --help` exits 0) and
//                                         its --flags are in that help; each repo path (rules/…,
//                                         examples/…, docs/…, models/…) exists (for --out and the
//                                         like, its folder does)
//   <!-- docs-test: env NAME=value … -->  extra environment for the block's commands only
//   <!-- docs-test: background PORT=N --> the block starts a server the docs put on port N: it runs
//                                         in the background with PORT set to a free port, every
//                                         later `localhost:N` / `127.0.0.1:N` of the file is
//                                         rewritten to it, and it is stopped after the file
//   <!-- docs-test: timeout SECONDS -->   per command, instead of 30 s
//   <!-- docs-test: file PATH -->         (any block) the block's text is that repo file's
// An untagged block that looks like shell fails the test: tag it (`sh`, `console`) or say it is not
// (`text`).
//
// The environment every command sees, as the docs assume it (docs/api.md's first block):
// VIGIL=http://127.0.0.1:PORT, API and ADMIN (the `Authorization: Bearer …` headers), VIGIL_URL,
// VIGIL_API_TOKEN, VIGIL_ADMIN_TOKEN; cwd is the repo root; HOME and TMPDIR are fresh temporary
// folders; node_modules/.bin is on PATH. The docs' server is "on :8080" (the default PORT): every
// `localhost:8080` / `127.0.0.1:8080` in a command is rewritten to the test server's port.
// BENCH_DATABASE_URL points the benchmarks at the test's PostgreSQL.
// Commands run with `bash -euo pipefail -c`. Two shell functions stand in for the real thing:
// `curl` adds --fail-with-body (a status of 400 or more fails the command, the body is still
// printed) and reports the status; `npx vigil …` runs this checkout's bin/vigil.js directly, as
// npx does from the repo root but without npm's two seconds per call (one test runs the real npx).
//
// The server: a throwaway redis-server (the server's keys have no configurable prefix), the
// decision log in a schema of its own on the test PostgreSQL (dropped afterwards; PGlite would
// cost ~15 s of migrations on a loaded machine), both tokens and a hash secret set; otherwise the
// defaults of a fresh clone (the shipped pack, the bundled GeoIP data, the shipped model). Missing
// bash/curl/jq/redis-server skip this file outside CI and fail it under CI=true; PostgreSQL is
// required, as for every test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, postgresUrl, requirePostgres, uniqueSchema } from '../helpers/postgres.ts';
import { freePort, startRedisServer, type RedisServer } from '../helpers/redis.ts';
import {
  docFiles,
  looksLikeShell,
  parseBlocks,
  readRepoFile,
  repoPaths,
  SHELL_LANGS,
  simpleCommands,
  splitCommands,
  withoutAssignments,
  type Block,
  type Command,
} from './blocks.ts';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const API_TOKEN = 'docs-test-api-token-0123456789abcdef';
const ADMIN_TOKEN = 'docs-test-admin-token-0123456789abcdef';
const DOCS_PORT = 8080;
const DEFAULT_TIMEOUT_S = 30;
/** DOCS_TEST_VERBOSE=1 prints every command with its output. */
const VERBOSE = process.env.DOCS_TEST_VERBOSE === '1';
/** npm subcommands that rewrite node_modules. */
const INSTALLS: ReadonlySet<string> = new Set(['ci', 'install', 'i', 'update', 'uninstall', 'link']);

const TOOLS = ['bash', 'curl', 'jq', 'redis-server', 'git'] as const;
const missingTools = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
const UNDER_CI = process.env.CI === 'true';
const runnable = UNDER_CI || missingTools.length === 0;
if (!runnable) console.warn(`test/docs skipped: ${missingTools.join(', ')} not installed (under CI=true this fails)`);

// ---- what the docs hold (read at collection time, so a marker error fails the file loudly) ------

interface DocFile {
  readonly file: string;
  readonly blocks: readonly Block[];
}
const DOCS: readonly DocFile[] = docFiles(REPO).map((file) => ({ file, blocks: parseBlocks(file, readRepoFile(REPO, file)) }));
const PACKAGE = JSON.parse(readRepoFile(REPO, 'package.json')) as { version: string; scripts: Record<string, string> };

// ---- the server and the shell ----------------------------------------------------------------

let redis: RedisServer | undefined;
let vigil: ChildProcess | undefined;
let vigilPort = 0;
let vigilLog = '';
let schema = '';
let work = '';
let prelude = '';
let gitBefore = '';
const started = Date.now();

function gitStatus(): string {
  const r = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git status failed: ${r.stderr}`);
  return r.stdout;
}

function waitPort(port: number, child: ChildProcess, what: string, output: () => string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolveWait, reject) => {
    const attempt = (): void => {
      if (child.exitCode !== null || child.signalCode !== null) {
        reject(new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before listening on ${port}:\n${output()}`));
        return;
      }
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolveWait();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > deadline) reject(new Error(`${what} did not listen on ${port} within ${ms / 1000} s:\n${output()}`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`vigil serve exited before it was ready:\n${vigilLog}`);
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`vigil serve was not ready within 60 s:\n${vigilLog}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  const pid = child.pid;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const kill = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5000);
  return exited.then(() => clearTimeout(timer));
}

/** The environment of every docs command (the docs' conventions; nothing of this process's). */
function shellEnv(stateFile: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const vigilUrl = `http://127.0.0.1:${vigilPort}`;
  return {
    PATH: `${join(REPO, 'node_modules/.bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    HOME: join(work, 'home'),
    TMPDIR: join(work, 'tmp'),
    LANG: 'C.UTF-8',
    VIGIL: vigilUrl,
    VIGIL_URL: vigilUrl,
    VIGIL_API_TOKEN: API_TOKEN,
    VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
    API: `Authorization: Bearer ${API_TOKEN}`,
    ADMIN: `Authorization: Bearer ${ADMIN_TOKEN}`,
    // The benchmarks' database (bench/decisionlog.ts): the test's PostgreSQL, wherever it is.
    BENCH_DATABASE_URL: postgresUrl(),
    DOCS_TEST_REPO: REPO,
    DOCS_TEST_STATE: stateFile,
    ...extra,
  };
}

const PRELUDE = [
  '# docs-test prelude (test/docs/examples.test.ts): stand-ins for npx and curl, and the saving of',
  '# the variables a command sets for the next one.',
  'npx() {',
  '  if [ "${1-}" = vigil ]; then shift; node "$DOCS_TEST_REPO/bin/vigil.js" "$@"',
  '  elif [ -n "${1-}" ] && [ -x "$DOCS_TEST_REPO/node_modules/.bin/$1" ]; then',
  '    local c="$1"; shift; "$DOCS_TEST_REPO/node_modules/.bin/$c" "$@"',
  '  else command npx "$@"; fi',
  '}',
  'curl() {',
  "  command curl --fail-with-body --max-time 30 --write-out '%{stderr}\\ndocs-test: http %{http_code}\\n' \"$@\"",
  '}',
  '__docs_test_save() {',
  "  export -p | grep -Ev '^declare -x (PWD|OLDPWD|SHLVL|_)=' > \"$DOCS_TEST_STATE.new\"",
  '  mv "$DOCS_TEST_STATE.new" "$DOCS_TEST_STATE"',
  '}',
  '',
].join('\n');

interface FileState {
  stateFile: string;
  /** docs port → real port: 8080 → the test server, background blocks → theirs. */
  readonly ports: Map<number, number>;
  readonly background: { child: ChildProcess; output: () => string }[];
}

function rewritePorts(text: string, ports: ReadonlyMap<number, number>): string {
  return text.replace(/\b(localhost|127\.0\.0\.1):(\d{2,5})\b/g, (all, host: string, port: string) => {
    const real = ports.get(Number(port));
    return real === undefined ? all : `${host}:${real}`;
  });
}

function script(cmd: string, unexport: readonly string[]): string {
  return [
    `source ${JSON.stringify(prelude)}`,
    'source "$DOCS_TEST_STATE"',
    'set -a', // so `ID=$(…)` reaches the next command, as it would in the reader's shell
    cmd,
    'set +a',
    ...(unexport.length > 0 ? [`export -n ${unexport.join(' ')}`] : []),
    '__docs_test_save',
  ].join('\n');
}

interface Ran {
  readonly code: number | null;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly statuses: number[];
  readonly ms: number;
}

function runCommand(cmd: string, env: Record<string, string>, unexport: readonly string[], timeoutS: number): Promise<Ran> {
  const t0 = Date.now();
  return new Promise((done) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script(cmd, unexport)], { cwd: REPO, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout = (stdout + d.toString()).slice(-32_000);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-32_000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      void stopGroup(child);
    }, timeoutS * 1000);
    child.once('close', (code) => {
      clearTimeout(timer);
      const statuses = [...stderr.matchAll(/^docs-test: http (\d{3})$/gm)].map((m) => Number(m[1]));
      done({ code, timedOut, stdout, stderr: stderr.replace(/\n?docs-test: http \d{3}\n/g, '\n'), statuses, ms: Date.now() - t0 });
    });
  });
}

function report(where: string, cmd: string, r: Ran): string {
  const tail = (s: string): string => (s.length > 3000 ? '…' + s.slice(-3000) : s);
  return [
    `${where}: ${cmd}`,
    `exit ${r.code}${r.timedOut ? ' (timed out)' : ''}, HTTP ${r.statuses.join(', ') || '-'}, ${r.ms} ms`,
    `--- stdout\n${tail(r.stdout)}`,
    `--- stderr\n${tail(r.stderr)}`,
    `--- server log (tail)\n${vigilLog.slice(-2000)}`,
  ].join('\n');
}

/**
 * Commands that install packages. Never run: an install replaces node_modules, which may be
 * shared (a worktree's symlink), and under a test's empty HOME downloads everything again.
 */
function installs(cmds: readonly Command[]): string[] {
  const isInstall = (w: readonly string[]): boolean => {
    const words = withoutAssignments(w);
    return words[0] === 'npm' && INSTALLS.has(words[1] ?? '');
  };
  return cmds.filter((c) => simpleCommands(c.text).some(isInstall)).map((c) => `line ${c.line}: ${c.text}`);
}

// ---- static checks of blocks that are not run ------------------------------------------------

const helpCache = new Map<string, { code: number | null; text: string }>();
function vigilHelp(path: readonly string[]): { code: number | null; text: string } {
  const key = path.join(' ');
  let h = helpCache.get(key);
  if (!h) {
    const r = spawnSync(process.execPath, [join(REPO, 'bin/vigil.js'), ...path, '--help'], { cwd: REPO, encoding: 'utf8', timeout: 30_000 });
    h = { code: r.status, text: r.stdout + r.stderr };
    helpCache.set(key, h);
  }
  return h;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `vigil ARGS` names a command (and subcommand) and only options its help lists. Commander answers
 * an unknown command's --help with the top-level help and exit 0, so the usage line is what counts.
 */
function vigilProblems(args: readonly string[], at: string): string[] {
  const cmd = args[0];
  if (cmd === undefined || cmd.startsWith('-')) return [];
  const isCommand = (path: readonly string[]): boolean => {
    const h = vigilHelp(path);
    return h.code === 0 && new RegExp(`^Usage: vigil ${escapeRegExp(path.join(' '))}[ \\[]`, 'm').test(h.text);
  };
  if (!isCommand([cmd])) return [`${at}: \`vigil ${cmd}\` is not a command`];
  const sub = args[1];
  const hasSubcommands = /^Commands:/m.test(vigilHelp([cmd]).text);
  if (hasSubcommands && (sub === undefined || sub.startsWith('-') || !isCommand([cmd, sub]))) {
    return [`${at}: \`vigil ${cmd}\` has no subcommand ${JSON.stringify(sub ?? '')}`];
  }
  const path = hasSubcommands && sub !== undefined ? [cmd, sub] : [cmd];
  const help = vigilHelp(path).text;
  const problems: string[] = [];
  for (const a of args.slice(path.length)) {
    const flag = /^(--?[A-Za-z][\w-]*)/.exec(a)?.[1];
    if (flag !== undefined && !new RegExp(`(^|[\\s,])${escapeRegExp(flag)}([\\s,=]|$)`, 'm').test(help)) {
      problems.push(`${at}: \`vigil ${path.join(' ')}\` has no option ${flag}`);
    }
  }
  return problems;
}

/** Problems with a block that is not run; empty when it passes. */
function staticProblems(cmds: readonly Command[]): string[] {
  const problems: string[] = [];
  // A file an earlier command of the block writes (`train --out models/x.onnx`) may be read later.
  const written = new Set<string>();
  const all = cmds.map((c) => c.text).join('\n');
  const syntax = spawnSync('bash', ['-n', '-c', all], { encoding: 'utf8' });
  if (syntax.status !== 0) problems.push(`bash -n: ${syntax.stderr.trim()}`);
  for (const c of cmds) {
    for (const raw of simpleCommands(c.text)) {
      const words = withoutAssignments(raw);
      const at = `line ${c.line}`;
      if (words[0] === 'npm') {
        const script = words[1] === 'run' || words[1] === 'run-script' ? words[2] : words[1] === 'start' || words[1] === 'test' ? words[1] : undefined;
        if (script !== undefined && PACKAGE.scripts[script] === undefined) problems.push(`${at}: npm script ${JSON.stringify(script)} is not in package.json`);
      }
      const args = words[0] === 'npx' && words[1] === 'vigil' ? words.slice(2) : words[0] === 'vigil' ? words.slice(1) : undefined;
      if (args !== undefined) problems.push(...vigilProblems(args, at));
      for (const p of repoPaths(words)) {
        if (p.output) written.add(p.path);
        const target = p.output ? dirname(p.path) : p.path;
        if (!written.has(target) && !existsSync(join(REPO, target))) problems.push(`${at}: ${p.output ? 'the folder of ' : ''}${p.path} does not exist`);
      }
    }
  }
  return problems;
}

// ---- the tests ---------------------------------------------------------------------------------

describe.runIf(runnable)('docs examples', () => {
  beforeAll(async () => {
    if (missingTools.length > 0) throw new Error(`the docs test needs ${missingTools.join(', ')} (CI=true: never skipped)`);
    gitBefore = gitStatus();
    await requirePostgres();
    work = mkdtempSync(join(tmpdir(), 'vigil-docs-'));
    mkdirSync(join(work, 'home'));
    mkdirSync(join(work, 'tmp'));
    prelude = join(work, 'prelude.sh');
    writeFileSync(prelude, PRELUDE);
    redis = await startRedisServer();
    schema = uniqueSchema('docs');
    vigilPort = await freePort();
    vigil = spawn(process.execPath, [join(REPO, 'bin/vigil.js'), 'serve'], {
      cwd: REPO,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: join(work, 'home'),
        PORT: String(vigilPort),
        REDIS_URL: redis.url,
        VIGIL_DECISION_LOG: postgresUrl(),
        VIGIL_DECISION_LOG_SCHEMA: schema,
        VIGIL_DATA_DIR: join(work, 'data'),
        VIGIL_API_TOKEN: API_TOKEN,
        VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
        VIGIL_HASH_SECRET: 'docs-test-hash-secret-0123456789',
        VIGIL_LOG_LEVEL: 'warn',
      },
    });
    const keep = (d: Buffer): void => {
      vigilLog = (vigilLog + d.toString()).slice(-64_000);
    };
    vigil.stdout!.on('data', keep);
    vigil.stderr!.on('data', keep);
    await waitReady(`http://127.0.0.1:${vigilPort}`, vigil);
  }, 90_000);

  afterAll(async () => {
    if (vigil) await stopGroup(vigil);
    await redis?.stop();
    if (schema) await dropSchema(postgresUrl(), schema).catch(() => undefined);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('the extraction splits commands as bash would group them', () => {
    const cmds = splitCommands({
      file: 'x.md',
      lang: 'sh',
      line: 1,
      body: [
        "curl -s x -d '{",
        '  "a": 1   # not a comment',
        "}'   # a comment",
        'jq -n . |',
        'curl -X PUT x -H "$ADMIN" \\',
        '  -d @-  # upload',
        '# a comment line',
        'echo "${f#./}" done',
      ].join('\n'),
    });
    expect(cmds).toEqual([
      { text: "curl -s x -d '{\n  \"a\": 1   # not a comment\n}'", line: 2 },
      { text: 'jq -n . |\ncurl -X PUT x -H "$ADMIN"   -d @-', line: 5 },
      { text: 'echo "${f#./}" done', line: 9 },
    ]);
    const shown = splitCommands({ file: 'x.md', lang: 'console', line: 10, body: ['$ echo a \\', '    b', 'a b', '$ true # ok', 'output'].join('\n') });
    expect(shown).toEqual([
      { text: 'echo a     b', line: 11 },
      { text: 'true', line: 14 },
    ]);
    expect(() => splitCommands({ file: 'x.md', lang: 'sh', line: 1, body: "echo 'open" })).toThrow('x.md:2: command never ends');
    const md = [
      '1. step',
      '   <!-- docs-test: fails -->',
      '   <!-- docs-test: env A=1 B=x=y -->',
      '   ```console',
      '   $ false',
      '   ```',
      '<!-- docs-test: no-run: a reason -->',
      '```sh',
      'npm start',
      '```',
    ].join('\n');
    const [a, b] = parseBlocks('x.md', md);
    expect(a).toMatchObject({ line: 4, lang: 'console', body: '$ false', markers: { fails: true, env: { A: '1', B: 'x=y' } } });
    expect(b).toMatchObject({ line: 8, lang: 'sh', markers: { fails: false, noRun: 'a reason' } });
    expect(() => parseBlocks('x.md', '<!-- docs-test: fails -->\n\n```sh\ntrue\n```')).toThrow('x.md:1: a docs-test marker must be right before a fence');
    expect(() => parseBlocks('x.md', '<!-- docs-test: fail -->\n```sh\ntrue\n```')).toThrow('unknown docs-test marker');
    expect(simpleCommands('A=1 npx vigil check "rules/x y" && npm run build | jq .')).toEqual([
      ['A=1', 'npx', 'vigil', 'check', 'rules/x y'],
      ['npm', 'run', 'build'],
      ['jq', '.'],
    ]);
  });

  it('the checks of a block that is not run catch unknown commands, options, scripts and paths', () => {
    const cmds = [
      'npx vigil check rules/login_core && npx vigil model eval --events x --plot docs/roc.svg',
      'npx vigil train --events /tmp/rows.ndjson --out models/new.onnx && npx vigil model eval --model models/new.onnx',
      'npx vigil nosuch', 'npx vigil model nosuch', 'vigil train --treez 5', 'npm run nosuch', 'npm start',
      'npx vigil check rules/nosuch', 'npx vigil simulate --out nodir/x.ndjson --features-out examples/nodir/rows.ndjson',
      'echo (',
    ].map((text, i) => ({ text, line: i + 1 }));
    expect(staticProblems(cmds)).toEqual([
      expect.stringMatching(/^bash -n: /),
      'line 3: `vigil nosuch` is not a command',
      'line 4: `vigil model` has no subcommand "nosuch"',
      'line 5: `vigil train` has no option --treez',
      'line 6: npm script "nosuch" is not in package.json',
      'line 8: rules/nosuch does not exist',
      'line 9: the folder of examples/nodir/rows.ndjson does not exist',
    ]);
  }, 60_000);

  it('`npx vigil` from the repo root is this checkout (the real npx, once)', () => {
    const r = spawnSync('npx', ['vigil', '--version'], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, npm_config_offline: 'true' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(PACKAGE.version);
  });

  for (const doc of DOCS) {
    describe(doc.file, () => {
      const state: FileState = { stateFile: '', ports: new Map(), background: [] };
      beforeAll(() => {
        state.stateFile = join(work, `${doc.file.replace(/[/.]/g, '_')}.state`);
        writeFileSync(state.stateFile, '');
        state.ports.set(DOCS_PORT, vigilPort);
      });
      afterAll(async () => {
        await Promise.all(state.background.map((b) => stopGroup(b.child)));
      });

      const untagged = doc.blocks.filter((b) => b.lang === '' && looksLikeShell(b.body));
      it('has no untagged block that looks like shell', () => {
        expect(untagged.map((b) => `${b.file}:${b.line}`), 'tag these `sh`/`console` (or `text` if they are not commands)').toEqual([]);
      });

      for (const block of doc.blocks) {
        const where = `${block.file}:${block.line}`;
        const m = block.markers;
        if (m.file !== undefined) {
          const path = m.file;
          it(`${where} is ${path}`, () => {
            expect(block.body.trimEnd()).toBe(readRepoFile(REPO, path).trimEnd());
          });
        }
        if (!SHELL_LANGS.has(block.lang)) {
          const stray = m.fails || m.noRun !== undefined || m.backgroundPort !== undefined || m.timeoutSeconds !== undefined || Object.keys(m.env).length > 0;
          if (stray) it(`${where}: run markers on a block that is not shell`, () => expect.fail(`${where} is \`${block.lang || 'untagged'}\`: only shell blocks run`));
          continue;
        }
        const cmds = splitCommands(block);
        const timeoutS = m.timeoutSeconds ?? DEFAULT_TIMEOUT_S;

        if (m.noRun !== undefined) {
          it(`${where} (not run: ${m.noRun}) is checked`, () => {
            expect(cmds.length, 'a block with no command').toBeGreaterThan(0);
            expect(staticProblems(cmds)).toEqual([]);
          }, 120_000);
          continue;
        }

        if (m.backgroundPort !== undefined) {
          const docPort = m.backgroundPort;
          it(`${where} starts a server (docs port ${docPort})`, async () => {
            expect(installs(cmds), 'mark blocks that install `no-run:`').toEqual([]);
            const port = await freePort();
            state.ports.set(docPort, port);
            for (const c of cmds) {
              const text = rewritePorts(c.text, state.ports);
              const child = spawn('bash', ['-euo', 'pipefail', '-c', `source ${JSON.stringify(prelude)}\nsource "$DOCS_TEST_STATE"\n${text}`], {
                cwd: REPO,
                detached: true,
                stdio: ['ignore', 'pipe', 'pipe'],
                env: shellEnv(state.stateFile, { ...m.env, PORT: String(port) }),
              });
              let out = '';
              const keep = (d: Buffer): void => {
                out = (out + d.toString()).slice(-16_000);
              };
              child.stdout!.on('data', keep);
              child.stderr!.on('data', keep);
              state.background.push({ child, output: () => out });
              await waitPort(port, child, `${where}: ${text}`, () => out, timeoutS * 1000);
            }
          }, timeoutS * 1000 * cmds.length + 5000);
          continue;
        }

        it(`${where}${m.fails ? ' (fails, as it should)' : ''}`, async () => {
          expect(cmds.length, 'a shell block with no command').toBeGreaterThan(0);
          expect(installs(cmds), 'mark blocks that install `no-run:`').toEqual([]);
          for (const c of cmds) {
            const text = rewritePorts(c.text, state.ports);
            const r = await runCommand(text, shellEnv(state.stateFile, m.env), Object.keys(m.env), timeoutS);
            const msg = report(`${block.file}:${c.line}`, text, r);
            if (VERBOSE) console.info(msg.slice(0, msg.indexOf('--- server log')));
            expect(r.timedOut, msg).toBe(false);
            if (m.fails) {
              expect(r.code, msg).not.toBe(0);
              // 126/127: not runnable or not found, which is a broken example, not a failing one.
              expect([126, 127], msg).not.toContain(r.code);
              const last = r.statuses[r.statuses.length - 1];
              if (last !== undefined) expect(last >= 400 && last < 500, msg).toBe(true);
            } else {
              expect(r.code, msg).toBe(0);
              expect(r.statuses.filter((s) => s >= 400 || s === 0), msg).toEqual([]);
            }
          }
        }, timeoutS * 1000 * cmds.length + 5000);
      }
    });
  }

  it('the server stayed up and logged no error', () => {
    expect(vigil?.exitCode ?? null, vigilLog).toBeNull();
    const errors = vigilLog.split('\n').filter((l) => /"level":(50|60)\b/.test(l));
    expect(errors).toEqual([]);
  });

  it('the examples left the checkout as they found it', () => {
    expect(gitStatus()).toBe(gitBefore);
    console.info(`docs examples: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });
});
