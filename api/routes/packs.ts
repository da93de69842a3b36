// Rule-pack admin routes: validate, activate (`?force=1` past the pack's own failing tests, with a
// reason), list the history, read a stored pack's files, roll back (to the previous version or a
// named hash). Disabled (404) when VIGIL_ADMIN_TOKEN is unset. Every refusal is a 422
// `pack_rejected` carrying the diagnostics and the failing tests; the active pack keeps serving.
import { Router, type Request, type Response } from 'express';
import { assertNever } from '../../dsl/ast.ts';
import { checkToJson, type PackCheck, type PackFiles, type PackManager } from '../../engine/packs/index.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import { fieldIssues, PACK_HASH, packChangeQuerySchema, packFilesBodySchema, packRollbackBodySchema } from '../schemas.ts';
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
async function viaStore<T>(res: Response, op: () => Promise<T>): Promise<T> {
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

/** `?force=` and `?reason=` of an activation. */
function changeQuery(req: Request): { force: boolean; reason?: string } {
  const parsed = packChangeQuerySchema.safeParse(req.query);
  if (!parsed.success) throw new ApiError('invalid_request', 'invalid query', fieldIssues(parsed.error));
  return { force: parsed.data.force === true, ...(parsed.data.reason !== undefined ? { reason: parsed.data.reason } : {}) };
}

export function packRoutes(d: { readonly packs: PackManager; readonly adminToken: string | undefined }): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);

  r.post('/v1/packs/validate', admin, ...packBody(), (req, res) => {
    const c = d.packs.check(filesOf(req));
    const j = checkToJson(c);
    res.json({ ok: j.ok, error: j.error, pack: packInfo(c), diagnostics: j.diagnostics, tests: j.tests, rendered: j.rendered });
  });

  r.put('/v1/packs/active', admin, ...packBody(), async (req, res) => {
    const by = actorOf(req);
    const q = changeQuery(req);
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
    res.json(await viaStore(res, () => d.packs.list()));
  });

  r.get('/v1/packs/:hash', admin, async (req, res) => {
    const v = (req.params as Record<string, unknown>).hash;
    const hash = typeof v === 'string' && PACK_HASH.test(v) ? v : null;
    const found = hash === null ? null : await viaStore(res, () => d.packs.stored(hash));
    if (!found) throw new ApiError('not_found', 'no pack with this hash in the history');
    res.json({ pack: found.meta, files: found.files, root: found.root });
  });

  r.post('/v1/packs/rollback', admin, ...jsonBody(), async (req, res) => {
    const by = actorOf(req);
    const parsed = packRollbackBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ApiError('invalid_request', 'expected no body or {"to": hash, "reason": "..."}', fieldIssues(parsed.error));
    const to = parsed.data?.to ?? undefined;
    const reason = parsed.data?.reason ?? undefined;
    const result = await viaStore(res, () =>
      d.packs.rollback({ by, ...(to !== undefined ? { to } : {}), ...(reason !== undefined ? { reason } : {}) }),
    );
    switch (result.status) {
      case 'rolled_back':
        res.json({ status: 'rolled_back', active: result.active.meta, from: result.from, diff: result.diff });
        return;
      case 'none':
        throw new ApiError('conflict', 'there is no earlier version to roll back to');
      case 'not_found':
        throw new ApiError('not_found', `no pack with hash ${to ?? ''} in the history (GET /v1/packs lists it)`);
      case 'current':
        throw new ApiError('conflict', `${to ?? 'that pack'} is already the active pack`);
      case 'conflict':
        throw new ApiError('conflict', 'the pack history changed concurrently; list it and retry');
      case 'rejected':
        throw rejected(result.check, `${to === undefined ? 'the previous version' : 'that version'} no longer compiles or passes its tests`);
      default:
        return assertNever(result, 'rollback result');
    }
  });

  return r;
}
