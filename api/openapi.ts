// The OpenAPI 3.1 description of the HTTP API, generated (zod-openapi) from the schemas the routes
// validate requests with (api/schemas.ts) and the answer schemas (api/responses.ts), so it cannot
// drift from what is enforced. One table, OPERATIONS, names every route with its auth, request,
// answers and error codes; test/api/openapi.test.ts checks that every route Express registers is
// in it and that real answers validate against it. `GET /openapi.json` serves it (api/app.ts) and
// `npm run docs:openapi` writes docs/openapi.yaml. Served without a token, like /healthz: it holds
// nothing but the API's shape (no token, no configuration value, no deployment detail), and an
// instance without VIGIL_ADMIN_TOKEN leaves the admin operations out, as it serves none of them.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from 'zod-openapi';
import { assetPath } from '../common/paths.ts';
import { API_ERRORS, type ApiErrorCode } from './errors.ts';
import * as res from './responses.ts';
import * as req from './schemas.ts';

// The client's copy of the code list and the registry name the same codes, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const sameCodes: Same<ApiErrorCode, res.ApiErrorCodeName> = true;
void sameCodes;

type Auth = 'api' | 'admin' | 'none';
type Method = 'get' | 'post' | 'put' | 'delete';

export interface Operation {
  readonly method: Method;
  /** OpenAPI form: `/v1/lists/{name}`. */
  readonly path: string;
  readonly auth: Auth;
  readonly summary: string;
  readonly description?: string;
  readonly query?: z.ZodObject;
  readonly params?: z.ZodObject;
  /** Content type → schema. */
  readonly body?: Readonly<Record<string, z.ZodType>>;
  /** An X-Vigil-Actor header: the change is audited under that name. */
  readonly actor?: boolean;
  /** Status → description and schema (absent: no body); a string schema key is its content type. */
  readonly ok: Readonly<Record<string, { readonly description: string; readonly schema?: z.ZodType; readonly type?: string }>>;
  /** Error codes this route answers besides those every route of its kind does. */
  readonly errors?: readonly ApiErrorCode[];
}

const json = 'application/json';
const jsonBody = (schema: z.ZodType) => ({ [json]: schema });
/** A pack upload: one file as text/plain, or `{"files": {...}}`. */
const packUpload = { 'text/plain': z.string().min(1).meta({ description: 'One .rules file (compiled as pack.rules).' }), [json]: req.packFilesBodySchema };

const hashParam = z.object({ hash: z.string().regex(req.PACK_HASH).meta({ description: 'A pack hash: sha256: and 64 hex digits.' }) });
const listParam = z.object({ name: z.string().min(1).max(512).meta({ description: 'The Redis name a pack gives in `list x: T = redis "NAME"`.' }) });
const ruleParam = z.object({ rule: z.string().meta({ description: 'A rule of the active pack.' }) });
const decisionParam = z.object({ id: z.string().min(1).max(req.MAX_DECISION_ID) });
const userParam = z.object({ id: z.string().min(1).max(req.MAX_USER_ID).meta({ description: 'The raw user id (never stored).' }) });
const explainQuery = z.object({ explain: z.enum(['1', 'true', '0', 'false']).optional() });

/** Every route of the API. */
export const OPERATIONS: readonly Operation[] = [
  {
    method: 'post',
    path: '/v1/evaluate',
    auth: 'api',
    summary: 'Decide on a sign-in, recovery or account change',
    description: 'Answers allow, step_up or block with the rules that matched. `?explain=1` adds the features and the model contributions.',
    query: explainQuery,
    body: jsonBody(req.evaluateBodySchema),
    ok: { '200': { description: 'The decision.', schema: res.evaluateResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'post',
    path: '/v1/outcome',
    auth: 'api',
    summary: 'Report what happened after a decision',
    body: jsonBody(req.outcomeBodySchema),
    ok: { '204': { description: 'Recorded.' } },
    errors: ['invalid_request', 'not_found', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  { method: 'get', path: '/healthz', auth: 'none', summary: 'The process is up', ok: { '200': { description: 'Up.', schema: res.healthResponseSchema } } },
  {
    method: 'get',
    path: '/readyz',
    auth: 'none',
    summary: 'A pack is loaded, the signal store answers, the instance is not shutting down',
    ok: { '200': { description: 'Ready.', schema: res.readyResponseSchema } },
    errors: ['unavailable'],
  },
  {
    method: 'get',
    path: '/metrics',
    auth: 'none',
    summary: 'Prometheus metrics',
    ok: { '200': { description: 'The Prometheus text exposition.', schema: z.string(), type: 'text/plain' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    auth: 'none',
    summary: 'This document',
    description: 'Without VIGIL_ADMIN_TOKEN, the admin operations are left out (the instance serves none of them).',
    ok: { '200': { description: 'The OpenAPI 3.1 document.', schema: z.record(z.string(), z.unknown()) } },
  },
  // ---- decisions, users, counters, audit, model ----
  {
    method: 'get',
    path: '/v1/decisions',
    auth: 'admin',
    summary: 'Search the decision log, newest first',
    query: req.decisionQuerySchema(Date.now),
    ok: { '200': { description: 'A page of decisions.', schema: res.decisionPageSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/decisions/{id}',
    auth: 'admin',
    summary: 'One kept decision (with `?explain=1`, its trace under the active pack)',
    params: decisionParam,
    query: explainQuery,
    ok: { '200': { description: 'The kept decision.', schema: res.decisionWithExplainSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/users/{id}/security-log',
    auth: 'admin',
    summary: "The user's security log: sign-ins, recoveries and account changes, newest first",
    description:
      'For the auth service to show its user. Coarse fields only (no address, no device id); kept under the retention and emptied by the erasure. `limit` 1-100 (default 20).',
    params: userParam,
    query: req.securityLogQuerySchema,
    ok: { '200': { description: 'A page of entries.', schema: res.securityLogResponseSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/users/{id}/history',
    auth: 'admin',
    summary: "Erase one user's history, counters and decisions",
    params: userParam,
    actor: true,
    ok: { '200': { description: 'How many keys and decisions went.', schema: res.eraseResponseSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/counters',
    auth: 'admin',
    summary: "Clear an address's or a user's velocity and failure counters",
    body: jsonBody(req.countersBodySchema),
    actor: true,
    ok: { '200': { description: 'Keys deleted.', schema: res.countersResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/audit',
    auth: 'admin',
    summary: 'Admin changes, newest first',
    query: req.auditQuerySchema(Date.now),
    ok: { '200': { description: 'The audit entries.', schema: res.auditResponseSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'post',
    path: '/v1/model/reload',
    auth: 'admin',
    summary: 'Reload the anomaly model from its file',
    actor: true,
    ok: { '200': { description: 'The model now loaded.', schema: res.modelReloadResponseSchema } },
    errors: ['invalid_request', 'model_rejected'],
  },
  // ---- live lists ----
  {
    method: 'get',
    path: '/v1/lists',
    auth: 'admin',
    summary: "The active pack's live (redis) lists",
    ok: { '200': { description: 'The lists.', schema: res.declaredListsSchema } },
  },
  {
    method: 'get',
    path: '/v1/lists/{name}',
    auth: 'admin',
    summary: "A live list's entries",
    params: listParam,
    ok: { '200': { description: 'The list.', schema: res.listViewSchema } },
    errors: ['conflict', 'unavailable'],
  },
  {
    method: 'post',
    path: '/v1/lists/{name}',
    auth: 'admin',
    summary: 'Add entries (optionally expiring)',
    params: listParam,
    body: jsonBody(req.listAddBodySchema),
    actor: true,
    ok: { '200': { description: 'The list after the change.', schema: res.listViewSchema } },
    errors: ['invalid_request', 'invalid_entry', 'conflict', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/lists/{name}',
    auth: 'admin',
    summary: 'Remove entries',
    params: listParam,
    body: jsonBody(req.listRemoveBodySchema),
    actor: true,
    ok: { '200': { description: 'The list after the change.', schema: res.listViewSchema } },
    errors: ['invalid_request', 'invalid_entry', 'conflict', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  // ---- rule packs ----
  {
    method: 'post',
    path: '/v1/packs/validate',
    auth: 'admin',
    summary: 'Compile a pack and run its tests, without activating it',
    body: packUpload,
    ok: { '200': { description: 'The check (ok false: diagnostics or failing tests).', schema: res.packValidateResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type'],
  },
  {
    method: 'put',
    path: '/v1/packs/active',
    auth: 'admin',
    summary: 'Activate a pack (compiled and tested first; refused with 422, the old pack serving on)',
    query: req.packChangeQuerySchema,
    body: packUpload,
    actor: true,
    ok: { '200': { description: 'Activated, or unchanged (the same pack).', schema: res.packActivateResponseSchema } },
    errors: ['invalid_request', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/packs',
    auth: 'admin',
    summary: 'The active pack, its history and the shadow pack',
    ok: { '200': { description: 'The pack status and history.', schema: res.packListResponseSchema } },
    errors: ['unavailable'],
  },
  {
    method: 'post',
    path: '/v1/packs/rollback',
    auth: 'admin',
    summary: 'Reactivate the previous (or the named) version; a new history entry',
    body: jsonBody(req.packRollbackBodySchema),
    actor: true,
    ok: { '200': { description: 'Rolled back.', schema: res.packRollbackResponseSchema } },
    errors: ['invalid_request', 'conflict', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'put',
    path: '/v1/packs/shadow',
    auth: 'admin',
    summary: 'Run a pack in shadow beside the active one (never changes an answer)',
    query: req.packChangeQuerySchema,
    body: packUpload,
    actor: true,
    ok: { '200': { description: 'The shadow pack.', schema: res.packShadowSetResponseSchema } },
    errors: ['invalid_request', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/packs/shadow',
    auth: 'admin',
    summary: 'Stop the shadow pack',
    body: jsonBody(req.reasonBodySchema),
    actor: true,
    ok: { '200': { description: 'Cleared.', schema: res.packShadowClearResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/packs/shadow/report',
    auth: 'admin',
    summary: 'How the shadow pack compared with the active one',
    query: req.shadowReportQuerySchema,
    ok: { '200': { description: 'The comparison.', schema: res.shadowReportSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/packs/files',
    auth: 'admin',
    summary: "The files of the active pack or of a version (?hash=)",
    query: req.packVersionQuerySchema,
    ok: { '200': { description: 'The version and its files.', schema: res.packFilesResponseSchema } },
    errors: ['invalid_request', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/packs/diff',
    auth: 'admin',
    summary: 'What a rollback (or a return to ?to=) would change',
    query: req.packVersionQuerySchema,
    ok: { '200': { description: 'The diff from the active pack.', schema: res.packDiffResponseSchema } },
    errors: ['invalid_request', 'conflict', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'unavailable'],
  },
  {
    method: 'post',
    path: '/v1/packs/diff',
    auth: 'admin',
    summary: 'What activating these files would change',
    body: packUpload,
    ok: { '200': { description: 'The diff from the active pack.', schema: res.packDiffResponseSchema } },
    errors: ['invalid_request', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'post',
    path: '/v1/packs/backtest',
    auth: 'admin',
    summary: 'A candidate pack against the last kept decisions, beside the active pack',
    body: jsonBody(req.backtestBodySchema),
    ok: { '200': { description: 'The comparison.', schema: res.backtestResponseSchema } },
    errors: ['invalid_request', 'pack_rejected', 'pack_check_aborted', 'pack_check_busy', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'get',
    path: '/v1/packs/{hash}',
    auth: 'admin',
    summary: 'A version of the history with its files',
    params: hashParam,
    ok: { '200': { description: 'The stored pack.', schema: res.storedPackResponseSchema } },
    errors: ['unavailable'],
  },
  // ---- overrides ----
  {
    method: 'get',
    path: '/v1/overrides',
    auth: 'admin',
    summary: 'The rule overrides in force',
    ok: { '200': { description: 'The overrides.', schema: res.overridesResponseSchema } },
    errors: ['unavailable'],
  },
  {
    method: 'put',
    path: '/v1/overrides/{rule}',
    auth: 'admin',
    summary: 'Silence a rule (off) or demote it to shadow, for a ttl or until lifted',
    params: ruleParam,
    body: jsonBody(req.overrideBodySchema),
    actor: true,
    ok: { '200': { description: 'The override.', schema: res.overrideSetResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  {
    method: 'delete',
    path: '/v1/overrides/{rule}',
    auth: 'admin',
    summary: 'Lift an override',
    params: ruleParam,
    body: jsonBody(req.reasonBodySchema),
    actor: true,
    ok: { '200': { description: 'The override lifted.', schema: res.overrideClearResponseSchema } },
    errors: ['invalid_request', 'payload_too_large', 'unsupported_media_type', 'unavailable'],
  },
  // ---- the console's static files (admin surface: absent without VIGIL_ADMIN_TOKEN; no token needed) ----
  ...(['/console', '/console/', '/console/console.js', '/console/console.css'] as const).map(
    (path): Operation => ({
      method: 'get',
      path,
      auth: 'none',
      summary: 'The admin console (a static file; its API calls carry the admin token)',
      description: 'Served only when VIGIL_ADMIN_TOKEN is set.',
      ok: {
        '200': {
          description: 'The file.',
          schema: z.string(),
          type: path.endsWith('.js') ? 'text/javascript' : path.endsWith('.css') ? 'text/css' : 'text/html',
        },
      },
    }),
  ),
];

/** An operation is part of the admin surface (absent when VIGIL_ADMIN_TOKEN is unset). */
export const isAdminOperation = (op: Operation): boolean => op.auth === 'admin' || op.path.startsWith('/console');

const actorHeader = z.object({
  'x-vigil-actor': z
    .string()
    .regex(/^[A-Za-z0-9._@:+-]{1,64}$/)
    .optional()
    .meta({ description: 'Who makes the change, for the audit log (default: admin).' }),
});

function responses(op: Operation): ZodOpenApiResponsesObject {
  const out: ZodOpenApiResponsesObject = {};
  for (const [status, r] of Object.entries(op.ok)) {
    out[status as `2${string}`] = r.schema ? { description: r.description, content: { [r.type ?? json]: { schema: r.schema } } } : { description: r.description };
  }
  const codes = new Set<ApiErrorCode>(op.errors ?? []);
  if (op.auth === 'api') codes.add('unauthorized');
  if (op.auth === 'admin') {
    codes.add('unauthorized');
    codes.add('not_found');
    codes.add('rate_limited');
  }
  // A body that stops arriving (api/app.ts's body timeout) is answered 408 on any route that takes one.
  if (op.body) codes.add('request_timeout');
  codes.add('internal');
  const byStatus = new Map<number, ApiErrorCode[]>();
  for (const c of codes) byStatus.set(API_ERRORS[c].status, [...(byStatus.get(API_ERRORS[c].status) ?? []), c]);
  for (const [status, list] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const notes = list.map((c) => `\`${c}\`: ${API_ERRORS[c].message}`);
    if (op.auth === 'admin' && status === 404) notes.push('(also every admin route when VIGIL_ADMIN_TOKEN is unset)');
    out[String(status) as `4${string}`] = { description: notes.join('; '), content: { [json]: { schema: res.errorBodySchema } } };
  }
  return out;
}

function operation(op: Operation): ZodOpenApiOperationObject {
  const o: ZodOpenApiOperationObject = {
    summary: op.summary,
    operationId: `${op.method}${op.path.replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
    tags: [op.auth === 'admin' ? 'admin' : op.auth === 'api' ? 'decisions' : op.path.startsWith('/console') ? 'console' : 'operations'],
    security: op.auth === 'api' ? [{ apiToken: [] }, {}] : op.auth === 'admin' ? [{ adminToken: [] }] : [],
    responses: responses(op),
  };
  if (op.description !== undefined) o.description = op.description;
  const params: NonNullable<ZodOpenApiOperationObject['requestParams']> = {};
  if (op.query) params.query = op.query;
  if (op.params) params.path = op.params;
  if (op.actor) params.header = actorHeader;
  if (Object.keys(params).length > 0) o.requestParams = params;
  if (op.body) {
    const content: Record<string, { schema: z.ZodType }> = {};
    for (const [type, schema] of Object.entries(op.body)) content[type] = { schema };
    // No body at all is the same as an empty one where every field is optional.
    o.requestBody = { required: !Object.values(op.body).every((s) => s.safeParse(undefined).success), content };
  }
  return o;
}

let version: string | undefined;
function packageVersion(): string {
  if (version === undefined) {
    const pkg = JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version?: unknown };
    version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  }
  return version;
}

/** The document; without `admin`, the admin operations are left out. */
export function openApiDocument(opts: { readonly admin: boolean }): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const op of OPERATIONS) {
    if (!opts.admin && isAdminOperation(op)) continue;
    paths[op.path] = { ...paths[op.path], [op.method]: operation(op) };
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Vigil',
      version: packageVersion(),
      description:
        'Account-security risk engine. Every error is `{"error": {"code", "message", "details"}}` with a 4xx/5xx status. ' +
        'Every answer carries `X-Request-Id` and `Cache-Control: no-store`. The admin API (and the console) exist only when ' +
        'VIGIL_ADMIN_TOKEN is set; VIGIL_API_TOKEN, when set, guards /v1/evaluate and /v1/outcome.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    tags: [
      { name: 'decisions', description: 'What the auth service calls.' },
      { name: 'admin', description: 'Admin API (Authorization: Bearer $VIGIL_ADMIN_TOKEN).' },
      { name: 'operations', description: 'Health, readiness, metrics, this document.' },
      { name: 'console', description: 'The admin console.' },
    ],
    components: {
      securitySchemes: {
        apiToken: { type: 'http', scheme: 'bearer', description: 'VIGIL_API_TOKEN (no auth when unset).' },
        adminToken: { type: 'http', scheme: 'bearer', description: 'VIGIL_ADMIN_TOKEN.' },
      },
    },
    paths,
  });
}
