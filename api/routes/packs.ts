// Rule-pack admin routes: validate, activate (`?force=1` past the pack's own failing tests, with a
// reason), list the history, read a stored pack's files, roll back (to the previous version or a
// named hash); the shadow pack (set, clear, its report); and what the console shows before a
// change: a version's files, the diff between the active pack and another version, and a backtest
// of a candidate pack against the decision log. Disabled (404) when VIGIL_ADMIN_TOKEN is unset.
// Every refusal is a 422 `pack_rejected` carrying the diagnostics and the failing tests, or a 422
// `pack_check_aborted` when the check ran past its time or memory cap (engine/packs/checker.ts);
// the active pack (and the shadow pack) keeps serving. With every checker busy, a 503
// `pack_check_busy`.
import { Router, type Request, type Response } from 'express';
import { assertNever } from '../../dsl/ast.ts';
import { backtest } from '../../engine/backtest.ts';
import { checkToJson, diffPacks, PackCheckBusyError, type PackCheck, type PackFiles, type PackManager, type PackMeta } from '../../engine/packs/index.ts';
import type { Engine, StoredDecision } from '../../engine/types.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError, toApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import {
  backtestBodySchema,
  fieldIssues,
  PACK_HASH,
  packChangeQuerySchema,
  packFilesBodySchema,
  packRollbackBodySchema,
  packVersionQuerySchema,
  reasonBodySchema,
  shadowReportQuerySchema,
} from '../schemas.ts';
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
    if (err instanceof ApiError || err instanceof PackCheckBusyError) throw toApiError(err);
    ctx(res).log.warn({ err }, 'pack store operation failed');
    throw new ApiError('unavailable', 'the pack store (Redis, or the PostgreSQL of the decision log) is unreachable; the active pack keeps serving');
  }
}

function packInfo(c: PackCheck): { name: string; version: number; hash: string } | null {
  return c.pack ? { name: c.pack.name, version: c.pack.version, hash: c.pack.hash } : null;
}

function rejected(c: PackCheck, message: string): ApiError {
  if (c.aborted) return aborted(c);
  const j = checkToJson(c);
  return new ApiError('pack_rejected', message, { error: j.error, diagnostics: j.diagnostics, tests: j.tests, rendered: j.rendered });
}

/** A check stopped by its time or memory cap: refused, with why (`details.reason`). */
function aborted(c: PackCheck): ApiError {
  const a = c.aborted!;
  return new ApiError('pack_check_aborted', `${a.message}; the pack is refused and the active pack keeps serving`, { reason: a.reason, error: a.message });
}

/** The pack's check, when it finished; throws the refusal when a cap stopped it. */
async function checked(d: PackRouteDeps, files: PackFiles, root?: string): Promise<PackCheck> {
  let c: PackCheck;
  try {
    c = await d.packs.check(files, root);
  } catch (err) {
    if (err instanceof PackCheckBusyError) throw toApiError(err);
    throw err;
  }
  if (c.aborted) throw aborted(c);
  return c;
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

export const BACKTEST_DEFAULT_LIMIT = 1000;

/** The decision log's search answers at most this many decisions a page. */
const SEARCH_PAGE = 1000;

/** The last `limit` kept decisions, newest first. */
async function lastDecisions(engine: Pick<Engine, 'searchDecisions'>, limit: number): Promise<StoredDecision[]> {
  const out: StoredDecision[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.searchDecisions({ limit: Math.min(SEARCH_PAGE, limit - out.length), ...(cursor !== undefined ? { cursor } : {}) });
    out.push(...page.decisions);
    cursor = page.cursor ?? undefined;
  } while (cursor !== undefined && out.length < limit);
  return out;
}

function versionQuery(req: Request): { hash?: string | undefined; to?: string | undefined } {
  const parsed = packVersionQuerySchema.safeParse(req.query);
  if (!parsed.success) throw new ApiError('invalid_request', 'invalid pack version query', fieldIssues(parsed.error));
  return parsed.data;
}

export interface PackRouteDeps {
  readonly packs: PackManager;
  /** The decision log's search (backtests) and the shadow pack's report. */
  readonly engine: Pick<Engine, 'searchDecisions' | 'shadowReport'>;
  readonly adminToken: string | undefined;
}

export function packRoutes(d: PackRouteDeps): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);

  r.post('/v1/packs/validate', admin, ...packBody(), async (req, res) => {
    const c = await checked(d, filesOf(req));
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

  // The files of the active pack, or of a version of the history (?hash=): what the console's
  // editor opens.
  r.get('/v1/packs/files', admin, async (req, res) => {
    const { hash } = versionQuery(req);
    const active = d.packs.current();
    if (hash === undefined || hash === active?.meta.hash) {
      if (!active) throw new ApiError('unavailable', 'no pack is active');
      res.json({ meta: active.meta, files: active.files });
      return;
    }
    const { history } = await viaStore(res, () => d.packs.list());
    const meta = history.find((m) => m.hash === hash);
    const stored = meta ? await viaStore(res, () => d.packs.versionFiles(hash)) : null;
    if (!meta || !stored) throw new ApiError('not_found', 'no such version in the pack history');
    res.json({ meta, files: stored.files });
  });

  // What a rollback (or a return to any version, ?to=) would change: the diff from the active pack.
  // POST with files: what activating them would change.
  r.get('/v1/packs/diff', admin, async (req, res) => {
    const { to } = versionQuery(req);
    const active = d.packs.current();
    if (!active) throw new ApiError('unavailable', 'no pack is active');
    const { history } = await viaStore(res, () => d.packs.list());
    let target: PackMeta | undefined;
    if (to === undefined) {
      // The first earlier entry of another hash (a `restore` entry repeats the active one's).
      target = history.find((m) => m.hash !== active.meta.hash);
      if (!target) throw new ApiError('conflict', 'there is no earlier version to roll back to');
    } else {
      target = history.find((m) => m.hash === to);
      if (!target) throw new ApiError('not_found', 'no such version in the pack history');
    }
    const stored = await viaStore(res, () => d.packs.versionFiles(target.hash));
    if (!stored) throw new ApiError('not_found', 'the pack history no longer holds that version\'s files');
    const c = await checked(d, stored.files, stored.root);
    if (!c.pack) throw rejected(c, 'that version no longer compiles');
    res.json({ from: active.meta, to: target, diff: diffPacks(active, { pack: c.pack, files: stored.files }) });
  });

  r.post('/v1/packs/diff', admin, ...packBody(), async (req, res) => {
    const active = d.packs.current();
    if (!active) throw new ApiError('unavailable', 'no pack is active');
    const c = await checked(d, filesOf(req));
    if (!c.pack) throw rejected(c, 'the pack does not compile');
    res.json({ from: active.meta, to: packInfo(c), diff: diffPacks(active, { pack: c.pack, files: c.files }) });
  });

  // A candidate pack against the last `limit` kept decisions, next to the active pack (engine/backtest.ts).
  r.post('/v1/packs/backtest', admin, ...packBody(), async (req, res) => {
    const parsed = backtestBodySchema.safeParse(req.body);
    if (!parsed.success) throw new ApiError('invalid_request', 'expected {"files": {...}, "limit"?: n}', fieldIssues(parsed.error));
    const active = d.packs.current();
    if (!active) throw new ApiError('unavailable', 'no pack is active');
    const c = await checked(d, parsed.data.files);
    if (!c.pack) throw rejected(c, 'the pack does not compile');
    const decisions = await lastDecisions(d.engine, parsed.data.limit ?? BACKTEST_DEFAULT_LIMIT);
    const j = checkToJson(c);
    res.json({
      ...backtest(active.pack, c.pack, decisions),
      diff: diffPacks(active, { pack: c.pack, files: c.files }),
      tests: j.tests,
    });
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
