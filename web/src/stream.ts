/**
 * The event stream `/ws` (FlatBuffers, decoded by wire.ts) for the open page: detection batches per camera (the
 * last 5 s, for boxes over live video), track and alert events to listeners. One socket, reconnecting, resumed
 * from the last sequence it saw.
 */
import { token } from './api';
import { decodeWire, type WireEvent } from './wire';

type Detections = Extract<WireEvent, { kind: 'detections' }>;

class EventStream {
  #ws: WebSocket | null = null;
  #lastSeq = 0;
  #closed = true;
  #retry: ReturnType<typeof setTimeout> | null = null;
  readonly batches = new Map<string, Detections[]>();
  readonly #listeners = new Set<(e: WireEvent) => void>();

  start(): void {
    if (!this.#closed) return;
    this.#closed = false;
    this.#connect();
  }

  #connect(): void {
    const t = token();
    if (!t || this.#closed) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/ws`, ['vigil.v1', `bearer.${t}`]);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'subscribe', id: 'console', kinds: ['detections', 'tracks', 'alerts', 'camera_status'], ...(this.#lastSeq > 0 ? { resume_after: this.#lastSeq } : {}) }));
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') return;
      const ev = decodeWire(new Uint8Array(e.data as ArrayBuffer));
      if ('seq' in ev && ev.seq > this.#lastSeq) this.#lastSeq = ev.seq;
      if (ev.kind === 'detections') {
        let list = this.batches.get(ev.cameraId);
        if (!list) {
          list = [];
          this.batches.set(ev.cameraId, list);
        }
        list.push(ev);
        const cutoff = ev.timestampMs - 5000;
        while (list.length > 0 && list[0]!.timestampMs < cutoff) list.shift();
      }
      for (const l of this.#listeners) l(ev);
    };
    ws.onclose = () => {
      if (this.#ws === ws) this.#ws = null;
      if (!this.#closed) this.#retry = setTimeout(() => this.#connect(), 2000);
    };
  }

  on(fn: (e: WireEvent) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  stop(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#ws?.close();
    this.#ws = null;
    this.batches.clear();
  }

  get open(): boolean {
    return this.#ws !== null;
  }
}

export const events = new EventStream();
