// Live-list admin routes (the responder's levers): GET /v1/lists (which lists the active pack
// declares) and GET, POST and DELETE /v1/lists/:name for those `redis` lists, `:name` being the
// list's Redis name. Entries are checked against the list's kind (a bad one is a 422 naming it),
// bounded (features/store/lists.ts LIST_LIMITS), optionally expiring (`ttl`), and every change is
// audited with counts only. Disabled (404) when VIGIL_ADMIN_TOKEN is unset.
import { Router, type Request, type Response } from 'express';
import type { z } from 'zod';
import type { AuditLog } from '../../engine/audit.ts';
import type { DeclaredList } from '../../engine/lists.ts';
import type { Engine } from '../../engine/types.ts';
import { LIST_LIMITS, parseListEntry } from '../../features/store/lists.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { ctx } from '../logging.ts';
import { fieldIssues, listAddBodySchema, listRemoveBodySchema, type FieldIssue } from '../schemas.ts';
import { actorOf, recordAudit } from './admin.ts';
import { jsonBody } from './body.ts';

/** A body of LIST_LIMITS.maxPerRequest entries of the longest kind, with room for JSON escapes. */
export const LIST_BODY_LIMIT = 2 * 1024 * 1024;
/** Longer than any Redis name a pack would declare; refused before any lookup. */
const MAX_LIST_NAME = 512;

function listOf(engine: Engine, req: Request): DeclaredList {
  const v = (req.params as Record<string, unknown>).name;
  const name = typeof v === 'string' ? v : '';
  if (name.length === 0 || name.length > MAX_LIST_NAME) throw new ApiError('not_found', 'no such list');
  const found = engine.lists.find(name);
  if (found.found) return found.list;
  if (found.why === 'undeclared') throw new ApiError('not_found', found.message);
  throw new ApiError('conflict', found.message);
}

/**
 * The entries as canonical values, each once; a 422 listing every bad one. With `spellings` (a
 * removal) an ip entry also removes the text exactly as given, so a hand-made spelling
 * (`198.51.100.9/32`, which the API stores as `198.51.100.9`) can be taken out too.
 */
function entriesOf(list: DeclaredList, raw: readonly unknown[], spellings = false): string[] {
  const out = new Set<string>();
  const issues: FieldIssue[] = [];
  raw.forEach((entry, i) => {
    const p = parseListEntry(list.kind, entry);
    if (!p.ok) {
      issues.push({ path: `entries.${i}`, code: 'invalid_entry', message: p.reason });
      return;
    }
    out.add(p.value);
    if (spellings && list.kind === 'ip' && typeof entry === 'string') out.add(entry);
  });
  const first = issues[0];
  if (first !== undefined) {
    const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
    throw new ApiError('invalid_entry', `${first.path} is not a valid ${list.kind} entry: ${first.message}${more}`, issues);
  }
  return [...out];
}

function bodyOf<S extends z.ZodType>(schema: S, req: Request): z.output<S> {
  const parsed = schema.safeParse(req.body);
  if (!parsed.success) throw new ApiError('invalid_request', 'invalid list change', fieldIssues(parsed.error));
  return parsed.data;
}

export interface ListRouteDeps {
  readonly engine: Engine;
  readonly audit: AuditLog;
  readonly adminToken: string | undefined;
  readonly now: () => number;
}

export function listRoutes(d: ListRouteDeps): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);

  r.get('/v1/lists', admin, (_req, res) => {
    res.json({ lists: d.engine.lists.declared().map((l) => ({ name: l.name, kind: l.kind, expires: l.expires })) });
  });

  r.get('/v1/lists/:name', admin, async (req, res) => {
    res.json(await d.engine.lists.read(listOf(d.engine, req)));
  });

  r.post('/v1/lists/:name', admin, ...jsonBody(LIST_BODY_LIMIT), async (req, res) => {
    const by = actorOf(req);
    const list = listOf(d.engine, req);
    const body = bodyOf(listAddBodySchema, req);
    const ttlMs = body.ttl ?? undefined;
    if (ttlMs !== undefined && !list.expires) {
      throw new ApiError('invalid_request', `the list ${JSON.stringify(list.name)} cannot hold expiring entries (a "}" outside a hash tag in its name)`, [
        { path: 'ttl', code: 'unsupported', message: 'rename the list in the pack to take entries with a ttl' },
      ]);
    }
    const values = entriesOf(list, body.entries);
    const result = await d.engine.lists.add(list, values, ttlMs);
    if (!result.ok) {
      throw new ApiError(
        'conflict',
        `the list holds ${result.size} entries; adding these would take it past ${LIST_LIMITS.maxEntries} (nothing was added)`,
      );
    }
    const details = {
      list: list.name,
      kind: list.kind,
      entries: values.length,
      added: result.added,
      size: result.size,
      ...(ttlMs !== undefined ? { ttl_s: ttlMs / 1000 } : {}),
    };
    await changed(res, by, 'list_add', body.reason ?? undefined, details);
    res.json(await d.engine.lists.read(list));
  });

  r.delete('/v1/lists/:name', admin, ...jsonBody(LIST_BODY_LIMIT), async (req, res) => {
    const by = actorOf(req);
    const list = listOf(d.engine, req);
    const body = bodyOf(listRemoveBodySchema, req);
    const values = entriesOf(list, body.entries, true);
    const removed = await d.engine.lists.remove(list, values);
    await changed(res, by, 'list_remove', body.reason ?? undefined, { list: list.name, kind: list.kind, entries: body.entries.length, removed });
    res.json(await d.engine.lists.read(list));
  });

  /**
   * The audit entry and log line of a change. Counts only, never the entries: an ip list holds
   * addresses and a string list may hold user ids, which the audit log never keeps; the list
   * itself (GET) says what it holds.
   */
  async function changed(
    res: Response,
    by: string,
    action: 'list_add' | 'list_remove',
    reason: string | undefined,
    details: Readonly<Record<string, unknown>>,
  ): Promise<void> {
    ctx(res).log.info({ audit: true, action, by, ...details, at: new Date(d.now()).toISOString() }, 'live list changed');
    await recordAudit(res, d.audit, { at: d.now(), by, action, ...(reason !== undefined ? { reason } : {}), details });
  }

  return r;
}
