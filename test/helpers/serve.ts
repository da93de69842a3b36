// Real server processes for the long-running proofs (test/chaos, test/soak, test/drill): spawn
// `node bin/vigil.js serve` (the compiled dist/, as production runs it) on a free port with the
// environment a run chooses, wait for /readyz, read its worker pids (the primary's children under
// VIGIL_WORKERS > 1) and its /metrics, keep the tail of its output, and stop it. Also a private
// redis-server with an append-only file fsynced on every write, so a Redis killed and restarted by a
// run keeps every write it acknowledged (what the lost-outcome check relies on).
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, spawnRedis } from './redis.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface ServeProcess {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** The tail of everything the process (and its workers) wrote. */
  output(): string;
  /** Lines of output matching `re` since the start (counted over the whole run, not the tail). */
  count(re: RegExp): number;
  /** True while the (primary) process runs. */
  alive(): boolean;
  /** Pids of the cluster workers (empty with one worker: the process serves itself). */
  workerPids(): number[];
  /** SIGTERM, SIGKILL after 10 s; resolves with the exit code (or signal name). */
  stop(): Promise<number | string | null>;
}

/** Spawn `node bin/vigil.js serve` with `env` (PORT is chosen here) and wait until /readyz is 200. */
export async function startServe(env: Readonly<Record<string, string>>, readyWithinMs = 60_000): Promise<ServeProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin/vigil.js'), 'serve'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? tmpdir(), ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const watched: { re: RegExp; n: number }[] = [];
  let partial = '';
  const onData = (d: Buffer): void => {
    const s = d.toString();
    tail = (tail + s).slice(-256 * 1024);
    const lines = (partial + s).split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) for (const w of watched) if (w.re.test(l)) w.n++;
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitInfo: number | string | null | undefined;
  const exited = new Promise<number | string | null>((r) =>
    child.once('exit', (code, signal) => {
      exitInfo = code ?? signal;
      r(exitInfo);
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const proc: ServeProcess = {
    url,
    port,
    child,
    output: () => tail,
    count(re) {
      let w = watched.find((x) => x.re.source === re.source && x.re.flags === re.flags);
      if (!w) {
        w = { re, n: tail.split('\n').filter((l) => re.test(l)).length };
        watched.push(w);
      }
      return w.n;
    },
    alive: () => exitInfo === undefined,
    workerPids: () => (child.pid === undefined ? [] : childPids(child.pid)),
    async stop() {
      if (exitInfo !== undefined) return exitInfo;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
  const deadline = Date.now() + readyWithinMs;
  for (;;) {
    if (exitInfo !== undefined) throw new Error(`vigil serve exited (${exitInfo}) before it was ready:\n${tail}`);
    try {
      const r = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) return proc;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`vigil serve on port ${port} was not ready within ${readyWithinMs / 1000} s:\n${tail}`);
    }
    await sleep(200);
  }
}

/** The pids whose parent is `pid` (Linux /proc). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** Wait until `cond` holds (polled every 100 ms); false when `ms` pass first. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** One gauge or counter of a Prometheus text answer (the first sample without labels), or NaN. */
export function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)`, 'm').exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

export interface DurableRedis {
  readonly port: number;
  readonly url: string;
  readonly child: () => ChildProcess;
  /** SIGKILL (a crash; the append-only file keeps what was acknowledged). */
  kill(): Promise<void>;
  /** Start again on the same port and directory (replays the append-only file). */
  restart(): Promise<void>;
  /** Kill it and remove its directory. */
  stop(): Promise<void>;
}

/**
 * A private redis-server on a free loopback port, persisting every write before acknowledging it
 * (`appendfsync always`) and accepting DEBUG (for `DEBUG SLEEP`). Never the shared 6379.
 */
export async function startDurableRedis(): Promise<DurableRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-proof-redis-'));
  const port = await freePort();
  const extra = ['--appendonly', 'yes', '--appendfsync', 'always', '--enable-debug-command', 'yes'];
  let child = await spawnRedis(port, dir, extra);
  const waitExit = (c: ChildProcess): Promise<void> =>
    c.exitCode !== null || c.signalCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', () => r()));
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    child: () => child,
    async kill() {
      const c = child;
      c.kill('SIGKILL');
      await waitExit(c);
    },
    async restart() {
      child = await spawnRedis(port, dir, extra);
    },
    async stop() {
      const c = child;
      c.kill('SIGCONT');
      c.kill('SIGKILL');
      await waitExit(c);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Every file of a pack directory by relative path: the `{"files": …}` upload body. */
export function packFilesOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(dir, p).split('\\').join('/')] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}

/** The same pack with its header's version replaced: a new hash, the same rules. */
export function packVersion(files: Readonly<Record<string, string>>, version: number): Record<string, string> {
  const out = { ...files };
  const header = Object.keys(out).find((k) => /^pack\s+\S+\s+version\s+\d+/m.test(out[k]!));
  if (header === undefined) throw new Error('no `pack NAME version N` header in the pack');
  out[header] = out[header]!.replace(/^(pack\s+\S+\s+version\s+)\d+/m, `$1${version}`);
  return out;
}
