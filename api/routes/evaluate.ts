// POST /v1/evaluate and POST /v1/outcome: the two calls the auth service makes, behind
// VIGIL_API_TOKEN when it is set.
import { Router } from 'express';
import { EngineUnavailableError } from '../../engine/index.ts';
import type { Engine, EvaluateResult } from '../../engine/types.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import { requireToken } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import type { VigilMetrics } from '../metrics.ts';
import { fieldIssues, outcomeBodySchema, parseEvaluateBody } from '../schemas.ts';
import { jsonBody } from './body.ts';

export interface EvaluateRouteDeps {
  readonly engine: Engine;
  readonly packs: Pick<PackManager, 'current'>;
  readonly metrics: VigilMetrics;
  readonly apiToken: string | undefined;
  readonly maxSkewMs: number;
  readonly now: () => number;
}

export function evaluateRoutes(d: EvaluateRouteDeps): Router {
  const r = Router();
  // No token configured: no layer at all (the hot route runs every layer on every request).
  const auth = d.apiToken === undefined ? [] : [requireToken(d.apiToken)];

  r.post('/v1/evaluate', ...auth, ...jsonBody(), async (req, res) => {
    const parsed = parseEvaluateBody(req.body, d.maxSkewMs, d.now());
    if (!parsed.ok) throw new ApiError('invalid_request', 'invalid evaluate request', parsed.issues);
    if (d.packs.current() === null) throw new ApiError('unavailable', 'no rule pack is loaded');
    const explainQ = req.query.explain;
    const explain = explainQ === '1' || explainQ === 'true';
    const t0 = process.hrtime.bigint();
    let result: EvaluateResult;
    try {
      result = await d.engine.evaluate(parsed.event, { explain });
    } catch (err) {
      // A swap to "no pack" between the check above and the engine's own read.
      if (err instanceof EngineUnavailableError) throw new ApiError('unavailable', 'no rule pack is loaded');
      throw err;
    }
    d.metrics.observeDecision(parsed.event.type, result, Number(process.hrtime.bigint() - t0) / 1e9);
    const rc = ctx(res);
    rc.extra.decision_id = result.decision_id;
    rc.extra.decision = result.decision;
    rc.extra.pack_hash = result.pack.hash;
    if (result.degraded) rc.extra.degraded = true;
    // The hot path's answer written directly: res.json's content negotiation and freshness checks do
    // nothing for a POST answer but cost CPU on every request.
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(result));
  });

  r.post('/v1/outcome', ...auth, ...jsonBody(), async (req, res) => {
    const parsed = outcomeBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ApiError('invalid_request', 'invalid outcome request', fieldIssues(parsed.error));
    const r2 = await d.engine.outcome(parsed.data.decision_id, parsed.data.outcome);
    if (r2 === 'not_found') throw new ApiError('not_found', 'unknown or expired decision id');
    ctx(res).extra.decision_id = parsed.data.decision_id;
    res.status(204).end();
  });

  // OPTIONS meets the same token as the routes (Express would otherwise answer it, unauthenticated,
  // with their methods); past it, Express's answer: 200 and `Allow: POST`. Never CORS headers: the
  // auth service calls from its server, not from a browser.
  if (auth.length > 0) r.options(['/v1/evaluate', '/v1/outcome'], ...auth, (_req, _res, next) => next());

  return r;
}
