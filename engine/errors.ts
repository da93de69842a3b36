// The engine layer's one error registry: every error the engine and its pack manager throw, each
// with a stable code. The API maps them onto HTTP answers (api/errors.ts); the CLI onto exit codes.
import { VigilError } from '../common/errors.ts';

export const ENGINE_ERRORS = {
  /** No rule pack is active (start-up failed) or no model is configured: the API answers 503. */
  ENGINE_UNAVAILABLE: 'the engine cannot serve this (no active pack, or no model configured)',
  /** At start no pack could be loaded: neither the repository head nor VIGIL_RULES compiles. */
  NO_PACK: 'no rule pack could be loaded',
  /** Every pack-check worker is busy and the queue is full: the upload is refused, to retry later. */
  PACK_CHECK_BUSY: 'the pack checker is busy; retry shortly',
} as const;

export type EngineErrorCode = keyof typeof ENGINE_ERRORS;

export class EngineError extends VigilError<EngineErrorCode> {}

export class EngineUnavailableError extends EngineError {
  constructor(message: string = ENGINE_ERRORS.ENGINE_UNAVAILABLE) {
    super('ENGINE_UNAVAILABLE', message);
  }
}

/** Thrown by the pack manager's start when no pack compiles. */
export class NoPackError extends EngineError {
  constructor(message: string = ENGINE_ERRORS.NO_PACK) {
    super('NO_PACK', message);
  }
}

/** Thrown by the pack checker (engine/packs/checker.ts) when its workers and queue are full. */
export class PackCheckBusyError extends EngineError {
  constructor(message: string = ENGINE_ERRORS.PACK_CHECK_BUSY) {
    super('PACK_CHECK_BUSY', message);
  }
}
