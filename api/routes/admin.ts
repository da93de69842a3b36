// Admin routes over decisions and users: GET /v1/decisions/:id (audit), GET /v1/decisions (the
// decision log's search) and DELETE /v1/users/:id/history (erasure). Disabled (404) when
// VIGIL_ADMIN_TOKEN is unset.
import { errorMessage } from '../../common/errors.ts';
import { Router, type Request } from 'express';
import type { Engine } from '../../engine/types.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import { decisionQuerySchema, fieldIssues, MAX_DECISION_ID, MAX_USER_ID } from '../schemas.ts';

const ACTOR = /^[A-Za-z0-9._@:+-]{1,64}$/;

/** Who made an admin change: `X-Vigil-Actor` (validated, it goes into the audit log) or "admin". */
export function actorOf(req: Request): string {
  const h = req.headers['x-vigil-actor'];
  if (h === undefined) return 'admin';
  if (typeof h !== 'string' || !ACTOR.test(h)) {
    throw new ApiError('invalid_request', 'X-Vigil-Actor must be 1-64 characters of [A-Za-z0-9._@:+-]', [
      { path: 'headers.x-vigil-actor', code: 'invalid_format', message: 'invalid actor' },
    ]);
  }
  return h;
}

function param(req: Request, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export function adminRoutes(d: { readonly engine: Engine; readonly adminToken: string | undefined; readonly now?: () => number }): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);
  const querySchema = decisionQuerySchema(d.now ?? Date.now);

  r.get('/v1/decisions', admin, async (req, res) => {
    // A repeated parameter (?rule=a&rule=b) arrives as an array and is refused by the schema.
    const parsed = querySchema.safeParse(req.query);
    if (!parsed.success) throw new ApiError('invalid_request', 'invalid decision search', fieldIssues(parsed.error));
    const q = parsed.data;
    const page = await d.engine.searchDecisions({
      ...(q.user !== undefined ? { user: q.user } : {}),
      ...(q.rule !== undefined ? { rule: q.rule } : {}),
      ...(q.decision !== undefined ? { decision: q.decision } : {}),
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.until !== undefined ? { until: q.until } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
      ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
    });
    res.json(page);
  });

  r.get('/v1/decisions/:id', admin, async (req, res) => {
    const id = param(req, 'id');
    if (id.length === 0 || id.length > MAX_DECISION_ID) throw new ApiError('not_found', 'unknown or expired decision id');
    const decision = await d.engine.getDecision(id);
    if (decision === null) throw new ApiError('not_found', 'unknown or expired decision id');
    res.json(decision);
  });

  r.delete('/v1/users/:id/history', admin, async (req, res) => {
    const id = param(req, 'id');
    if (id.length === 0 || id.length > MAX_USER_ID) {
      throw new ApiError('invalid_request', `the user id must be 1-${MAX_USER_ID} characters`, [
        { path: 'params.id', code: 'too_big', message: `at most ${MAX_USER_ID} characters` },
      ]);
    }
    const by = actorOf(req);
    const { keys, decisions } = await d.engine.eraseUser(id);
    // The user id is never logged; the audit line records who erased, when and how much.
    ctx(res).log.info({ audit: true, action: 'erase_user', by, keys, decisions, at: new Date().toISOString() }, 'user history erased');
    res.json({ keys, decisions });
  });

  // Hot-reload the anomaly model from its file (e.g. after `vigil train` wrote a new one there).
  // Requests in flight finish on the session they started with.
  r.post('/v1/model/reload', admin, async (req, res) => {
    if (!d.engine.reloadModel) throw new ApiError('not_found', 'no model is configured');
    const by = actorOf(req);
    try {
      const { version } = await d.engine.reloadModel();
      ctx(res).log.info({ audit: true, action: 'model_reload', by, version, at: new Date().toISOString() }, 'model reloaded');
      res.json({ version });
    } catch (err) {
      throw new ApiError('model_rejected', `the model file was refused: ${errorMessage(err)}`);
    }
  });

  return r;
}
