// The features layer's one error registry: every error a signal source throws, each with a stable
// code (the model's errors keep the codes docs/model.md lists). The engine turns a failing source into a degraded answer; the API maps what reaches it
// (api/errors.ts); start-up errors name the file or address at fault.
import { VigilError } from '../common/errors.ts';
import type { GeoRole } from './geoip/adapters.ts';

export const FEATURE_ERRORS = {
  /** A GeoIP database cannot be opened or read. */
  GEOIP: 'a GeoIP database cannot be opened or read',
  /** An ASN CSV file is malformed. */
  ASN_CSV: 'an ASN CSV file is malformed',
  /** The signal store could not serve a write or a decision lookup (down, slow, or refused). */
  STORE_UNAVAILABLE: 'the signal store is unreachable',
  /** A live list's Redis key holds another type than a set (someone wrote it by hand). */
  LIST_KEY_TYPE: 'a live list key holds another Redis type than a set',
} as const;

export type FeatureErrorCode = keyof typeof FEATURE_ERRORS;

export class FeatureError extends VigilError<FeatureErrorCode> {}

/** A database that cannot be opened or read; `role` and `path` name the one at fault. */
export class GeoIpError extends FeatureError {
  constructor(
    message: string,
    readonly role: GeoRole,
    readonly path: string,
  ) {
    super('GEOIP', message);
  }
}

/** A CSV file that cannot be read as ASN ranges; `line` is 1-based. */
export class AsnCsvError extends FeatureError {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super('ASN_CSV', `line ${line}: ${message}`);
  }
}

export class StoreUnavailableError extends FeatureError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORE_UNAVAILABLE', message, options);
  }
}

/** A live list's key (`name`) or its expiry key holds another Redis type than the one the list needs. */
export class ListKeyTypeError extends FeatureError {
  constructor(readonly key: string) {
    super('LIST_KEY_TYPE', `the Redis key ${JSON.stringify(key)} holds another type than a set`);
  }
}

/** Why a model file's contents cannot be used (features/model/file.ts). */
export type ModelFileErrorCode = 'not_onnx' | 'no_metadata' | 'bad_columns' | 'bad_trees' | 'bad_features';

/** A model file that cannot be used; thrown by readModelFile. */
export class ModelFileError extends VigilError<ModelFileErrorCode> {}

/**
 * Why the scorer refuses to serve a model: the file's own defects keep their ModelFileError code,
 * the rest are found while loading it.
 */
export type ModelLoadErrorCode = ModelFileErrorCode | 'unreadable' | 'unknown_feature' | 'bad_graph';

/** The model cannot serve: refused at load or reload, before it replaces the model serving. */
export class ModelLoadError extends VigilError<ModelLoadErrorCode> {}
