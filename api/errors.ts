// The API layer's one error registry: every error code the HTTP API can answer, its status and a
// default message, and the helpers that render `{"error": {"code", "message", "details"}}`; and the
// one start-up error of this layer, a bad configuration. Routes throw `ApiError`; the final error
// handler (api/app.ts) is the only place that writes error bodies, so no status, code or stack trace
// can escape this table. Errors of the layers below are mapped here (`toApiError`).
import type { Response } from 'express';
import { VigilError } from '../common/errors.ts';
import { DecisionLogError } from '../decisionlog/errors.ts';
import { EngineUnavailableError, PackCheckBusyError } from '../engine/errors.ts';
import { ListKeyTypeError, StoreUnavailableError } from '../features/errors.ts';

export const API_ERRORS = {
  invalid_request: { status: 400, message: 'the request is malformed or a field is invalid' },
  unauthorized: { status: 401, message: 'missing or invalid bearer token' },
  not_found: { status: 404, message: 'no such resource' },
  request_timeout: { status: 408, message: 'the request body stopped arriving' },
  conflict: { status: 409, message: 'the resource changed concurrently or the operation does not apply' },
  payload_too_large: { status: 413, message: 'the request body is too large' },
  unsupported_media_type: { status: 415, message: 'unsupported Content-Type or encoding' },
  pack_rejected: { status: 422, message: 'the rule pack has errors or failing tests' },
  pack_check_aborted: { status: 422, message: 'the rule pack\'s check ran past its time or memory cap; the pack is refused' },
  model_rejected: { status: 422, message: 'the model file was refused; the loaded model keeps serving' },
  invalid_entry: { status: 422, message: 'a list entry is not of the list\'s kind' },
  rate_limited: { status: 429, message: 'too many admin requests from this client; retry after the Retry-After seconds' },
  internal: { status: 500, message: 'internal error' },
  unavailable: { status: 503, message: 'the service is not ready' },
  pack_check_busy: { status: 503, message: 'every pack checker is busy; retry shortly' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ErrorBody {
  readonly error: { readonly code: ApiErrorCode; readonly message: string; readonly details: unknown };
}

export class ApiError extends VigilError<ApiErrorCode> {
  readonly status: number;
  readonly details: unknown;

  constructor(code: ApiErrorCode, message?: string, details?: unknown) {
    super(code, message ?? API_ERRORS[code].message);
    this.status = API_ERRORS[code].status;
    this.details = details ?? null;
  }
}

export interface ConfigIssue {
  readonly variable: string;
  readonly message: string;
}

/** A bad configuration, found at start: every problem at once, never a secret's value. */
export class ConfigError extends VigilError<'CONFIG'> {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(
      'CONFIG',
      `invalid configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
        issues.map((i) => `  ${i.variable}: ${i.message}`).join('\n'),
    );
    this.issues = issues;
  }
}

export function errorBody(code: ApiErrorCode, message?: string, details?: unknown): ErrorBody {
  return { error: { code, message: message ?? API_ERRORS[code].message, details: details ?? null } };
}

export function sendError(res: Response, err: ApiError): void {
  // The pack checker's queue drains within its time cap: a client may come back in a second.
  if (err.code === 'pack_check_busy') res.setHeader('Retry-After', '1');
  res.status(err.status).json(errorBody(err.code, err.message, err.details));
}

/** A body that is not strict JSON (an object or an array), from either body reader. */
export function invalidJson(): ApiError {
  return new ApiError('invalid_request', 'the body is not valid JSON');
}

/**
 * A body whose bytes are not UTF-8 (`\xFF`, or a surrogate's CESU-8 bytes `\xED\xA0\x80`):
 * decoded, they would read as U+FFFD, naming another user's id.
 */
export function invalidUtf8(): ApiError {
  return new ApiError('invalid_request', 'the body is not valid UTF-8', [
    { path: '(body)', code: 'invalid_format', message: 'must be UTF-8 (no invalid byte sequence)' },
  ]);
}

/**
 * Map anything thrown (body-parser errors carry `status`/`type`, Express router errors `status`)
 * onto the registry. Unknown 4xx collapse to `invalid_request`; everything else is `internal`, with
 * a fixed message so that no internal detail leaks.
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  // The signal store is down: a retryable 503, never a 500 (decisions, outcomes, erase, audit).
  if (err instanceof StoreUnavailableError) return new ApiError('unavailable', 'the signal store (Redis) is unreachable; retry');
  if (err instanceof EngineUnavailableError) return new ApiError('unavailable', err.message);
  // Uploads past the pack checker's queue: refused at once, to retry (the active pack serves on).
  if (err instanceof PackCheckBusyError) return new ApiError('pack_check_busy', err.message);
  // The decision log's database is away and the row is neither in memory nor spooled: retryable.
  if (err instanceof DecisionLogError && (err.code === 'LOG_UNAVAILABLE' || err.code === 'LOG_CLOSED')) {
    return new ApiError('unavailable', 'the decision log (PostgreSQL) is unreachable; retry');
  }
  if (err instanceof DecisionLogError && err.code === 'LOG_BAD_QUERY') return new ApiError('invalid_request', err.message);
  // Someone wrote the list's key by hand with another type: the operator's to fix, not a retry.
  if (err instanceof ListKeyTypeError) return new ApiError('conflict', `${err.message}; a live list must be a Redis set`);
  const status = statusOf(err);
  const type = typeOf(err);
  // The router could not decode a path parameter (`/v1/users/a%FF/history`): its bytes are not
  // UTF-8. Named, but not echoed (it may be a user id).
  if (err instanceof URIError && status === 400) {
    return new ApiError('invalid_request', 'a path parameter is not percent-encoded UTF-8', [
      { path: 'params', code: 'invalid_format', message: 'must be percent-encoded UTF-8' },
    ]);
  }
  if (status === 413 || type === 'entity.too.large' || type === 'parameters.too.many') {
    return new ApiError('payload_too_large');
  }
  if (status === 415) return new ApiError('unsupported_media_type');
  if (type === 'entity.parse.failed') return invalidJson();
  if (status === 401) return new ApiError('unauthorized');
  if (status === 404) return new ApiError('not_found');
  if (status !== undefined && status >= 400 && status < 500) return new ApiError('invalid_request');
  return new ApiError('internal');
}

function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const o = err as { status?: unknown; statusCode?: unknown };
  const s = typeof o.status === 'number' ? o.status : typeof o.statusCode === 'number' ? o.statusCode : undefined;
  return s !== undefined && Number.isInteger(s) ? s : undefined;
}

function typeOf(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const t = (err as { type?: unknown }).type;
  return typeof t === 'string' ? t : undefined;
}
