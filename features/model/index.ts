// The `model` signal source's public entry (docs/model.md): what the engine, the API and the CLI use
// to serve, explain and inspect the anomaly model. The pure modules behind it — vector.ts (columns →
// Float32 rows), file.ts (reading a model file), forest.ts (trees, c(n), attribution) — load no
// native code; the training code imports them directly, so its worker threads never load onnxruntime.
export {
  createModelScorer,
  DEFAULT_MODEL_PATH,
  loadAnomalyScorer,
  modelSlots,
  type Contribution,
  type ModelLogger,
  type ModelScore,
  type ModelScorer,
  type ModelScorerOptions,
  type ModelSession,
  type ScoreOptions,
  type SessionFactory,
} from './scorer.ts';
export { ModelFileError, ModelLoadError, type ModelFileErrorCode, type ModelLoadErrorCode } from '../errors.ts';
export { INPUT_NAME, META, OUTPUT_NAME, readModelFile, type ModelFile, type TrainingSummary } from './file.ts';
export { attribute, averagePathLength, type IsolationForest, type ITree } from './forest.ts';
export {
  createEncoder,
  createSlotEncoder,
  encodeValue,
  featuresOf,
  parseColumns,
  slotsFromRecord,
  type ColumnSpec,
  type Encoder,
  type FeatureBag,
  type FeatureInput,
  type SlotEncoder,
  type Transform,
} from './vector.ts';
