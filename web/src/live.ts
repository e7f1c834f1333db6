/**
 * Live video in the browser: one WebSocket `/live` per page carrying every camera it shows (src/console/live.ts has
 * the wire format), one MediaSource per <video>. Fragments are appended as they come (one per frame); the player
 * stays at the live edge (jumps when more than 1.5 s behind, trims what it has played). Each fragment carries the
 * wall-clock time it passed the server's tap, so a frame's age when appended is measured (live latency), and the
 * video's current time maps back to wall-clock time for aligning detection boxes.
 */
import { token } from './api';

type Handler = {
  onInit(mime: string, segment: Uint8Array): void;
  onFragment(wallMs: number, fragment: Uint8Array): void;
  onUnavailable(reason: string): void;
};

export interface LiveStats {
  /** ms between the tap and the append, per fragment (newest last, at most 2000). */
  latencies: number[];
  /** ms between the tap and the frame's presentation on screen (requestVideoFrameCallback), at most 2000. */
  glass: number[];
  fragments: number;
}

export const liveStats: LiveStats = { latencies: [], glass: [], fragments: 0 };
(globalThis as { __vigilLive?: LiveStats }).__vigilLive = liveStats;

class LiveSocket {
  #ws: WebSocket | null = null;
  #handlers = new Map<string, Set<Handler>>();
  #retry: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  #connect(): void {
    const t = token();
    if (!t || this.#closed) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/live`, ['vigil.live.v1', `bearer.${t}`]);
    ws.binaryType = 'arraybuffer';
    this.#ws = ws;
    ws.onopen = () => this.#sendWatch();
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') {
        const m = JSON.parse(e.data) as { camera?: string; unavailable?: string; error?: { message: string } };
        if (m.camera) for (const h of this.#handlers.get(m.camera) ?? []) h.onUnavailable(m.unavailable ?? m.error?.message ?? 'unavailable');
        return;
      }
      const buf = new Uint8Array(e.data as ArrayBuffer);
      const n = buf[1]!;
      const id = new TextDecoder().decode(buf.subarray(2, 2 + n));
      const dv = new DataView(buf.buffer, buf.byteOffset + 2 + n);
      const hs = this.#handlers.get(id);
      if (!hs) return;
      if (buf[0] === 1) {
        const ml = dv.getUint16(0);
        const mime = new TextDecoder().decode(buf.subarray(4 + n, 4 + n + ml));
        const seg = buf.subarray(4 + n + ml);
        for (const h of hs) h.onInit(mime, seg);
      } else if (buf[0] === 2) {
        const wall = dv.getFloat64(0);
        const frag = buf.subarray(10 + n);
        for (const h of hs) h.onFragment(wall, frag);
      }
    };
    ws.onclose = () => {
      if (this.#ws === ws) this.#ws = null;
      if (!this.#closed && this.#handlers.size > 0) this.#retry = setTimeout(() => this.#connect(), 2000);
    };
  }

  #sendWatch(): void {
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify({ watch: [...this.#handlers.keys()] }));
  }

  watch(cameraId: string, h: Handler): () => void {
    this.#closed = false;
    let set = this.#handlers.get(cameraId);
    if (!set) {
      set = new Set();
      this.#handlers.set(cameraId, set);
    }
    set.add(h);
    if (!this.#ws) this.#connect();
    else this.#sendWatch();
    return () => {
      set!.delete(h);
      if (set!.size === 0) {
        this.#handlers.delete(cameraId);
        this.#sendWatch();
      }
    };
  }

  /** Ends every live stream (logout). */
  close(): void {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#handlers.clear();
    this.#ws?.close();
    this.#ws = null;
  }

  get open(): boolean {
    return this.#ws !== null;
  }
}

export const liveSocket = new LiveSocket();

/** Plays one camera into `video`; `onFail` when MSE cannot (the caller shows latest.jpg instead). */
export class LivePlayer {
  #ms: MediaSource | null = null;
  #sb: SourceBuffer | null = null;
  #queue: Uint8Array[] = [];
  #unwatch: () => void;
  #mime = '';
  /** [mediaTimeS, wallMs] of recent fragments, for mapping currentTime to wall-clock time. */
  #map: Array<[number, number]> = [];
  #pendingWall: number[] = [];
  #url: string | null = null;
  #closed = false;

  constructor(readonly cameraId: string, readonly video: HTMLVideoElement, private readonly onFail: (reason: string) => void) {
    this.#watchFrames();
    this.#unwatch = liveSocket.watch(cameraId, {
      onInit: (mime, seg) => this.#init(mime, seg),
      onFragment: (wall, frag) => this.#fragment(wall, frag),
      onUnavailable: (reason) => this.onFail(reason),
    });
  }

  #init(mime: string, seg: Uint8Array): void {
    if (typeof MediaSource === 'undefined' || !MediaSource.isTypeSupported(mime)) {
      const codec = /codecs="([^"]+)"/.exec(mime)?.[1] ?? mime;
      const name = /^(hvc1|hev1)\./.test(codec) ? 'H.265' : /^avc1\./.test(codec) ? 'H.264' : 'this';
      // Nothing this browser can decode: stop the stream (the tile shows latest.jpg instead).
      this.#unwatch();
      this.#unwatch = () => {};
      this.onFail(`This browser cannot play ${name} video (${codec})`);
      return;
    }
    if (this.#sb && mime === this.#mime) {
      this.#push(seg.slice());
      return;
    }
    this.#mime = mime;
    this.#queue = [seg.slice()];
    const ms = new MediaSource();
    this.#ms = ms;
    if (this.#url) URL.revokeObjectURL(this.#url);
    this.#url = URL.createObjectURL(ms);
    this.video.src = this.#url;
    ms.addEventListener('sourceopen', () => {
      if (this.#ms !== ms) return;
      const sb = ms.addSourceBuffer(mime);
      sb.mode = 'segments';
      this.#sb = sb;
      sb.addEventListener('updateend', () => this.#drain());
      this.#drain();
    });
  }

  #fragment(wall: number, frag: Uint8Array): void {
    if (!this.#ms) return;
    this.#pendingWall.push(wall);
    this.#push(frag.slice());
  }

  #push(data: Uint8Array): void {
    this.#queue.push(data);
    if (this.#queue.length > 300) this.#queue.splice(1, this.#queue.length - 150); // never grow without bound
    this.#drain();
  }

  #drain(): void {
    const sb = this.#sb;
    if (!sb || sb.updating || this.#queue.length === 0) return;
    const v = this.video;
    // Stay live: jump to the edge when behind, drop what was played long ago.
    if (sb.buffered.length > 0) {
      const end = sb.buffered.end(sb.buffered.length - 1);
      if (end - v.currentTime > 1.5) v.currentTime = end - 0.2;
      const start = sb.buffered.start(0);
      if (v.currentTime - start > 30) {
        sb.remove(start, v.currentTime - 10);
        return;
      }
    }
    const data = this.#queue.shift()!;
    const isFragment = data[4] === 0x6d && data[5] === 0x6f; // "moof"
    try {
      sb.appendBuffer(data as unknown as BufferSource);
    } catch {
      return;
    }
    if (isFragment) {
      const wall = this.#pendingWall.shift();
      if (wall !== undefined) {
        liveStats.fragments++;
        liveStats.latencies.push(Date.now() - wall);
        if (liveStats.latencies.length > 2000) liveStats.latencies.shift();
        // The decode time of this fragment: its tfdt (90 kHz), read straight from the moof.
        const t = tfdtSeconds(data);
        if (t !== null) {
          this.#map.push([t, wall]);
          if (this.#map.length > 600) this.#map.shift();
        }
      }
    }
    if (v.paused) void v.play().catch(() => {});
  }

  /** Source-to-screen latency per presented frame, where the browser reports presentation (Chromium does). */
  #watchFrames(): void {
    const v = this.video as HTMLVideoElement & { requestVideoFrameCallback?: (cb: (now: number, meta: { mediaTime: number }) => void) => number };
    if (!v.requestVideoFrameCallback) return;
    const onFrame = (_now: number, meta: { mediaTime: number }): void => {
      if (this.#closed) return;
      const wall = this.#wallAt(meta.mediaTime);
      if (wall !== null) {
        liveStats.glass.push(Date.now() - wall);
        if (liveStats.glass.length > 2000) liveStats.glass.shift();
      }
      v.requestVideoFrameCallback!(onFrame);
    };
    v.requestVideoFrameCallback(onFrame);
  }

  #wallAt(t: number): number | null {
    let best: [number, number] | null = null;
    for (const m of this.#map) if (m[0] <= t + 0.001) best = m;
    return best ? best[1] + (t - best[0]) * 1000 : null;
  }

  /** Wall-clock ms of the frame on screen now (null before the first fragment). */
  wallClockNow(): number | null {
    const t = this.video.currentTime;
    let best: [number, number] | null = null;
    for (const m of this.#map) if (m[0] <= t + 0.001) best = m;
    if (!best) return this.#map[0] ? this.#map[0][1] : null;
    return best[1] + (t - best[0]) * 1000;
  }

  close(): void {
    this.#closed = true;
    this.#unwatch();
    this.#ms = null;
    this.#sb = null;
    this.video.removeAttribute('src');
    this.video.load();
    if (this.#url) URL.revokeObjectURL(this.#url);
  }
}

/** tfdt's baseMediaDecodeTime of a moof (one track, as the server makes them), in seconds. */
export function tfdtSeconds(moof: Uint8Array): number | null {
  for (let i = 8; i + 20 <= moof.length && i < 200; i++) {
    if (moof[i] === 0x74 && moof[i + 1] === 0x66 && moof[i + 2] === 0x64 && moof[i + 3] === 0x74) {
      const dv = new DataView(moof.buffer, moof.byteOffset + i + 4);
      const v = dv.getUint8(0) === 1 ? Number(dv.getBigUint64(4)) : dv.getUint32(4);
      return v / 90000;
    }
  }
  return null;
}
