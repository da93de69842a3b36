// Emergency rule overrides: PUT /v1/overrides/:rule silences a rule of the active pack (`off`) or
// demotes it to shadow (`shadow`) on every instance within a second, for a ttl or until DELETE
// lifts it; GET /v1/overrides lists those in force. No pack change: the pack and its history stay
// as they are. Disabled (404) when VIGIL_ADMIN_TOKEN is unset.
import { Router, type Request } from 'express';
import type { PackManager } from '../../engine/packs/index.ts';
import { requireAdmin } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { fieldIssues, overrideBodySchema, RULE_NAME } from '../schemas.ts';
import { actorOf } from './admin.ts';
import { jsonBody } from './body.ts';
import { reasonOf, viaStore } from './packs.ts';

/** Override bodies are a few fields. */
const OVERRIDE_BODY_LIMIT = 4 * 1024;

function ruleOf(req: Request): string {
  const v = (req.params as Record<string, unknown>).rule;
  const rule = typeof v === 'string' ? v : '';
  // A name no pack can declare is just another rule the active pack does not have.
  if (!RULE_NAME.test(rule)) throw new ApiError('not_found', 'the active pack has no rule of that name');
  return rule;
}

export function overrideRoutes(d: { readonly packs: PackManager; readonly adminToken: string | undefined }): Router {
  const r = Router();
  const admin = requireAdmin(d.adminToken);

  r.get('/v1/overrides', admin, async (req, res) => {
    res.json({ overrides: await viaStore(res, () => d.packs.overrides()) });
  });

  r.put('/v1/overrides/:rule', admin, ...jsonBody(OVERRIDE_BODY_LIMIT), async (req, res) => {
    const by = actorOf(req);
    const rule = ruleOf(req);
    const parsed = overrideBodySchema.safeParse(req.body);
    if (!parsed.success) {
      throw new ApiError('invalid_request', 'expected {"mode": "off" | "shadow", "ttl"?: "30m", "reason": "..."}', fieldIssues(parsed.error));
    }
    const { mode, ttl, reason } = parsed.data;
    const result = await viaStore(res, () => d.packs.setOverride(rule, { by, mode, reason, ...(ttl != null ? { ttlMs: ttl } : {}) }));
    if (result.status === 'unknown_rule') throw new ApiError('not_found', `the active pack has no rule ${rule}`);
    const active = d.packs.current();
    res.json({ override: { ...result.override, applies: true }, pack: active ? { name: active.meta.name, version: active.meta.version, hash: active.meta.hash } : null });
  });

  r.delete('/v1/overrides/:rule', admin, ...jsonBody(OVERRIDE_BODY_LIMIT), async (req, res) => {
    const by = actorOf(req);
    const rule = ruleOf(req);
    const why = reasonOf(req);
    const was = await viaStore(res, () => d.packs.clearOverride(rule, { by, ...why }));
    if (!was) throw new ApiError('not_found', `no override of ${rule} is in force`);
    res.json({ removed: was });
  });

  return r;
}
