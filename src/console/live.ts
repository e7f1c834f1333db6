/**
 * Live video for the console: each watched camera's live tap (Camera.setLiveTap: the parsed H.264 / H.265 stream at
 * the decoder's input, never decoded or re-encoded) muxed into fragmented MP4 (src/media/live/fmp4.ts) and pushed over
 * the WebSocket `/live` to Media Source Extensions in the browser.
 *
 * One tap and one muxer per camera however many watch it; the tap runs only while someone watches. The fragments
 * since the last keyframe are kept, so a new viewer starts at once (its player seeks to the live edge) instead of
 * waiting for the next keyframe. Each socket holds a bounded send buffer: past it, that viewer's fragments of that
 * camera are dropped (counted) up to the next keyframe, so a slow client never holds the others up or grows memory.
 *
 * Wire format (binary, server -> browser), all integers big-endian:
 *   [u8 kind][u8 n][n bytes camera id] then
 *   kind 1 (init):     [u16 m][m bytes MIME type with codecs][ftyp+moov]
 *   kind 2 (fragment): [f64 wall-clock ms when the frame passed the tap][moof+mdat]
 * Text frames: browser -> server `{"watch": ["cam", ...]}` (the full set it wants); server -> browser
 * `{"camera": id, "unavailable": reason}` when a camera has no playable stream (the page falls back to
 * latest.jpg) and `{"error": {code, message}}`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { NativeLiveEvent } from '../../bindings/index.js';
import { authorize, canSeeCamera, type Principal } from '../auth/policy.js';
import type { AuthService } from '../auth/service.js';
import type { Camera } from '../camera/camera.js';
import type { CameraManager } from '../camera/manager.js';
import { bearerToken, errorReply, type WsEndpoint, type WsSocket } from '../http/index.js';
import { Fmp4Muxer, LiveFormatError, type LiveInit } from '../media/live/fmp4.js';

export const LIVE_PROTOCOL = 'vigil.live.v1';
/** Bytes a socket may have waiting before its fragments are dropped up to the next keyframe. */
export const LIVE_MAX_BUFFERED = 4 * 1024 * 1024;
/** Fragments kept since the last keyframe for late joiners (a GOP longer than this is not cached). */
const GOP_CAP = 600;

export interface LiveViewer {
  /** false: not sent (the viewer's buffer is full). */
  send(message: Uint8Array): boolean;
  text(message: string): void;
}

interface CamState {
  camera: Camera;
  muxer: Fmp4Muxer;
  init: LiveInit | null;
  initMessage: Uint8Array | null;
  gop: Uint8Array[];
  viewers: Map<LiveViewer, { needKey: boolean }>;
  listener: (s: NativeLiveEvent, run: number) => void;
  unavailable: string | null;
}

function header(kind: number, cameraId: string, extra: number): { buf: Uint8Array; offset: number } {
  const id = Buffer.from(cameraId, 'utf8');
  const buf = new Uint8Array(2 + id.length + extra);
  buf[0] = kind;
  buf[1] = id.length;
  buf.set(id, 2);
  return { buf, offset: 2 + id.length };
}

export function initMessage(cameraId: string, init: LiveInit): Uint8Array {
  const mime = Buffer.from(init.mimeType, 'utf8');
  const { buf, offset } = header(1, cameraId, 2 + mime.length + init.segment.length);
  new DataView(buf.buffer).setUint16(offset, mime.length);
  buf.set(mime, offset + 2);
  buf.set(init.segment, offset + 2 + mime.length);
  return buf;
}

export function fragmentMessage(cameraId: string, wallClockMs: number, fragment: Uint8Array): Uint8Array {
  const { buf, offset } = header(2, cameraId, 8 + fragment.length);
  new DataView(buf.buffer).setFloat64(offset, wallClockMs);
  buf.set(fragment, offset + 8);
  return buf;
}

export class LiveHub {
  readonly #cams = new Map<string, CamState>();
  readonly #viewersGauge: Gauge | null;
  readonly #fragments: Counter | null;
  readonly #dropped: Counter | null;

  constructor(private readonly cameras: CameraManager, registry?: Registry) {
    this.#viewersGauge = registry ? new Gauge({ name: 'vigil_live_viewers', help: 'Console live-view subscriptions (camera x socket)', registers: [registry] }) : null;
    this.#fragments = registry ? new Counter({ name: 'vigil_live_fragments_total', help: 'fMP4 fragments made from live taps', registers: [registry] }) : null;
    this.#dropped = registry
      ? new Counter({ name: 'vigil_live_dropped_total', help: 'fMP4 fragments not sent to a slow viewer (up to its next keyframe)', registers: [registry] })
      : null;
  }

  /** Starts sending `cameraId` to the viewer; returns the unsubscribe function. */
  watch(cameraId: string, viewer: LiveViewer): () => void {
    const camera = this.cameras.get(cameraId);
    if (!camera) {
      viewer.text(JSON.stringify({ camera: cameraId, unavailable: `No camera ${JSON.stringify(cameraId)}` }));
      return () => {};
    }
    if (camera.settings.source.kind === 'test') {
      viewer.text(JSON.stringify({ camera: cameraId, unavailable: 'A test pattern has no encoded stream' }));
      return () => {};
    }
    let st = this.#cams.get(cameraId);
    if (!st) {
      const state: CamState = {
        camera,
        muxer: new Fmp4Muxer(),
        init: null,
        initMessage: null,
        gop: [],
        viewers: new Map(),
        listener: (s) => this.#sample(state, s),
        unavailable: null,
      };
      st = state;
      this.#cams.set(cameraId, st);
      camera.on('live', st.listener);
      camera.setLiveTap(true);
    }
    if (st.unavailable) {
      viewer.text(JSON.stringify({ camera: cameraId, unavailable: st.unavailable }));
      return () => {};
    }
    const v = { needKey: false };
    st.viewers.set(viewer, v);
    this.#viewersGauge?.inc();
    if (st.initMessage) {
      viewer.send(st.initMessage);
      for (const f of st.gop) if (!viewer.send(f)) v.needKey = true;
    } else v.needKey = true;
    const state = st;
    return () => {
      if (!state.viewers.delete(viewer)) return;
      this.#viewersGauge?.dec();
      if (state.viewers.size === 0) this.#stop(cameraId, state);
    };
  }

  #stop(cameraId: string, st: CamState): void {
    st.camera.off('live', st.listener);
    st.camera.setLiveTap(false);
    if (this.#cams.get(cameraId) === st) this.#cams.delete(cameraId);
  }

  #sample(st: CamState, s: NativeLiveEvent): void {
    const id = st.camera.id;
    try {
      if (s.caps !== undefined) st.muxer.setCaps(s.caps, s.codecData ?? null);
      const r = st.muxer.push(s);
      if (!r) return;
      if (r.initChanged || st.init !== st.muxer.init) {
        st.init = st.muxer.init;
        st.initMessage = initMessage(id, st.init!);
        st.gop = [];
        for (const [viewer, v] of st.viewers) {
          viewer.send(st.initMessage);
          v.needKey = true;
        }
      }
      this.#fragments?.inc();
      const msg = fragmentMessage(id, Number(s.wallClockNs / 1_000_000n) + Number(s.wallClockNs % 1_000_000n) / 1e6, r.fragment);
      if (s.keyframe) st.gop = [msg];
      else if (st.gop.length > 0 && st.gop.length < GOP_CAP) st.gop.push(msg);
      else st.gop = [];
      for (const [viewer, v] of st.viewers) {
        if (v.needKey && !s.keyframe) {
          this.#dropped?.inc();
          continue;
        }
        v.needKey = !viewer.send(msg);
        if (v.needKey) this.#dropped?.inc();
      }
    } catch (err) {
      // Neither H.264 nor H.265 (MJPEG, MPEG-4) or malformed: this camera cannot play through MSE here; viewers fall back to JPEG.
      const reason = err instanceof LiveFormatError ? err.message : `Live stream failed: ${(err as Error).message}`;
      st.unavailable = reason;
      for (const viewer of st.viewers.keys()) viewer.text(JSON.stringify({ camera: id, unavailable: reason }));
      this.#viewersGauge?.dec(st.viewers.size);
      st.viewers.clear();
      this.#stop(id, st);
    }
  }

  /** Cameras with a running tap (tests, metrics). */
  tapped(): string[] {
    return [...this.#cams.keys()];
  }

  close(): void {
    for (const [id, st] of [...this.#cams]) {
      st.viewers.clear();
      this.#stop(id, st);
    }
  }
}

interface LiveWsData {
  principal: Principal;
  /** The access token the socket was opened with: re-checked, so a logout (revoked session) ends the stream. */
  token: string;
  watching: Map<string, () => void>;
  closed: boolean;
}

/** How often open /live sockets have their session re-checked. */
export const LIVE_SESSION_CHECK_MS = 2000;

interface UwsLike extends WsSocket<LiveWsData> {
  send(message: Uint8Array | string, isBinary?: boolean): number;
  getBufferedAmount(): number;
  end(code?: number, message?: string): void;
}

/** `/live`: token as for `/ws` (Authorization header or the `bearer.<token>` sub-protocol), `cameras:read`, scoped. */
export function liveEndpoint(hub: LiveHub, auth: Pick<AuthService, 'verifyAccessSync'>): WsEndpoint<LiveWsData> {
  // Video keeps flowing on an open socket without any request, so the session is re-checked here: a logout or a
  // revoked session (refresh-token reuse) ends the stream within LIVE_SESSION_CHECK_MS, as does an expired token
  // (the page reconnects with its refreshed one).
  const open = new Set<UwsLike>();
  let timer: NodeJS.Timeout | null = null;
  const check = (): void => {
    for (const ws of open) {
      const data = ws.getUserData();
      try {
        auth.verifyAccessSync(data.token);
      } catch {
        open.delete(ws);
        ws.end(4001, 'Session ended');
      }
    }
  };
  return {
    pattern: '/live',
    protocol: LIVE_PROTOCOL,
    maxPayloadLength: 16 * 1024,
    maxBackpressure: LIVE_MAX_BUFFERED * 2,
    idleTimeoutS: 120,
    upgrade: (headers, offered) => {
      const fromProtocol = offered.find((p) => p.startsWith('bearer.'))?.slice('bearer.'.length);
      try {
        const token = bearerToken(headers) ?? fromProtocol;
        const principal = auth.verifyAccessSync(token);
        authorize(principal, 'cameras:read');
        return { data: { principal, token: token ?? '', watching: new Map(), closed: false } };
      } catch (err) {
        return { refuse: errorReply(err) };
      }
    },
    open: (socket) => {
      open.add(socket as UwsLike);
      if (!timer) {
        timer = setInterval(check, LIVE_SESSION_CHECK_MS);
        timer.unref();
      }
    },
    message: (socket, message, isBinary) => {
      const ws = socket as UwsLike;
      const data = ws.getUserData();
      let want: unknown;
      try {
        want = isBinary ? null : (JSON.parse(Buffer.from(message).toString('utf8')) as { watch?: unknown }).watch;
      } catch {
        want = null;
      }
      if (!Array.isArray(want) || want.length > 64 || !want.every((c) => typeof c === 'string')) {
        ws.send(JSON.stringify({ error: { code: 'E_VALIDATION', message: 'Expected {"watch": [camera ids, at most 64]}' } }), false);
        return;
      }
      const next = new Set(want as string[]);
      for (const [id, stop] of data.watching) {
        if (!next.has(id)) {
          stop();
          data.watching.delete(id);
        }
      }
      const viewer: LiveViewer = {
        send: (m) => {
          if (data.closed) return false;
          if (ws.getBufferedAmount() > LIVE_MAX_BUFFERED) return false;
          return ws.send(m, true) !== 2;
        },
        text: (t) => {
          if (!data.closed) ws.send(t, false);
        },
      };
      for (const id of next) {
        if (data.watching.has(id)) continue;
        if (!canSeeCamera(data.principal, id)) {
          viewer.text(JSON.stringify({ camera: id, error: { code: 'E_FORBIDDEN_CAMERA', message: `Camera ${JSON.stringify(id)} is outside this user's scope` } }));
          continue;
        }
        data.watching.set(id, hub.watch(id, viewer));
      }
    },
    drain: () => {},
    close: (socket) => {
      open.delete(socket as UwsLike);
      if (open.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
      const data = socket.getUserData();
      data.closed = true;
      for (const stop of data.watching.values()) stop();
      data.watching.clear();
    },
  };
}
