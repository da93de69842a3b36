// The answers of the HTTP API as zod schemas: every success body and the one error body. They exist
// to describe, not to validate: api/openapi.ts turns them (with the request schemas of
// api/schemas.ts) into the OpenAPI document, and the typed client (client/) takes its result types
// from them. Nothing here runs on a request. This file imports zod alone, so the client's type
// declarations reach no server code through it. test/api/openapi.test.ts validates real answers
// against the document built from these schemas, which keeps them true.
import { z } from 'zod';

/**
 * Every error code of the API (the registry is api/errors.ts API_ERRORS; api/openapi.ts checks at
 * compile time that both name the same codes). Listed here so that the client can name them
 * without importing the server.
 */
export const API_ERROR_CODES = [
  'invalid_request',
  'unauthorized',
  'not_found',
  'conflict',
  'payload_too_large',
  'unsupported_media_type',
  'pack_rejected',
  'model_rejected',
  'invalid_entry',
  'internal',
  'unavailable',
  'rate_limited',
  'request_timeout',
  'pack_check_aborted',
  'pack_check_busy',
] as const;
export type ApiErrorCodeName = (typeof API_ERROR_CODES)[number];

export const fieldIssueSchema = z
  .object({ path: z.string(), code: z.string(), message: z.string() })
  .meta({ id: 'FieldIssue', description: 'One bad field of a request: its dotted path, a code, a message.' });

export const errorBodySchema = z
  .object({
    error: z.object({
      code: z.enum(API_ERROR_CODES),
      message: z.string(),
      details: z.unknown().meta({
        description:
          'null, or structured: a list of FieldIssue (invalid_request, invalid_entry), the diagnostics and tests of a refused pack (pack_rejected), the readiness checks (unavailable from /readyz)',
      }),
    }),
  })
  .meta({ id: 'Error', description: 'Every error answer, whatever the endpoint.' });

const action = z.enum(['allow', 'step_up', 'block']);
export const decisionSchema = action.meta({ id: 'Decision' });

export const packInfoSchema = z.object({ name: z.string(), version: z.number().int(), hash: z.string() }).meta({ id: 'PackInfo' });

export const ruleHitSchema = z
  .object({
    name: z.string(),
    action: action.nullable(),
    score: z.number(),
    reason: z.string().nullable(),
    tags: z.array(z.string()),
  })
  .meta({ id: 'RuleHit' });

/**
 * The notice codes of dsl.md §7 (the catalogue with its messages is dsl/notices.ts; listed here so
 * the client's types reach no server code; test/api/notices.test.ts checks both name the same codes).
 */
export const NOTICE_CODE_NAMES = [
  'new_device',
  'new_location',
  'unusual_travel',
  'many_failed_attempts',
  'anonymizer',
  'recent_recovery',
  'session_moved',
  'sensitive_change',
] as const;

export const noticeSchema = z
  .object({ code: z.enum(NOTICE_CODE_NAMES), message: z.string() })
  .meta({ id: 'Notice', description: 'A user-safe explanation of the decision (English; names nothing of the rule pack).' });

export const evaluateResponseSchema = z
  .object({
    decision_id: z.string(),
    decision: decisionSchema,
    score: z.number(),
    rules: z.array(ruleHitSchema),
    shadow: z.array(ruleHitSchema),
    model: z.object({ anomaly: z.number().nullable(), version: z.string() }).nullable(),
    pack: packInfoSchema,
    degraded: z.boolean(),
    notices: z.array(noticeSchema).meta({
      description: 'The notices of the matched enforcing rules, each code once, in declaration order; empty when none (a kept decision shows none).',
    }),
    overrides: z.array(z.string()).optional().meta({ description: 'Rules whose effect an override changed; absent when none did.' }),
    features: z.record(z.string(), z.unknown()).optional().meta({ description: 'With ?explain=1: every feature computed (durations in seconds).' }),
    contributions: z
      .array(z.object({ feature: z.string(), contribution: z.number() }))
      .optional()
      .meta({ description: "With ?explain=1: the model's top feature contributions." }),
    plan: z.array(z.string()).optional().meta({ description: "With ?explain=1: the planner's steps." }),
  })
  .meta({ id: 'EvaluateResult' });

const outcome = z.enum(['succeeded', 'failed', 'challenge_passed', 'challenge_failed']);

export const storedDecisionSchema = z
  .object({
    decision_id: z.string(),
    request: z.record(z.string(), z.unknown()).meta({ description: 'The request as kept: identifiers are keyed hashes or coarse prefixes.' }),
    features: z.record(z.string(), z.unknown()),
    result: evaluateResponseSchema,
    at: z.string(),
    outcome: outcome.optional(),
  })
  .meta({ id: 'StoredDecision' });

export const decisionWithExplainSchema = storedDecisionSchema
  .extend({
    explain: z
      .looseObject({
        decided_by: packInfoSchema,
        traced_with: packInfoSchema.nullable(),
        same_pack: z.boolean(),
        trace: z.unknown(),
        kept: z.object({ rules: z.array(z.string()), shadow: z.array(z.string()) }),
        differs: z.array(z.string()),
        model: z.unknown(),
        notes: z.array(z.string()),
      })
      .optional()
      .meta({ description: 'With ?explain=1: the trace of the kept decision under the active pack.' }),
  })
  .meta({ id: 'StoredDecisionWithExplain' });

export const decisionPageSchema = z
  .object({
    decisions: z.array(storedDecisionSchema),
    cursor: z.string().nullable().meta({ description: 'Pass back as `cursor` for the next page; null on the last one.' }),
  })
  .meta({ id: 'DecisionPage' });

export const eraseResponseSchema = z.object({ keys: z.number().int(), decisions: z.number().int() }).meta({ id: 'Erased' });
export const securityLogResponseSchema = z
  .object({
    entries: z.array(
      z
        .object({
          at: z.string().meta({ description: 'When the event happened (ISO 8601).' }),
          type: z.enum(['login', 'recovery', 'account_change']),
          change: z.string().optional().meta({ description: 'account_change only: what changed (`password`, `email`, …).' }),
          decision: z.enum(['allow', 'step_up', 'block']),
          country: z.string().nullable().meta({ description: 'ISO 3166 country code; null when unknown.' }),
          city: z.string().nullable().meta({ description: 'City name in English; null when unknown.' }),
          browser: z.string().nullable(),
          os: z.string().nullable(),
          notices: z.array(z.string()).meta({ description: 'Notice codes (the messages are the evaluate answer\'s).' }),
        })
        .meta({ id: 'SecurityLogEntry' }),
    ),
    cursor: z.string().nullable().meta({ description: 'Pass back as `cursor` for the next page; null on the last one.' }),
  })
  .meta({ id: 'SecurityLog' });

export const countersResponseSchema = z.object({ cleared: z.number().int() }).meta({ id: 'CountersCleared' });

export const auditResponseSchema = z
  .object({
    entries: z.array(
      z.object({
        at: z.string(),
        by: z.string(),
        action: z.string(),
        reason: z.string().optional(),
        details: z.unknown(),
      }),
    ),
  })
  .meta({ id: 'AuditEntries' });

export const modelReloadResponseSchema = z.object({ version: z.string() }).meta({ id: 'ModelReloaded' });

export const healthResponseSchema = z.object({ status: z.literal('ok') });
export const readyResponseSchema = z.object({
  status: z.literal('ready'),
  checks: z.record(z.string(), z.boolean()),
  pack: packInfoSchema.nullable(),
});

// ---- live lists --------------------------------------------------------------------------------

const listKind = z.enum(['ip', 'string', 'number']);
export const declaredListsSchema = z
  .object({ lists: z.array(z.object({ name: z.string(), kind: listKind, expires: z.boolean() })) })
  .meta({ id: 'DeclaredLists' });
export const listViewSchema = z
  .object({
    name: z.string(),
    kind: listKind,
    entries: z.array(z.object({ value: z.string(), expires_at: z.string().optional() })),
  })
  .meta({ id: 'ListView' });

// ---- rule packs ----------------------------------------------------------------------------------

export const packMetaSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    version: z.number().int(),
    hash: z.string(),
    activated_at: z.string(),
    by: z.string(),
    source: z.enum(['api', 'dir', 'sighup', 'startup', 'rollback']),
    action: z.enum(['activate', 'rollback']),
    previous_hash: z.string().nullable(),
    reason: z.string().optional(),
    forced: z.boolean().optional(),
  })
  .meta({ id: 'PackMeta' });

export const diagnosticSchema = z
  .object({
    code: z.string(),
    severity: z.enum(['error', 'warning']),
    message: z.string(),
    file: z.string(),
    line: z.number().int(),
    col: z.number().int(),
    offset: z.number().int(),
    end: z.number().int(),
    hint: z.string().optional(),
  })
  .meta({ id: 'Diagnostic' });

export const packTestsSchema = z
  .object({
    passed: z.number().int(),
    failed: z.number().int(),
    failures: z.array(z.object({ name: z.string(), file: z.string(), line: z.number().int(), col: z.number().int(), failures: z.array(z.string()) })),
  })
  .meta({ id: 'PackTests' });

export const packDiffSchema = z
  .object({
    rules_added: z.array(z.string()),
    rules_removed: z.array(z.string()),
    rules_changed: z.array(z.string()),
    files_changed: z.array(z.string()),
  })
  .meta({ id: 'PackDiff' });

/** The `details` of a 422 pack_rejected. */
export const packRejectedDetailsSchema = z
  .object({ error: z.string().nullable(), diagnostics: z.array(diagnosticSchema), tests: packTestsSchema, rendered: z.string() })
  .meta({ id: 'PackRejectedDetails' });

export const packValidateResponseSchema = z
  .object({
    ok: z.boolean(),
    error: z.string().nullable().meta({ description: 'Why the files could not be opened as a pack at all, else null.' }),
    pack: packInfoSchema.nullable(),
    diagnostics: z.array(diagnosticSchema),
    tests: packTestsSchema,
    rendered: z.string(),
  })
  .meta({ id: 'PackValidation' });

export const packActivateResponseSchema = z
  .object({
    status: z.enum(['activated', 'unchanged']),
    active: packMetaSchema,
    diff: packDiffSchema.optional().meta({ description: 'Present when activated.' }),
    diagnostics: z.array(diagnosticSchema),
    tests: packTestsSchema,
  })
  .meta({ id: 'PackActivation' });

export const packListResponseSchema = z
  .object({
    active: packMetaSchema.nullable(),
    history: z.array(packMetaSchema).meta({ description: 'Earlier entries, newest first.' }),
    shadow: packMetaSchema.nullable(),
  })
  .meta({ id: 'PackList' });

export const packRollbackResponseSchema = z
  .object({ status: z.literal('rolled_back'), active: packMetaSchema, from: packMetaSchema, diff: packDiffSchema })
  .meta({ id: 'PackRollback' });

export const packShadowSetResponseSchema = z
  .object({
    status: z.enum(['set', 'unchanged']),
    shadow: packMetaSchema,
    active: packMetaSchema.nullable(),
    diagnostics: z.array(diagnosticSchema),
    tests: packTestsSchema,
  })
  .meta({ id: 'ShadowPackSet' });

export const packShadowClearResponseSchema = z.object({ status: z.literal('cleared'), shadow: packMetaSchema }).meta({ id: 'ShadowPackCleared' });

const counts = z.object({ allow: z.number().int(), step_up: z.number().int(), block: z.number().int() });

export const shadowReportSchema = z
  .object({
    active: z.string(),
    shadow: z.string(),
    since: z.string(),
    events: z.number().int(),
    matrix: z.object({ allow: counts, step_up: counts, block: counts }).meta({ description: 'Live decision → shadow decision → events.' }),
    rules: z.object({ live: z.record(z.string(), z.number().int()), shadow: z.record(z.string(), z.number().int()) }),
    samples: z.record(z.string(), z.array(z.string())).meta({ description: 'Per disagreeing cell (`allow>block`, ...), up to 100 decision ids.' }),
  })
  .meta({ id: 'ShadowReport' });

export const packFilesResponseSchema = z
  .object({ meta: packMetaSchema, files: z.record(z.string(), z.string()) })
  .meta({ id: 'PackVersionFiles' });

export const storedPackResponseSchema = z
  .object({ pack: packMetaSchema, files: z.record(z.string(), z.string()), root: z.string() })
  .meta({ id: 'StoredPack' });

export const packDiffResponseSchema = z
  .object({ from: packMetaSchema, to: z.union([packMetaSchema, packInfoSchema]).nullable(), diff: packDiffSchema })
  .meta({ id: 'PackDiffAnswer' });

export const backtestResponseSchema = z
  .object({
    events: z.number().int(),
    from: z.string().nullable(),
    to: z.string().nullable(),
    active: z.object({ pack: packInfoSchema, decisions: counts }),
    candidate: z.object({ pack: packInfoSchema, decisions: counts }),
    kept: z.object({ decisions: counts }),
    reproduced: z.number().int(),
    rules: z.array(z.object({ name: z.string(), active: z.number().int().nullable(), candidate: z.number().int().nullable() })),
    changed: z.number().int(),
    changes: z.array(
      z.object({
        decision_id: z.string(),
        at: z.string(),
        type: z.string(),
        before: action,
        after: action,
        rules_before: z.array(z.string()),
        rules_after: z.array(z.string()),
      }),
    ),
    notes: z.array(z.string()),
    diff: packDiffSchema,
    tests: packTestsSchema,
  })
  .meta({ id: 'Backtest' });

// ---- overrides -----------------------------------------------------------------------------------

export const ruleOverrideSchema = z
  .object({
    rule: z.string(),
    mode: z.enum(['off', 'shadow']),
    reason: z.string(),
    by: z.string(),
    set_at: z.string(),
    expires_at: z.string().nullable(),
  })
  .meta({ id: 'RuleOverride' });

/** An override as listed: `applies` is false when the active pack has no rule of that name. */
export const overrideViewSchema = ruleOverrideSchema.extend({ applies: z.boolean() }).meta({ id: 'RuleOverrideView' });
export const overridesResponseSchema = z.object({ overrides: z.array(overrideViewSchema) }).meta({ id: 'Overrides' });
export const overrideSetResponseSchema = z
  .object({ override: overrideViewSchema, pack: packInfoSchema.nullable() })
  .meta({ id: 'OverrideSet' });
export const overrideClearResponseSchema = z.object({ removed: ruleOverrideSchema }).meta({ id: 'OverrideRemoved' });
