/**
 * What `vigil probe` reports about inference: execution providers of this build and the models set-up converted
 * (each built-in detector at each precision and input size the `detector:` section can select).
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { modelsDir } from './models.js';
import { listProviders, type ProviderInfo } from './providers.js';

export interface InferenceProbe {
  onnxruntimeVersion: string;
  providers: ProviderInfo[];
  models: Array<{ name: string; path: string; present: boolean; bytes: number }>;
}

export function probeInference(): InferenceProbe {
  const dir = modelsDir();
  return {
    onnxruntimeVersion: (ort.env as { versions?: { common?: string } }).versions?.common ?? 'unknown',
    providers: listProviders(),
    models: ['nanodet', 'nanodet-int8', 'nanodet-320', 'nanodet-320-int8', 'centernet', 'embedder-mnv3'].map((name) => {
      const path = join(dir, `${name}.onnx`);
      const present = existsSync(path);
      return { name, path, present, bytes: present ? statSync(path).size : 0 };
    }),
  };
}
