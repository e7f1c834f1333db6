/** Inference: detector and embedder sessions, native post-processing and motion gate, execution providers. */
export { Detector, DETECTOR_DECODERS } from './detector.js';
export type { DetectorConfig, DetectorDecoder, DetectorInput } from './detector.js';
export { Embedder, EMBED_DIM, EMBED_HEIGHT, EMBED_WIDTH, l2normalize } from './embedder.js';
export type { EmbedderOptions, EmbedCropSpec } from './embedder.js';
export { COCO_CLASSES, centernetPreset, modelPath, modelsDir, nanodetPreset } from './models.js';
export type { BuiltinModel } from './models.js';
export { inferenceAddon } from './native.js';
export type { InferenceAddon, NativeDecodeOptions, NativeLetterbox, NativeMotionConfig, NativeMotionDetector, NativeMotionResult } from './native.js';
export { listProviders, resolveProviders, PROVIDER_NAMES } from './providers.js';
export type { ProviderInfo, ProviderName } from './providers.js';
export { probeInference } from './probe.js';
