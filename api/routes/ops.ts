// Operations routes: /healthz (process up), /readyz (pack loaded, signal store reachable, not
// shutting down) and /metrics (Prometheus exposition). Unauthenticated, as scrapers and load
// balancers expect; they reveal no identifiers.
import { Router } from 'express';
import type { Engine } from '../../engine/types.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import { ApiError } from '../errors.ts';
import type { VigilMetrics } from '../metrics.ts';

export const READY_TIMEOUT_MS = 1000;

export function opsRoutes(d: {
  readonly engine: Engine;
  readonly packs: Pick<PackManager, 'current'> & Partial<Pick<PackManager, 'waiting'>>;
  readonly metrics: VigilMetrics;
  readonly shuttingDown: () => boolean;
}): Router {
  const r = Router();

  r.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  r.get('/readyz', async (_req, res) => {
    const active = d.packs.current();
    let engineChecks: Readonly<Record<string, boolean>> = {};
    let engineOk = false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('readiness check timed out')), READY_TIMEOUT_MS);
      });
      const ready = await Promise.race([d.engine.ready(), timeout]);
      engineChecks = ready.checks;
      engineOk = ready.ok;
    } catch {
      engineOk = false;
    } finally {
      if (timer) clearTimeout(timer);
    }
    const checks = { ...engineChecks, engine: engineOk, pack: active !== null, accepting: !d.shuttingDown() };
    const pack = active ? { name: active.meta.name, version: active.meta.version, hash: active.meta.hash } : null;
    // Why no pack is served, when the pack manager can say (Redis lost the history): what to do.
    const waiting = active === null ? (d.packs.waiting?.() ?? null) : null;
    if (!engineOk || active === null || d.shuttingDown()) {
      throw new ApiError('unavailable', waiting ?? 'not ready', { checks, pack, ...(waiting !== null ? { reason: waiting } : {}) });
    }
    res.json({ status: 'ready', checks, pack });
  });

  r.get('/metrics', async (_req, res) => {
    const text = await d.metrics.render();
    res.setHeader('Content-Type', d.metrics.contentType);
    res.send(text);
  });

  return r;
}
