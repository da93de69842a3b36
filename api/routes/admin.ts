// Admin routes over decisions, users, counters and the audit log: GET /v1/decisions/:id (with
// ?explain=1, the explain trace of engine/explain.ts), GET /v1/decisions (the decision log's search), GET
// /v1/users/:id/security-log (the user's own security log), DELETE /v1/users/:id/history (erasure), DELETE
// /v1/counters (a false positive's undo), POST /v1/model/reload, GET /v1/audit; and the helpers
// every admin route shares (the actor, recording an audit entry). Disabled (404) when
// VIGIL_ADMIN_TOKEN is unset.
import { errorMessage } from '../../common/errors.ts';
import { Router, type Request, type Response } from 'express';
import type { AuditEntry, AuditLog } from '../../engine/audit.ts';
import { explainDecision } from '../../engine/explain.ts';
import type { PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import {
  auditQuerySchema,
  countersBodySchema,
  decisionQuerySchema,
  fieldIssues,
  identifierProblem,
  MAX_DECISION_ID,
  MAX_USER_ID,
  securityLogQuerySchema,
  undecodableQuery,
  userIdParamsSchema,
} from '../schemas.ts';
import { jsonBody } from './body.ts';

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

/**
 * Keep an admin change in the audit log. The change is done by now: an audit log that fails is
 * logged loudly (the log line carries the same facts) rather than turned into an error the caller
 * would retry, repeating the change.
 */
export async function recordAudit(res: Response, audit: AuditLog, entry: AuditEntry): Promise<void> {
  try {
    await audit.record(entry);
  } catch (err) {
    ctx(res).log.error({ err: errorMessage(err), audit: true, action: entry.action, by: entry.by }, 'the audit log did not keep an admin change');
  }
}

function param(req: Request, name: string): string {
  const v = (req.params as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

export interface AdminRouteDeps {
  readonly engine: Engine;
  readonly audit: AuditLog;
  readonly adminToken: string | undefined;
  readonly now?: () => number;
  /** The active pack, which explain traces a kept decision with (absent: no trace). */
  readonly packs?: Pick<PackManager, 'current'>;
}

export function adminRoutes(d: AdminRouteDeps): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);
  const now = d.now ?? Date.now;
  const querySchema = decisionQuerySchema(now);
  const auditSchema = auditQuerySchema(now);

  r.get('/v1/decisions', admin, async (req, res) => {
    const undecodable = undecodableQuery(req.originalUrl);
    if (undecodable !== null) throw new ApiError('invalid_request', 'invalid decision search', [undecodable]);
    // A repeated parameter (?rule=a&rule=b) arrives as an array and is refused by the schema.
    const parsed = querySchema.safeParse(req.query);
    if (!parsed.success) throw new ApiError('invalid_request', 'invalid decision search', fieldIssues(parsed.error));
    res.json(await d.engine.searchDecisions(parsed.data));
  });

  r.get('/v1/decisions/:id', admin, async (req, res) => {
    const id = param(req, 'id');
    if (id.length === 0 || identifierProblem(id, MAX_DECISION_ID) !== null) throw new ApiError('not_found', 'unknown or expired decision id');
    const explain = req.query.explain;
    if (explain !== undefined && explain !== '1' && explain !== 'true' && explain !== '0' && explain !== 'false') {
      throw new ApiError('invalid_request', 'explain must be 1, true, 0 or false', [{ path: 'query.explain', code: 'invalid_value', message: 'expected 1 or true' }]);
    }
    const decision = await d.engine.getDecision(id);
    if (decision === null) throw new ApiError('not_found', 'unknown or expired decision id');
    if (explain !== '1' && explain !== 'true') {
      res.json(decision);
      return;
    }
    res.json({ ...decision, explain: explainDecision(decision, d.packs?.current()?.pack ?? null, d.engine) });
  });

  // The user's own security log, for the auth service to show its user. The user id is neither
  // logged nor kept: the log is keyed by its hash.
  r.get('/v1/users/:id/security-log', admin, async (req, res) => {
    const params = userIdParamsSchema.safeParse(req.params);
    if (!params.success) throw new ApiError('invalid_request', `the user id must be 1-${MAX_USER_ID} bytes (UTF-8) of well-formed Unicode`, fieldIssues(params.error).map((i) => ({ ...i, path: `params.${i.path}` })));
    const undecodable = undecodableQuery(req.originalUrl);
    if (undecodable !== null) throw new ApiError('invalid_request', 'invalid security-log query', [undecodable]);
    const query = securityLogQuerySchema.safeParse(req.query);
    if (!query.success) throw new ApiError('invalid_request', 'invalid security-log query', fieldIssues(query.error));
    const q = query.data;
    res.json(
      await d.engine.securityLog(params.data.id, {
        ...(q.limit !== undefined ? { limit: q.limit } : {}),
        ...(q.cursor !== undefined ? { cursor: q.cursor } : {}),
      }),
    );
  });

  r.delete('/v1/users/:id/history', admin, async (req, res) => {
    const id = param(req, 'id');
    const problem = id.length === 0 ? { code: 'too_small', message: 'must not be empty' } : identifierProblem(id, MAX_USER_ID);
    if (problem !== null) {
      throw new ApiError('invalid_request', `the user id must be 1-${MAX_USER_ID} bytes (UTF-8) of well-formed Unicode`, [
        { path: 'params.id', code: problem.code, message: problem.message },
      ]);
    }
    const by = actorOf(req);
    const { keys, decisions } = await d.engine.eraseUser(id);
    // The user id is never logged nor audited; the audit records who erased, when and how much.
    ctx(res).log.info({ audit: true, action: 'erase_user', by, keys, decisions, at: new Date(now()).toISOString() }, 'user history erased');
    await recordAudit(res, d.audit, { at: now(), by, action: 'user_erase', details: { keys, decisions } });
    res.json({ keys, decisions });
  });

  // A false positive's undo. The address and user id travel only in this request: the store hashes
  // them as it hashes events; neither is logged nor audited.
  r.delete('/v1/counters', admin, ...jsonBody(), async (req, res) => {
    const by = actorOf(req);
    const parsed = countersBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ApiError('invalid_request', 'give "ip", "user" or both', fieldIssues(parsed.error));
    const b = parsed.data;
    const ip = b.ip ?? undefined;
    const user = b.user ?? undefined;
    const subnet = b.subnet === true;
    const cleared = await d.engine.clearCounters({
      ...(ip !== undefined ? { ip, subnet } : {}),
      ...(user !== undefined ? { user } : {}),
    });
    const details = { ip: ip !== undefined, subnet, user: user !== undefined, keys: cleared };
    ctx(res).log.info({ audit: true, action: 'counters_clear', by, ...details, at: new Date(now()).toISOString() }, 'counters cleared');
    await recordAudit(res, d.audit, { at: now(), by, action: 'counters_clear', ...(b.reason != null ? { reason: b.reason } : {}), details });
    res.json({ cleared });
  });

  r.get('/v1/audit', admin, async (req, res) => {
    const parsed = auditSchema.safeParse(req.query);
    if (!parsed.success) throw new ApiError('invalid_request', 'invalid audit query', fieldIssues(parsed.error));
    const q = parsed.data;
    const entries = await d.audit.query({
      ...(q.since !== undefined ? { since: q.since } : {}),
      ...(q.action !== undefined ? { action: q.action } : {}),
      ...(q.limit !== undefined ? { limit: q.limit } : {}),
    });
    res.json({
      entries: entries.map((e) => ({
        at: new Date(e.at).toISOString(),
        by: e.by,
        action: e.action,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        details: e.details,
      })),
    });
  });

  // Hot-reload the anomaly model from its file (e.g. after `vigil train` wrote a new one there).
  // Requests in flight finish on the session they started with.
  r.post('/v1/model/reload', admin, async (req, res) => {
    if (!d.engine.reloadModel) throw new ApiError('not_found', 'no model is configured');
    const by = actorOf(req);
    try {
      const { version } = await d.engine.reloadModel();
      ctx(res).log.info({ audit: true, action: 'model_reload', by, version, at: new Date(now()).toISOString() }, 'model reloaded');
      await recordAudit(res, d.audit, { at: now(), by, action: 'model_reload', details: { version } });
      res.json({ version });
    } catch (err) {
      throw new ApiError('model_rejected', `the model file was refused: ${errorMessage(err)}`);
    }
  });

  return r;
}
