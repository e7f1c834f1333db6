/**
 * The public API of the `vigil` package: what an OEM imports to embed the server or only the native ingest.
 * Everything else under src/ is internal and may change between versions; add an export here on purpose, with its
 * types, and the package-embed test (test/integration/package-embed.test.ts) exercises it from an installed tarball.
 */

// The whole server in-process.
export { createServer } from './server.js';
export type { ServerOptions, VigilServer } from './server.js';

// Configuration: a YAML file or a plain object, validated into a VigilConfig.
export { loadConfig, parseConfig, substituteEnv, defaultCameras, DEFAULT_MOTION } from './config/index.js';
export type { VigilConfig } from './config/index.js';

// Native ingest without the server: cameras that hand out pooled tensors.
export { CameraManager } from './camera/manager.js';
export type { CameraManagerEvents } from './camera/manager.js';
export { Camera, DEFAULT_CAMERA_TIMING } from './camera/camera.js';
export type { CameraCounters, CameraEvents, CameraSettings, ReconnectInfo, SegmentEvent } from './camera/camera.js';
export { Frame } from './camera/frame.js';
export { parseSource, probeFile } from './camera/source.js';
export type { CameraSource, Container, FileProbe, FileSource, RtspSource, TestSource } from './camera/source.js';
export { DEFAULT_TENSOR, parseTensorSpec, tensorBytes } from './camera/tensor.js';
export type { TensorSpec } from './camera/tensor.js';
export { probeDecoders } from './camera/decoders.js';
export type { Codec, DecoderKind } from './camera/decoders.js';

// Detection on ONNX Runtime, with the presets of the models set-up converts.
export { Detector, DETECTOR_DECODERS } from './inference/detector.js';
export type { DetectorConfig, DetectorDecoder, DetectorInput } from './inference/detector.js';
export { COCO_CLASSES, centernetPreset, modelPath, modelsDir, nanodetModel, nanodetPreset } from './inference/models.js';
export type { BuiltinModel, NanodetInputSize, NanodetOptions, NanodetPrecision } from './inference/models.js';
// The config file's `detector:` section as a Detector's config: Detector.create(wholeFrameDetector(options)).
export { DETECTOR_MODELS, parseDetectorOptions, wholeFrameDetector } from './inference/detector-options.js';
export type { DetectorModelKind, DetectorOptions } from './inference/detector-options.js';
export { listProviders, PROVIDER_NAMES } from './inference/providers.js';
export type { ProviderInfo, ProviderName } from './inference/providers.js';

// What flows: detections, tracks, alerts, camera status, and the stream's events.
export type {
  Alert,
  AlertState,
  Box,
  CameraInfo,
  CameraStatus,
  Detection,
  DetectionBatch,
  StoredDetection,
  TrackState,
  TrackSummary,
} from './types.js';
export { EVENT_KINDS, eventCamera } from './stream/events.js';
export type { CameraStatusEventData, EventKind, SequencedEvent, StreamEvent, TrackEventData, TrackPhase } from './stream/events.js';

// The WebSocket stream's FlatBuffers messages (schemas/flatbuffers/message.fbs): encode, and read with the
// flatc-generated accessors under names without the schema namespace.
export { FILE_IDENTIFIER, SCHEMA_VERSION, WireEncoder, readMessage } from './stream/codec.js';
export {
  vigil_wire_AlertEvent as WireAlertEvent,
  vigil_wire_AlertState as WireAlertState,
  vigil_wire_Box as WireBox,
  vigil_wire_CameraState as WireCameraState,
  vigil_wire_CameraStatusEvent as WireCameraStatusEvent,
  vigil_wire_ClassLabel as WireClassLabel,
  vigil_wire_Detection as WireDetection,
  vigil_wire_DetectionBatch as WireDetectionBatch,
  vigil_wire_DropNotice as WireDropNotice,
  vigil_wire_ErrorNotice as WireErrorNotice,
  vigil_wire_Message as WireMessage,
  vigil_wire_Payload as WirePayload,
  vigil_wire_ServerHello as WireServerHello,
  vigil_wire_SubscribeAck as WireSubscribeAck,
  vigil_wire_TrackEvent as WireTrackEvent,
  vigil_wire_TrackPhase as WireTrackPhase,
} from './stream/generated/message_generated.js';

// Errors: every error Vigil throws is a VigilError with a stable `code`.
export { VigilArgumentError, VigilClosedError, VigilConfigError, VigilError, VigilPipelineError, WireFormatError } from './errors.js';
export { VigilStoreError } from './store/detection-store.js';

// Logging: pass your own to createServer(config, { log }).
export { createLogger } from './log.js';
export type { Logger, LogLevel } from './log.js';

// Where the native addon was loaded from (diagnostics: which build an installed package uses).
export { addonPath } from '../bindings/index.js';
