/**
 * What `vigil probe` reports about inference: execution providers of this build, the models set-up converted
 * (each built-in detector at each precision and input size the `detector:` section can select) and what the CPU
 * offers INT8 models.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { modelsDir } from './models.js';
import { listProviders, type ProviderInfo } from './providers.js';

export interface InferenceProbe {
  onnxruntimeVersion: string;
  providers: ProviderInfo[];
  models: Array<{ name: string; path: string; present: boolean; bytes: number }>;
  cpu: CpuIntegerSupport;
}

/**
 * The CPU's instructions for 8-bit integer dot products, best first, as onnxruntime's CPU kernels use them:
 * AMX and VNNI multiply uint8 by int8 and add into int32 in one instruction; AVX2 alone needs vpmaddubsw and more
 * (the project's INT8 NanoDet keeps its weights to 7 bits so that path does not saturate, scripts/models/qdq.py).
 * Measured (bench/RESULTS.md): INT8 NanoDet 416 2.4-2.8x float32 with AVX-512 VNNI; 0.98x on an AVX2-only AMD
 * EPYC (Zen 1).
 */
export interface CpuIntegerSupport {
  model: string;
  /** 'amx' | 'avx512-vnni' | 'avx-vnni' | 'avx2' | 'none' (no AVX2: x86 without it, or not x86; read from /proc/cpuinfo). */
  intDot: 'amx' | 'avx512-vnni' | 'avx-vnni' | 'avx2' | 'none';
}

/** Parses /proc/cpuinfo's text (the first processor's model name and flags). */
export function cpuIntegerSupport(cpuinfo: string): CpuIntegerSupport {
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown';
  const flags = new Set((/^flags\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const intDot = flags.has('amx_int8')
    ? 'amx'
    : flags.has('avx512_vnni')
      ? 'avx512-vnni'
      : flags.has('avx_vnni')
        ? 'avx-vnni'
        : flags.has('avx2')
          ? 'avx2'
          : 'none';
  return { model, intDot };
}

function readCpuinfo(): string {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
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
    cpu: cpuIntegerSupport(readCpuinfo()),
  };
}
