/**
 * The inference worker thread (src/inference/worker-detector.ts starts it): one Detector, run off the JS thread.
 * onnxruntime-node's session.run is synchronous on the thread that calls it, so on the main thread it would
 * stall the event loop (frame events, the tracker, the stream) for the whole run.
 *
 * Messages in: { id, inputs } (tensors transferred), { close: true }. Out: { ready }, { id, out } | { id, error }
 * with the inputs' tensor buffers transferred back in `spent` (the caller reuses them), { log }, { closed }.
 */
import { readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Detector, type DetectorConfig, type DetectorInput } from './detector.js';
import { VigilError } from '../errors.js';

const port = parentPort!;
const config = workerData as DetectorConfig;

try {
  const detector = await Detector.create({ ...config, log: (line) => port.postMessage({ log: line }) });
  port.postMessage({ ready: { providers: detector.providers, inputSizes: detector.inputSizes, batchSize: detector.batchSize, inputName: detector.inputName, tid: osThreadId() } });
  port.on('message', (m: { id: number; inputs: DetectorInput[] } | { close: true }) => {
    if ('close' in m) {
      void detector.close().then(() => port.postMessage({ closed: true }));
      return;
    }
    // The run is over when detect settles (onnxruntime reads the input during the run only): the buffers go back.
    const spent = [...new Set(m.inputs.map((i) => bufferOf(i?.tensor)).filter((b): b is ArrayBuffer => b !== null))];
    detector.detect(m.inputs).then(
      (out) => port.postMessage({ id: m.id, out, spent }, spent),
      (err: unknown) => port.postMessage({ id: m.id, error: errorShape(err), spent }, spent),
    );
  });
} catch (err) {
  port.postMessage({ failed: errorShape(err) });
}

function bufferOf(t: unknown): ArrayBuffer | null {
  if (t instanceof ArrayBuffer) return t;
  if (ArrayBuffer.isView(t) && t.buffer instanceof ArrayBuffer) return t.buffer;
  return null;
}

/** This thread's id in the OS (Linux: /proc/thread-self -> "<pid>/task/<tid>"), so tools can attribute its CPU; null elsewhere. */
function osThreadId(): number | null {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    return Number.isInteger(tid) && tid > 0 ? tid : null;
  } catch {
    return null;
  }
}

function errorShape(err: unknown): { message: string; code: string } {
  return { message: err instanceof Error ? err.message : String(err), code: err instanceof VigilError ? err.code : 'E_INFERENCE' };
}
