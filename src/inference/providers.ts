/**
 * Execution providers: what this onnxruntime-node build offers, and the fallback from a configured list to what
 * can actually run (an unavailable provider falls back to CPU with one clear log line).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';

export type ProviderName = 'cpu' | 'cuda' | 'tensorrt' | 'openvino' | 'webgpu' | 'dml' | 'coreml' | 'qnn';
export const PROVIDER_NAMES: readonly ProviderName[] = ['cpu', 'cuda', 'tensorrt', 'openvino', 'webgpu', 'dml', 'coreml', 'qnn'];

export interface ProviderInfo {
  name: ProviderName;
  /**
   * The build lists it and its runtime library is present. A device can still be missing (webgpu without an
   * adapter): Detector.create then falls back to cpu when the session fails to start, with one log line.
   */
  available: boolean;
  /** Why it is not available (empty when available). */
  reason: string;
}

// Providers whose code ships as a separate shared library next to the binding (downloaded by onnxruntime-node's
// install script where that host is reachable).
const PROVIDER_LIBRARY: Partial<Record<ProviderName, string>> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

function bindingDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = dirname(require.resolve('onnxruntime-node/package.json'));
    const dir = join(pkg, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}

let cachedProviders: ProviderInfo[] | undefined;

/** Every provider name Vigil knows, with whether this build can use it (for `vigil probe`). */
export function listProviders(): ProviderInfo[] {
  if (cachedProviders) return cachedProviders;
  const listed = new Map<string, boolean>();
  const lister = (ort as unknown as { listSupportedBackends?: () => Array<{ name: string; bundled: boolean }> })
    .listSupportedBackends;
  for (const b of lister?.() ?? [{ name: 'cpu', bundled: true }]) listed.set(b.name, b.bundled);
  const dir = bindingDir();
  cachedProviders = PROVIDER_NAMES.map((name): ProviderInfo => {
    if (!listed.has(name)) return { name, available: false, reason: 'not built into this onnxruntime-node package' };
    const lib = PROVIDER_LIBRARY[name];
    if (listed.get(name) === false && lib) {
      if (!dir || !existsSync(join(dir, lib))) {
        return { name, available: false, reason: `${lib} is not installed next to the onnxruntime-node binding` };
      }
    }
    return { name, available: true, reason: '' };
  });
  return cachedProviders;
}

export type ProviderLogger = (line: string) => void;

/**
 * The providers to hand to onnxruntime for a configured list: unavailable ones are left out, CPU is always last.
 * When anything was left out, logs ONE line saying what and why.
 */
export function resolveProviders(configured: readonly string[], log: ProviderLogger, what = 'detector'): ProviderName[] {
  const info = new Map(listProviders().map((p) => [p.name as string, p]));
  const chosen: ProviderName[] = [];
  const dropped: string[] = [];
  for (const name of configured) {
    const p = info.get(name);
    if (!p) dropped.push(`${name} (unknown provider)`);
    else if (!p.available) dropped.push(`${name} (${p.reason})`);
    else if (!chosen.includes(p.name)) chosen.push(p.name);
  }
  if (!chosen.includes('cpu')) chosen.push('cpu');
  if (dropped.length > 0) {
    log(`${what}: execution provider ${dropped.join(', ')} unavailable; falling back to ${chosen.join(', ')}`);
  }
  return chosen;
}
