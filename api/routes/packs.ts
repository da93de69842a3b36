// Rule-pack admin routes: validate, activate (`?force=1` past the pack's own failing tests, with a
// reason), list, roll back; the shadow pack (set, clear, its report). Disabled (404) when
// VIGIL_ADMIN_TOKEN is unset. Every refusal is a 422 `pack_rejected` carrying the diagnostics and
// the failing tests; the active pack (and the shadow pack) keeps serving.
import { Router, type Request, type Response } from 'express';
import { assertNever } from '../../dsl/ast.ts';
import { checkToJson, type PackCheck, type PackFiles, type PackManager } from '../../engine/packs/index.ts';
import type { Engine } from '../../engine/types.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import { fieldIssues, packChangeQuerySchema, packFilesBodySchema, reasonBodySchema, shadowReportQuerySchema } from '../schemas.ts';
import { actorOf } from './admin.ts';
import { jsonBody, packBody } from './body.ts';

/** The file name a single-file (text/plain) upload is compiled as. */
export const SINGLE_FILE_NAME = 'pack.rules';

function filesOf(req: Request): PackFiles {
  if (typeof req.body === 'string') {
    if (req.body.trim() === '') throw new ApiError('invalid_request', 'the pack source is empty');
    return { [SINGLE_FILE_NAME]: req.body };
  }
  const parsed = packFilesBodySchema.safeParse(req.body);
  if (!parsed.success) {
    throw new ApiError(
      'invalid_request',
      'expected a text/plain pack file or {"files": {"name.rules": "..."}}',
      fieldIssues(parsed.error),
    );
  }
  return parsed.data.files;
}

/**
 * Run a pack-history operation; a failure there is the pack store (Redis) failing, answered 503
 * so the caller retries rather than reading it as a bug.
 */
export async function viaStore<T>(res: Response, op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (err) {
    if (err instanceof ApiError) throw err;
    ctx(res).log.warn({ err }, 'pack store operation failed');
    throw new ApiError('unavailable', 'the pack store (Redis) is unreachable; the active pack keeps serving');
  }
}

function packInfo(c: PackCheck): { name: string; version: number; hash: string } | null {
  return c.pack ? { name: c.pack.name, version: c.pack.version, hash: c.pack.hash } : null;
}

function rejected(c: PackCheck, message: string): ApiError {
  const j = checkToJson(c);
  return new ApiError('pack_rejected', message, { error: j.error, diagnostics: j.diagnostics, tests: j.tests, rendered: j.rendered });
}

/** `?force=` and `?reason=` of a pack change. */
function changeQuery(req: Request, allowForce: boolean): { force: boolean; reason?: string } {
  const parsed = packChangeQuerySchema.safeParse(req.query);
  if (!parsed.success) throw new ApiError('invalid_request', 'invalid query', fieldIssues(parsed.error));
  if (!allowForce && parsed.data.force !== undefined) {
    throw new ApiError('invalid_request', 'invalid query', [{ path: 'force', code: 'unrecognized_keys', message: 'a shadow pack cannot be forced' }]);
  }
  return { force: parsed.data.force === true, ...(parsed.data.reason !== undefined ? { reason: parsed.data.reason } : {}) };
}

/** The optional `{"reason"}` body of a DELETE. */
export function reasonOf(req: Request): { reason?: string } {
  const parsed = reasonBodySchema.safeParse(req.body);
  if (!parsed.success) throw new ApiError('invalid_request', 'expected no body or {"reason": "..."}', fieldIssues(parsed.error));
  const reason = parsed.data?.reason;
  return reason != null ? { reason } : {};
}

export function packRoutes(d: {
  readonly packs: PackManager;
  readonly engine: Pick<Engine, 'shadowReport'>;
  readonly adminToken: string | undefined;
}): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);

  r.post('/v1/packs/validate', admin, ...packBody(), (req, res) => {
    const c = d.packs.check(filesOf(req));
    const j = checkToJson(c);
    res.json({ ok: j.ok, error: j.error, pack: packInfo(c), diagnostics: j.diagnostics, tests: j.tests, rendered: j.rendered });
  });

  r.put('/v1/packs/active', admin, ...packBody(), async (req, res) => {
    const by = actorOf(req);
    const q = changeQuery(req, true);
    const files = filesOf(req);
    const result = await viaStore(res, () => d.packs.activate(files, { by, source: 'api', ...q }));
    if (result.status === 'rejected') {
      throw rejected(
        result.check,
        q.force
          ? 'the pack has errors (force overrides failing tests only); the active pack keeps serving'
          : 'the pack has errors or failing tests; the active pack keeps serving',
      );
    }
    const j = checkToJson(result.check);
    res.json({
      status: result.status,
      active: result.active.meta,
      ...(result.status === 'activated' ? { diff: result.diff } : {}),
      diagnostics: j.diagnostics,
      tests: j.tests,
    });
  });

  r.get('/v1/packs', admin, async (_req, res) => {
    const list = await viaStore(res, () => d.packs.list());
    res.json({ ...list, shadow: d.packs.shadow()?.meta ?? null });
  });

  r.put('/v1/packs/shadow', admin, ...packBody(), async (req, res) => {
    const by = actorOf(req);
    const q = changeQuery(req, false);
    const files = filesOf(req);
    const result = await viaStore(res, () => d.packs.setShadow(files, { by, ...(q.reason !== undefined ? { reason: q.reason } : {}) }));
    if (result.status === 'rejected') {
      throw rejected(result.check, 'the pack has errors or failing tests; it does not run as the shadow pack');
    }
    const j = checkToJson(result.check);
    res.json({
      status: result.status,
      shadow: result.shadow.meta,
      active: d.packs.current()?.meta ?? null,
      diagnostics: j.diagnostics,
      tests: j.tests,
    });
  });

  r.delete('/v1/packs/shadow', admin, ...jsonBody(), async (req, res) => {
    const by = actorOf(req);
    const why = reasonOf(req);
    const was = await viaStore(res, () => d.packs.clearShadow({ by, ...why }));
    if (!was) throw new ApiError('not_found', 'no shadow pack is set');
    res.json({ status: 'cleared', shadow: was });
  });

  r.get('/v1/packs/shadow/report', admin, async (req, res) => {
    const parsed = shadowReportQuerySchema.safeParse(req.query);
    if (!parsed.success) throw new ApiError('invalid_request', 'invalid query', fieldIssues(parsed.error));
    const shadow = d.packs.shadow();
    const active = d.packs.current();
    if (!shadow || !active) throw new ApiError('not_found', 'no shadow pack is set');
    const report = d.engine.shadowReport;
    if (!report) throw new ApiError('unavailable', 'this engine keeps no shadow report');
    // By default, since the shadow pack was set.
    const since = parsed.data.since ?? Date.parse(shadow.meta.activated_at);
    res.json(await viaStore(res, () => report.call(d.engine, { active: active.meta.hash, shadow: shadow.meta.hash, since })));
  });

  r.post('/v1/packs/rollback', admin, async (req, res) => {
    const by = actorOf(req);
    const result = await viaStore(res, () => d.packs.rollback({ by }));
    switch (result.status) {
      case 'rolled_back':
        res.json({ status: 'rolled_back', active: result.active.meta, from: result.from, diff: result.diff });
        return;
      case 'none':
        throw new ApiError('conflict', 'there is no earlier version to roll back to');
      case 'conflict':
        throw new ApiError('conflict', 'the pack history changed concurrently; list it and retry');
      case 'rejected':
        throw rejected(result.check, 'the previous version no longer compiles or passes its tests');
      default:
        return assertNever(result, 'rollback result');
    }
  });

  return r;
}
