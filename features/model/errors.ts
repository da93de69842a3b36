// The errors the anomaly model's serving code throws, each with a stable `code` (docs/model.md
// "Serving" lists them): callers and tests branch on the code, never on the wording.
import { VigilError } from '../../common/errors.ts';

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
