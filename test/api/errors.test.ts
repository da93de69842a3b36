// The API's error registry maps what the layers below throw onto answers: a store or database that
// is away is a retryable 503, a bad log query a 400, anything unknown a 500 with a fixed message.
import { describe, expect, it } from 'vitest';
import { toApiError } from '../../api/errors.ts';
import { DecisionLogError } from '../../decisionlog/errors.ts';
import { EngineUnavailableError } from '../../engine/errors.ts';
import { StoreUnavailableError } from '../../features/errors.ts';

describe('toApiError', () => {
  it('maps the layers\' errors by code, never by wording', () => {
    expect(toApiError(new StoreUnavailableError('x')).status).toBe(503);
    expect(toApiError(new EngineUnavailableError('no model')).status).toBe(503);
    expect(toApiError(new DecisionLogError('LOG_UNAVAILABLE')).status).toBe(503);
    expect(toApiError(new DecisionLogError('LOG_CLOSED')).status).toBe(503);
    expect(toApiError(new DecisionLogError('LOG_BAD_QUERY', 'bad cursor')).toString()).toContain('bad cursor');
    expect(toApiError(new DecisionLogError('LOG_BAD_QUERY', 'bad cursor')).status).toBe(400);
    const unknown = toApiError(new Error('secret internals'));
    expect([unknown.status, unknown.code, unknown.message]).toEqual([500, 'internal', 'internal error']);
  });
});
