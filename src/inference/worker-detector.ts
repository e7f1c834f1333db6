/**
 * A Detector on its own thread. The server runs inference here: onnxruntime-node's session.run blocks the thread
 * that calls it for the whole run (15-40 ms a frame on this class of CPU), which on the JS thread stalled frame
 * events, tracking, the store and the WebSocket stream, and capped inference plus all of those at one core.
 *
 * Tensors are copied at dispatch (a frame's tensor is native pool memory that cannot be transferred) and moved to
 * the thread without a second copy; the copy is ~0.1-0.3 ms against the run it feeds. Calls are answered in order.
 * The copies' buffers come back with each answer and are reused for the next calls: a fresh buffer per frame
 * (~2 MB at 416x416, tens of frames a second) is zero-filled and faulted in, and freed only when the inference
 * thread's V8 collects it (the soak's allocation profiles held 25-66 MB of such JS-allocated buffers at a time).
 */
import { Worker } from 'node:worker_threads';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { VigilArgumentError, VigilClosedError, VigilError } from '../errors.js';
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

/** Spare tensor buffers kept per byte length: more than the calls in flight ever hold at once. */
const SPARES_PER_SIZE = 16;

/** The buffers to move to the thread: the tensor copies' (anything else is cloned, for the Detector to refuse). */
function transferables(tensors: unknown[]): ArrayBuffer[] {
  return tensors.flatMap((t) => (t instanceof ArrayBuffer ? [t] : ArrayBuffer.isView(t) && t.buffer instanceof ArrayBuffer ? [t.buffer] : []));
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
  /** Tensor buffers back from the thread, by byte length, for the next copies. */
  #spares = new Map<number, ArrayBuffer[]>();
  #buffersAllocated = 0;
  #buffersReused = 0;

  private constructor(config: DetectorConfig, worker: Worker, ready: Ready) {
    this.config = config;
    this.#worker = worker;
    this.providers = ready.providers;
    this.inputSizes = ready.inputSizes;
    this.batchSize = ready.batchSize;
    this.inputName = ready.inputName;
    this.osThreadId = ready.tid ?? null;
    worker.on('message', (m: { id?: number; out?: Detection[][]; error?: { message: string; code: string }; spent?: ArrayBuffer[] }) => {
      if (m.id === undefined) return;
      for (const b of m.spent ?? []) this.#spare(b);
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
    const copies = inputs.map((i) => ({ ...i, tensor: this.#copy(i.tensor) }));
    this.#runs++;
    this.#frames += inputs.length;
    return new Promise((resolve, reject) => {
      if (this.#pending.size === 0) this.#busySince = performance.now();
      this.#pending.set(id, { resolve, reject });
      try {
        this.#worker.postMessage({ id, inputs: copies }, transferables(copies.map((c) => c.tensor)));
      } catch (err) {
        // Not cloneable (a function, a symbol): nothing was sent.
        this.#pending.delete(id);
        if (this.#pending.size === 0) this.#busyMs += performance.now() - this.#busySince;
        reject(new VigilArgumentError(`Expected inputs that can be sent to the inference thread for inputs but received one that cannot (${(err as Error).message})`));
      }
    });
  }

  /**
   * Calls made, frames they covered, ms of wall time with a call pending, and the tensor copies' buffers: allocated
   * new, or reused from earlier calls.
   */
  stats(): { runs: number; frames: number; busyMs: number; buffersAllocated: number; buffersReused: number } {
    const open = this.#pending.size > 0 ? performance.now() - this.#busySince : 0;
    return { runs: this.#runs, frames: this.#frames, busyMs: this.#busyMs + open, buffersAllocated: this.#buffersAllocated, buffersReused: this.#buffersReused };
  }

  /** A copy of `t` of the same type, in a spare buffer of its size when there is one. */
  #copy(t: DetectorInput['tensor']): ArrayBuffer | Float32Array | Uint8Array {
    // Not a tensor type: passed on as it is, for the thread's Detector to refuse with its own message.
    if (!(t instanceof ArrayBuffer) && !(t instanceof Float32Array) && !(t instanceof Uint8Array)) return t;
    const src = t instanceof ArrayBuffer ? new Uint8Array(t) : new Uint8Array(t.buffer, t.byteOffset, t.byteLength);
    let buf = this.#spares.get(src.byteLength)?.pop();
    if (buf) this.#buffersReused++;
    else {
      buf = new ArrayBuffer(src.byteLength);
      this.#buffersAllocated++;
    }
    new Uint8Array(buf).set(src);
    return t instanceof ArrayBuffer ? buf : t instanceof Float32Array ? new Float32Array(buf) : new Uint8Array(buf);
  }

  #spare(b: ArrayBuffer): void {
    let list = this.#spares.get(b.byteLength);
    if (!list) this.#spares.set(b.byteLength, (list = []));
    if (list.length < SPARES_PER_SIZE) list.push(b);
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
