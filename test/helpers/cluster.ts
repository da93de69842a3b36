// A real 3-master Redis Cluster on loopback ports for the cluster runner of the signal-store
// contract: one redis-server per node (cluster mode, config in a temp dir), joined with
// `redis-cli --cluster create`, ready when every node reports cluster_state:ok. Skipped only outside
// CI when redis-server is not installed (`clusterAvailable`); under CI=true it always runs.
import { execFile, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, spawnRedis } from './redis.ts';

const execFileP = promisify(execFile);

function installed(cmd: string): boolean {
  return spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
}

/** False only when not under CI and redis-server / redis-cli are missing. */
export const clusterAvailable: boolean = process.env.CI === 'true' || (installed('redis-server') && installed('redis-cli'));

export interface TestCluster {
  readonly ports: readonly number[];
  /** `redis://127.0.0.1:P1,redis://127.0.0.1:P2,…` as REDIS_URL would hold it. */
  readonly url: string;
  /** A direct connection to each master (for dumping keys). */
  nodes(): Redis[];
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<TestCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'vigil-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const clients: Redis[] = [];
  const stop = async (): Promise<void> => {
    for (const c of clients) c.disconnect();
    await Promise.all(
      children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters; i++) {
      // The cluster bus listens on port + 10000: both must be free.
      const port = await freePort(10_000);
      ports.push(port);
      children.push(
        await spawnRedis(port, dir, [
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--cluster-node-timeout',
          '2000',
        ]),
      );
    }
    await execFileP(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      { timeout: 30_000 },
    );
    for (const p of ports) {
      const c = new Redis(p, '127.0.0.1', { maxRetriesPerRequest: 1 });
      c.on('error', () => undefined);
      clients.push(c);
    }
    const deadline = Date.now() + 20_000;
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.cluster('INFO') as Promise<string>));
      if (infos.every((s) => s.includes('cluster_state:ok'))) break;
      if (Date.now() > deadline) throw new Error('cluster did not reach cluster_state:ok');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    ports,
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    nodes: () => clients,
    stop,
  };
}
