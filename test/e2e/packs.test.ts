// End-to-end pack lifecycle on two spawned `vigil serve` instances sharing one private
// redis-server: a hot swap under concurrent load answers every request 200 and serves the new hash
// from the moment the PUT returns; a broken pack or one with failing tests is refused with 422 and
// diagnostics while the old pack keeps serving; rollback restores the previous hash; a change made
// on one instance is served by the other within a second. Needs redis-server and FAILS without it.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  call,
  clock,
  copyPack,
  eventBody,
  evaluate,
  FIREFOX,
  ownRedis,
  packFiles,
  place,
  sleep,
  startVigil,
  uid,
  withVersion,
  type EvaluateAnswer,
  type ErrorAnswer,
  type VigilProcess,
} from './helpers.ts';

/** The documented bound: every instance follows a pack change through Redis pub/sub within 1 s. */
const PROPAGATION_MS = 1000;

interface PackMeta {
  readonly name: string;
  readonly version: number;
  readonly hash: string;
}

interface PutAnswer {
  readonly status: string;
  readonly active: PackMeta;
}

interface Diagnostic {
  readonly code: string;
  readonly severity: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

interface RejectedDetails {
  readonly diagnostics: readonly Diagnostic[];
  readonly tests: { readonly passed: number; readonly failed: number; readonly failures: readonly { readonly name: string }[] };
}

const redis = ownRedis();
let a: VigilProcess;
let b: VigilProcess;
let v1: Record<string, string>;
let v1Hash: string;
const at = clock();
let seq = 0;

function attempt(): Parameters<typeof evaluate>[1] {
  const n = seq++;
  return { user: uid('load'), ip: place.changchun(n % 256), device: uid('d'), ua: FIREFOX, time: at(n / 100) };
}

async function servedHash(v: VigilProcess): Promise<string> {
  return (await evaluate(v, attempt())).pack.hash;
}

function put(v: VigilProcess, files: Record<string, string>) {
  return call<PutAnswer & ErrorAnswer>(v.url, 'PUT', '/v1/packs/active', { body: { files }, token: ADMIN_TOKEN });
}

/** Poll `v` until it serves `hash`; returns the milliseconds it took, or throws after `limitMs` × 3. */
async function until(v: VigilProcess, hash: string, limitMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if ((await servedHash(v)) === hash) return performance.now() - t0;
    if (performance.now() - t0 > limitMs * 3) throw new Error(`${v.url} still does not serve ${hash} after ${limitMs * 3} ms`);
    await sleep(10);
  }
}

beforeAll(async () => {
  const dir = copyPack();
  v1 = packFiles(dir);
  a = await startVigil({ redisUrl: redis.url, rulesDir: dir });
  b = await startVigil({ redisUrl: redis.url, rulesDir: copyPack() });
  v1Hash = await servedHash(a);
});


describe('hot reload', () => {
  it('both instances start on the shipped pack', async () => {
    expect(v1Hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await servedHash(b)).toBe(v1Hash);
    const ready = await call<{ pack: PackMeta }>(a.url, 'GET', '/readyz', { token: null });
    expect(ready.status).toBe(200);
    expect(ready.body.pack).toEqual({ name: 'login_core', version: 1, hash: v1Hash });
  });

  it('a new version activated under concurrent load: every request answers 200, and the new hash once the PUT returned', async () => {
    // The load runs until 150 requests have started after the PUT returned (the check runs in a
    // worker thread, so how long the PUT takes depends on the machine), with a cap.
    const SWAP_AFTER = 100;
    const AFTER_SWAP = 150;
    const MAX = 5000;
    const CONCURRENCY = 10;
    const answers: { status: number; hash: string | undefined; startedAfterSwap: boolean }[] = [];
    let issued = 0;
    let issuedAfterSwap = 0;
    let swapped = false;
    let putResult: Awaited<ReturnType<typeof put>> | undefined;
    let putPromise: Promise<void> | undefined;

    const worker = async (): Promise<void> => {
      while (issued < MAX && (issued < SWAP_AFTER || !swapped || issuedAfterSwap < AFTER_SWAP)) {
        issued++;
        if (issued === SWAP_AFTER) {
          putPromise = put(a, withVersion(v1, 2)).then((r) => {
            putResult = r;
            swapped = true;
          });
        }
        const startedAfterSwap = swapped;
        if (startedAfterSwap) issuedAfterSwap++;
        const r = await call<EvaluateAnswer>(a.url, 'POST', '/v1/evaluate', { body: eventBody(attempt()) });
        answers.push({ status: r.status, hash: r.status === 200 ? r.body.pack.hash : undefined, startedAfterSwap });
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await putPromise;

    expect(putResult?.status).toBe(200);
    expect(putResult!.body.status).toBe('activated');
    const v2Hash = putResult!.body.active.hash;
    expect(putResult!.body.active).toMatchObject({ name: 'login_core', version: 2 });
    expect(v2Hash).not.toBe(v1Hash);

    expect(answers).toHaveLength(issued);
    expect(issued).toBeLessThan(MAX);
    expect(answers.filter((x) => x.status !== 200)).toEqual([]);
    expect(new Set(answers.map((x) => x.hash))).toEqual(new Set([v1Hash, v2Hash]));
    const after = answers.filter((x) => x.startedAfterSwap);
    // The load went on long after the swap, and none of it was served by the old pack.
    expect(after.length).toBeGreaterThan(100);
    expect(after.filter((x) => x.hash !== v2Hash)).toEqual([]);
    expect(answers.filter((x) => x.hash === v1Hash).length).toBeGreaterThanOrEqual(SWAP_AFTER - CONCURRENCY);

    expect(await until(b, v2Hash, PROPAGATION_MS)).toBeLessThan(PROPAGATION_MS);
  });

  it('a pack with a syntax error is refused with 422 and positioned diagnostics; the old pack keeps serving', async () => {
    const before = await servedHash(a);
    expect(before).not.toBe(v1Hash);
    const broken = withVersion(v1, 3);
    // Line 8 of the policy file loses its threshold (`step_up when score >=`): the parser meets the
    // `}` at line 9, column 1 where the number should be.
    broken['80_policy.rules'] = broken['80_policy.rules']!.replace('step_up when score >= 50', 'step_up when score >=');
    const r = await put(a, broken);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('pack_rejected');
    const d = r.body.error.details as RejectedDetails;
    const errors = d.diagnostics.filter((x) => x.severity === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatchObject({ code: 'E_SYNTAX', file: 'upload/80_policy.rules', line: 9, col: 1 });

    expect(await servedHash(a)).toBe(before);
    expect(await servedHash(b)).toBe(before);
  });

  it('a pack whose tests fail is refused with 422 naming the failing tests; the old pack keeps serving', async () => {
    const before = await servedHash(a);
    const strict = withVersion(v1, 3);
    // A hair-trigger policy breaks the pack's own "…do not challenge alone" tests.
    strict['80_policy.rules'] = strict['80_policy.rules']!.replace('step_up when score >= 50', 'step_up when score >= 5');
    const r = await put(a, strict);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('pack_rejected');
    const d = r.body.error.details as RejectedDetails;
    expect(d.diagnostics.filter((x) => x.severity === 'error')).toEqual([]);
    expect(d.tests.failed).toBeGreaterThan(0);
    expect(d.tests.failures.map((f) => f.name)).toContain('failures from a cloud provider are scored but do not challenge alone');

    expect(await servedHash(a)).toBe(before);
    expect(await servedHash(b)).toBe(before);
  });

  it('rollback restores the previous version on both instances', async () => {
    const listed = await call<{ active: PackMeta; history: PackMeta[] }>(a.url, 'GET', '/v1/packs', { token: ADMIN_TOKEN });
    expect(listed.status).toBe(200);
    expect(listed.body.active.version).toBe(2);
    expect(listed.body.history.map((h) => h.hash)).toContain(v1Hash);

    const r = await call<{ status: string; active: PackMeta; from: PackMeta }>(a.url, 'POST', '/v1/packs/rollback', { token: ADMIN_TOKEN });
    expect(r.status).toBe(200);
    expect(r.body.status).toBe('rolled_back');
    expect(r.body.active).toMatchObject({ version: 1, hash: v1Hash });
    expect(r.body.from.version).toBe(2);
    expect(await servedHash(a)).toBe(v1Hash);
    expect(await until(b, v1Hash, PROPAGATION_MS)).toBeLessThan(PROPAGATION_MS);
  });

  it('pack admin routes refuse the API token', async () => {
    const r = await call<ErrorAnswer>(a.url, 'PUT', '/v1/packs/active', { body: { files: withVersion(v1, 9) } });
    expect(r.status).toBe(401);
    expect(r.body.error.code).toBe('unauthorized');
    expect(await servedHash(a)).toBe(v1Hash);
  });
});

describe('two instances on one Redis', () => {
  it('a version activated on A is served by B within a second, and the other way round', async () => {
    const put5 = await put(a, withVersion(v1, 5));
    expect(put5.status).toBe(200);
    const h5 = put5.body.active.hash;
    expect(await until(b, h5, PROPAGATION_MS)).toBeLessThan(PROPAGATION_MS);

    const put6 = await put(b, withVersion(v1, 6));
    expect(put6.status).toBe(200);
    const h6 = put6.body.active.hash;
    expect(await until(a, h6, PROPAGATION_MS)).toBeLessThan(PROPAGATION_MS);
    const ready = await call<{ pack: PackMeta }>(a.url, 'GET', '/readyz', { token: null });
    expect(ready.body.pack).toEqual({ name: 'login_core', version: 6, hash: h6 });
  });
});
