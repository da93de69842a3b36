// The decision log's error registry: every error its public methods throw, each with a stable code
// (the API maps them onto HTTP answers, the CLI onto exit codes). append() never throws: a refused
// row is counted in stats.refused and described in stats.lastError instead.
import { VigilError } from '../common/errors.ts';

export const DECISION_LOG_ERRORS = {
  /** A bad option at createDecisionLog (schema name, URL, sizes). */
  LOG_CONFIG: 'invalid decision log configuration',
  /** A search/scan/get argument that cannot be used (bad cursor, limit, time, id). */
  LOG_BAD_QUERY: 'invalid decision log query',
  /** The database does not answer and the answer is not in memory or in the spool. */
  LOG_UNAVAILABLE: 'the decision log database is unavailable',
  /** A migration failed; the schema is left as it was before the failed transaction. */
  LOG_MIGRATION: 'a decision log migration failed',
  /** An audit entry that cannot be kept (missing actor, action not a word, details too large). */
  LOG_INPUT: 'invalid audit entry',
  /** The log was closed. */
  LOG_CLOSED: 'the decision log is closed',
} as const;

export type DecisionLogErrorCode = keyof typeof DECISION_LOG_ERRORS;

export class DecisionLogError extends VigilError<DecisionLogErrorCode> {
  constructor(code: DecisionLogErrorCode, message: string = DECISION_LOG_ERRORS[code], options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
