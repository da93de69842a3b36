// Test helpers for PostgreSQL: the shared test database's URL, a loud check that it answers (tests
// needing PostgreSQL FAIL without it, never skip), unique schema names so parallel test files never
// collide, and a throwaway PostgreSQL server (initdb into a temp dir, started on a spare loopback
// port) for tests that kill it mid-load. PostgreSQL refuses to run as root, so as root the server
// runs as the `postgres` user through runuser.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chown, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { errorMessage } from '../../common/errors.ts';
import { freePort } from './redis.ts';

const run = promisify(execFile);

/** The shared test PostgreSQL (TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test). */
export function postgresUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** Throws (failing the suite) when the test PostgreSQL does not answer within 3 s. */
export async function requirePostgres(url = postgresUrl()): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
  } catch (err) {
    throw new Error(`PostgreSQL at ${url} does not answer (${errorMessage(err)}): these tests need a running PostgreSQL with a "test" database`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

let seq = 0;
/** A schema name no other test (file, process or run) uses. */
export function uniqueSchema(name: string): string {
  seq++;
  return `t_${name}_${process.pid}_${Date.now().toString(36)}_${seq}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
}

/** Drops `schema` (and everything in it) on the database at `url`. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Directory of the PostgreSQL server binaries (initdb, postgres). */
export async function postgresBinDir(): Promise<string> {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = (await readdir(root).catch(() => [] as string[])).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin');
  throw new Error('no PostgreSQL server binaries found under /usr/lib/postgresql (set PG_BIN)');
}

export interface PostgresServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** SIGKILL the whole server (postmaster and backends, as abrupt as a crash) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start it again on the same port and data (crash recovery included). */
  restart(): Promise<void>;
  /** SIGSTOP the server: connections stay open, nothing answers (a hung or overloaded database). */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Kill and remove the data directory. */
  stop(): Promise<void>;
}

const asRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function command(bin: string, args: readonly string[]): [string, string[]] {
  return asRoot() ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]];
}

async function waitReady(url: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}`);
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await c.query('SELECT 1');
      return;
    } catch {
      /* starting or recovering */
    } finally {
      await c.end().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`postgres at ${url} did not start`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Running (a zombie waiting for a parent to reap it counts as gone: it holds no port or memory). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

function gone(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A private PostgreSQL on a spare loopback port (trust auth, database `postgres`). */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = await postgresBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'vigil-pg-'));
  if (asRoot()) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const data = join(dir, 'data');
  const [initCmd, initArgs] = command(join(bin, 'initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  await run(initCmd, initArgs);
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async (): Promise<ChildProcess> => {
    const [cmd, args] = command(join(bin, 'postgres'), [
      '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${dir}`,
      '-c', 'shared_buffers=32MB', '-c', 'max_connections=30',
    ]);
    const log = await open(join(dir, 'server.log'), 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', log.fd, log.fd] });
    await log.close();
    try {
      await waitReady(url, child);
    } catch (err) {
      child.kill('SIGKILL');
      const tail = (await readFile(join(dir, 'server.log'), 'utf8').catch(() => '')).split('\n').slice(-8).join('\n');
      throw new Error(`${errorMessage(err)}; server log:\n${tail}`);
    }
    return child;
  };
  let child = await start();
  let paused: number[] = [];
  /** The postmaster and its backends (listed while the postmaster lives, so its children are known). */
  const serverPids = async (): Promise<number[]> => {
    const pid = Number((await readFile(join(data, 'postmaster.pid'), 'utf8').catch(() => '')).split('\n')[0]);
    const pids: number[] = [];
    if (Number.isInteger(pid) && pid > 0) {
      pids.push(pid);
      const { stdout } = await run('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({ stdout: '' }));
      for (const p of stdout.split('\n')) if (/^\s*\d+\s*$/.test(p)) pids.push(Number(p));
    }
    return pids;
  };
  const signal = (pids: readonly number[], sig: NodeJS.Signals): void => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        /* already gone */
      }
    }
  };
  const kill = async (): Promise<void> => {
    const c = child;
    // Every server process at once, as abrupt as a crash of the machine's database.
    const pids = await serverPids();
    // Not runuser itself: it must live to reap the postmaster, or a zombie keeps the pid in
    // postmaster.pid "alive" and the restart refuses to start.
    signal(pids, 'SIGKILL');
    if (pids.length === 0) c.kill('SIGKILL');
    else if (c.pid !== undefined) signal([c.pid], 'SIGCONT');
    await gone(c);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && pids.some(alive)) await new Promise((r) => setTimeout(r, 20));
  };
  return {
    port,
    url,
    dir,
    kill,
    async restart() {
      child = await start();
    },
    async pause() {
      paused = await serverPids();
      signal(paused, 'SIGSTOP');
    },
    async resume() {
      // runuser stops itself when its child stops (job control, like su): it is continued too.
      signal([...paused, ...(child.pid !== undefined ? [child.pid] : [])], 'SIGCONT');
      paused = [];
    },
    async stop() {
      signal(paused, 'SIGCONT');
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
