/** Helpers to run camera pipelines in tests. */
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource, type CameraSource } from '../../src/camera/source.js';
import { DEFAULT_TENSOR, type TensorSpec } from '../../src/camera/tensor.js';
import { DEFAULT_CAMERA_TIMING, type CameraSettings } from '../../src/camera/camera.js';
import type { Frame } from '../../src/camera/frame.js';
import type { DecoderPreferences } from '../../src/camera/decoders.js';
import type { VigilPipelineError } from '../../src/errors.js';

export interface RunResult {
  frames: number;
  sequences: number[];
  decoder: string | null;
  stats: ReturnType<CameraPipeline['stats']>;
}

/** Reads a whole file (as fast as decode allows, lossless) and counts the frames handed on. */
export function runFile(
  path: string,
  opts: { detectFps?: number; tensor?: TensorSpec; decoder?: DecoderPreferences; onFrame?: (f: Frame) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    let frames = 0;
    const sequences: number[] = [];
    const source = parseSource({ kind: 'file', path, realtime: false });
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'file',
      source,
      tensor: opts.tensor ?? DEFAULT_TENSOR,
      detectFps: opts.detectFps ?? 0,
      decoder: opts.decoder ?? { threads: 1 },
      onFrame: (f) => {
        frames++;
        sequences.push(f.sequence);
        opts.onFrame?.(f);
        f.release();
      },
      onError: (e: VigilPipelineError) => {
        p.close();
        reject(e);
      },
      onEos: () => {
        const stats = p.stats();
        p.close();
        resolve({ frames, sequences, decoder: p.decoder?.element ?? null, stats });
      },
    });
    p.start();
  });
}

export function cameraSettings(id: string, source: unknown, overrides: Partial<CameraSettings> = {}): CameraSettings {
  return {
    id,
    name: id,
    source: parseSource(source) as CameraSource,
    tensor: DEFAULT_TENSOR,
    detectFps: 0,
    decoder: { threads: 1 },
    ...DEFAULT_CAMERA_TIMING,
    ...overrides,
  };
}
