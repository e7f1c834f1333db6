/**
 * A Detector on its own thread. The server runs inference here: onnxruntime-node's session.run blocks the thread
 * that calls it for the whole run (15-40 ms a frame on this class of CPU), which on the JS thread stalled frame
 * events, tracking, the store and the WebSocket stream, and capped inference plus all of those at one core.
 *
 * Tensors are copied at dispatch (a frame's tensor is native pool memory that cannot be transferred) and moved to
 * the thread without a second copy; the copy is ~0.1-0.3 ms against the run it feeds. Calls are answered in order.
 */
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VigilClosedError, VigilError } from '../errors.js';
import type { Detection } from '../types.js';
import type { DetectorConfig, DetectorInput } from './detector.js';
import type { ProviderName } from './providers.js';

interface Ready {
  providers: ProviderName[];
  inputSizes: Array<{ width: number; height: number }>;
  batchSize: number;
  inputName: string;
  tid?: number | null;
}

interface Pending {
  resolve: (out: Detection[][]) => void;
  reject: (err: Error) => void;
}

function copyTensor(t: DetectorInput['tensor']): ArrayBuffer | Float32Array | Uint8Array {
  if (t instanceof ArrayBuffer) return t.slice(0);
  return t.slice();
}

function bufferOf(t: ArrayBuffer | Float32Array | Uint8Array): ArrayBuffer {
  return t instanceof ArrayBuffer ? t : (t.buffer as ArrayBuffer);
}

/**
 * Starts the thread: detector-thread.js beside this file in dist/; from source, the .ts file through tsx's loader,
 * registered inside the thread (loader hooks of the main thread do not reach workers on Node 20).
 */
function startThread(workerData: unknown): Worker {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return new Worker(join(dirname(here), 'detector-thread.js'), { workerData, execArgv: [] });
  const api = import.meta.resolve('tsx/esm/api');
  const entry = pathToFileURL(join(dirname(here), 'detector-thread.ts')).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(code, { eval: true, workerData, execArgv: [] });
}

export class WorkerDetector {
  readonly config: Readonly<DetectorConfig>;
  readonly providers: ProviderName[];
  readonly inputSizes: ReadonlyArray<{ width: number; height: number }>;
  readonly batchSize: number;
  readonly inputName: string;
  /** The inference thread's OS thread id (Linux; null elsewhere): what per-thread CPU accounting looks for. */
  readonly osThreadId: number | null;
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #closing: Promise<void> | null = null;
  #runs = 0;
  #frames = 0;
  /** Wall time with at least one call pending: how busy the thread is kept. */
  #busyMs = 0;
  #busySince = 0;

  private constructor(config: DetectorConfig, worker: Worker, ready: Ready) {
    this.config = config;
    this.#worker = worker;
    this.providers = ready.providers;
    this.inputSizes = ready.inputSizes;
    this.batchSize = ready.batchSize;
    this.inputName = ready.inputName;
    this.osThreadId = ready.tid ?? null;
    worker.on('message', (m: { id?: number; out?: Detection[][]; error?: { message: string; code: string } }) => {
      if (m.id === undefined) return;
      const p = this.#pending.get(m.id);
      if (!p) return;
      this.#pending.delete(m.id);
      if (this.#pending.size === 0) this.#busyMs += performance.now() - this.#busySince;
      if (m.error) p.reject(new VigilError(m.error.code, m.error.message));
      else p.resolve(m.out!);
    });
    worker.on('error', (err) => this.#failAll(new VigilError('E_INFERENCE_WORKER', `Inference worker failed: ${err.message}`, { cause: err })));
    worker.on('exit', (code) => this.#failAll(new VigilError('E_INFERENCE_WORKER', `Inference worker exited with code ${code}`)));
  }

  /** Starts the thread and creates the Detector there (config validated there too; errors come back as thrown). */
  static async create(config: DetectorConfig): Promise<WorkerDetector> {
    const { log, ...serializable } = config;
    const say = log ?? ((line: string) => console.warn(line));
    const worker = startThread(serializable);
    const ready = await new Promise<Ready>((resolve, reject) => {
      const onMessage = (m: { ready?: never; failed?: { message: string; code: string }; log?: string }): void => {
        if (m.log !== undefined) return;
        worker.off('message', onMessage);
        if (m.failed) reject(new VigilError(m.failed.code, m.failed.message));
        else resolve(m.ready!);
      };
      worker.on('message', onMessage);
      worker.once('error', reject);
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    worker.on('message', (m: { log?: string }) => {
      if (m.log !== undefined) say(m.log);
    });
    return new WorkerDetector(config, worker, ready);
  }

  /** Same contract as Detector.detect; the inputs' tensors may be released as soon as this returns. */
  detect(inputs: DetectorInput[]): Promise<Detection[][]> {
    if (this.#closing) return Promise.reject(new VigilClosedError('WorkerDetector.detect() called after close()'));
    const id = this.#nextId++;
    const copies = inputs.map((i) => ({ ...i, tensor: copyTensor(i.tensor) }));
    this.#runs++;
    this.#frames += inputs.length;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#busySince = performance.now();
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ id, inputs: copies }, copies.map((c) => bufferOf(c.tensor)));
    });
  }

  /** Calls made, frames they covered, and ms of wall time with a call pending. */
  stats(): { runs: number; frames: number; busyMs: number } {
    const open = this.#pending.size > 0 ? performance.now() - this.#busySince : 0;
    return { runs: this.#runs, frames: this.#frames, busyMs: this.#busyMs + open };
  }

  get closed(): boolean {
    return this.#closing !== null;
  }

  /** Waits for calls in flight, closes the sessions on the thread, ends it. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await Promise.allSettled([...this.#pending.values()].map((p) => new Promise<void>((r) => {
        const { resolve, reject } = p;
        p.resolve = (o) => { resolve(o); r(); };
        p.reject = (e) => { reject(e); r(); };
      })));
      const closed = new Promise<void>((resolve) => {
        const onMessage = (m: { closed?: boolean }): void => {
          if (m.closed) resolve();
        };
        this.#worker.on('message', onMessage);
        this.#worker.once('exit', () => resolve());
      });
      this.#worker.postMessage({ close: true });
      await closed;
      await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }
}
