import { useEffect, useRef, useState } from 'preact/hooks';
import { blobUrl, mediaReady, refresh } from './api';
import { LivePlayer } from './live';
import { events } from './stream';
import { batchAt, type WireBox } from './wire';

export interface Rule {
  id: string;
  name?: string;
  kind: string;
  cameras?: string[];
  enabled?: boolean;
  line?: { from: [number, number]; to: [number, number]; normalized?: boolean };
  zone?: { points: Array<[number, number]>; normalized?: boolean };
  zones?: Array<{ points: Array<[number, number]>; normalized?: boolean }>;
  [k: string]: unknown;
}

/** An authorized image (JPEG routes need the bearer token, so <img src> cannot fetch them itself). */
export function AuthImage(props: { src: string; alt: string; class?: string; refreshMs?: number; onLoad?: (img: HTMLImageElement) => void }) {
  const [url, setUrl] = useState<string | null>(null);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    let current: string | null = null;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let tries = 0;
    const load = async () => {
      try {
        const u = await blobUrl(props.src + (props.refreshMs ? `${props.src.includes('?') ? '&' : '?'}t=${Date.now()}` : ''));
        if (!alive) return URL.revokeObjectURL(u);
        if (current) URL.revokeObjectURL(current);
        current = u;
        setUrl(u);
        setErr(null);
      } catch (e) {
        if (alive) setErr((e as Error).message);
        // Not there yet (a camera's first frame, a snapshot being written): try again, a little slower each time.
        if (alive && !props.refreshMs && tries++ < 10) timer = setTimeout(load, 1000 * tries);
      }
      if (alive && props.refreshMs) timer = setTimeout(load, props.refreshMs);
    };
    void load();
    return () => {
      alive = false;
      if (timer) clearTimeout(timer);
      if (current) URL.revokeObjectURL(current);
    };
  }, [props.src, props.refreshMs]);
  if (!url) return <div class={`placeholder ${props.class ?? ''}`} role="img" aria-label={props.alt}>{err ?? '…'}</div>;
  return <img src={url} alt={props.alt} class={props.class} onLoad={(e) => props.onLoad?.(e.currentTarget)} />;
}

/** Where a frame of w x h lands inside an element of cw x ch with object-fit: contain. */
export function fitRect(w: number, h: number, cw: number, ch: number): { x: number; y: number; s: number } {
  const s = Math.min(cw / w, ch / h);
  return { x: (cw - w * s) / 2, y: (ch - h * s) / 2, s };
}

function geometryPx(points: Array<[number, number]>, normalized: boolean | undefined, fw: number, fh: number): Array<[number, number]> {
  return points.map(([x, y]) => (normalized ? [x * fw, y * fh] : [x, y]));
}

/** Live video of one camera (fMP4 over /live into MSE) with detection boxes and rule geometry over it; JPEG fallback. */
export function LiveView(props: { cameraId: string; rules?: Rule[]; large?: boolean }) {
  const video = useRef<HTMLVideoElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const [fallback, setFallback] = useState<string | null>(null);
  // Soft: no picture yet (slow start): the JPEG covers the video until its first frame. Hard: the stream cannot
  // play here (codec, no encoded stream): the video goes and the JPEG stays.
  const [hard, setHard] = useState(false);
  const player = useRef<LivePlayer | null>(null);
  useEffect(() => {
    if (!video.current) return;
    setFallback(null);
    setHard(false);
    const p = new LivePlayer(props.cameraId, video.current, (reason) => (setFallback(reason), setHard(true)));
    player.current = p;
    // No first picture in 8 s (no encoded stream, nothing arrives): show the JPEG instead.
    const t = setTimeout(() => {
      if (video.current && video.current.readyState < 2) setFallback((f) => f ?? 'No live video yet');
    }, 8000);
    return () => {
      clearTimeout(t);
      p.close();
      player.current = null;
    };
  }, [props.cameraId]);
  useEffect(() => {
    let raf = 0;
    let lastBoxes: WireBox[] = [];
    const draw = () => {
      raf = requestAnimationFrame(draw);
      const c = canvas.current;
      const v = video.current;
      if (!c || !v) return;
      const cw = c.clientWidth;
      const ch = c.clientHeight;
      if (c.width !== cw || c.height !== ch) {
        c.width = cw;
        c.height = ch;
      }
      const ctx = c.getContext('2d')!;
      ctx.clearRect(0, 0, cw, ch);
      const list = events.batches.get(props.cameraId) ?? [];
      const last = list[list.length - 1];
      const fw = last?.frameWidth || v.videoWidth || 0;
      const fh = last?.frameHeight || v.videoHeight || 0;
      if (!fw || !fh) return;
      const r = fitRect(fw, fh, cw, ch);
      const px = (x: number, y: number): [number, number] => [r.x + x * r.s, r.y + y * r.s];
      // Rule geometry: zones filled, tripwires as lines.
      ctx.lineWidth = 2;
      for (const rule of props.rules ?? []) {
        if (rule.cameras && !rule.cameras.includes(props.cameraId)) continue;
        ctx.strokeStyle = 'rgba(255,180,0,0.9)';
        ctx.fillStyle = 'rgba(255,180,0,0.15)';
        const polys = [rule.zone, ...(rule.zones ?? [])].filter((z): z is NonNullable<Rule['zone']> => !!z);
        for (const z of polys) {
          const pts = geometryPx(z.points, z.normalized, fw, fh).map(([x, y]) => px(x, y));
          ctx.beginPath();
          pts.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
          ctx.closePath();
          ctx.fill();
          ctx.stroke();
        }
        if (rule.line) {
          const [a, b] = geometryPx([rule.line.from, rule.line.to], rule.line.normalized, fw, fh).map(([x, y]) => px(x, y));
          ctx.beginPath();
          ctx.moveTo(a![0], a![1]);
          ctx.lineTo(b![0], b![1]);
          ctx.stroke();
        }
      }
      // Boxes of the batch shown with the frame on screen (by wall-clock time), else the newest.
      const wall = fallback ? Date.now() : (player.current?.wallClockNow() ?? Date.now());
      const batch = batchAt(list, wall, 600) ?? (fallback ? last : null);
      if (!batch) return;
      lastBoxes = batch.detections.map((d) => d.box);
      ctx.font = '12px system-ui, sans-serif';
      for (const d of batch.detections) {
        const [x1, y1] = px(d.box.x1, d.box.y1);
        const [x2, y2] = px(d.box.x2, d.box.y2);
        ctx.strokeStyle = d.label === 'person' ? '#3ddc84' : '#4aa3ff';
        ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
        const text = `${d.label}${d.trackId >= 0 ? ` #${d.trackId}` : ''} ${(d.confidence * 100).toFixed(0)}%`;
        const tw = ctx.measureText(text).width + 6;
        ctx.fillStyle = 'rgba(0,0,0,0.65)';
        ctx.fillRect(x1, Math.max(0, y1 - 16), tw, 16);
        ctx.fillStyle = '#fff';
        ctx.fillText(text, x1 + 3, Math.max(12, y1 - 4));
      }
      // For tests and tooling: what is drawn now.
      c.dataset['boxes'] = String(lastBoxes.length);
      c.dataset['labels'] = [...new Set(batch.detections.map((d) => d.label))].join(',');
    };
    raf = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(raf);
  }, [props.cameraId, props.rules, fallback]);
  return (
    <div class={`live ${props.large ? 'large' : ''}`} data-camera={props.cameraId}>
      <video
        ref={video}
        muted
        playsInline
        autoPlay
        aria-label={`Live video of ${props.cameraId}`}
        hidden={hard}
        onLoadedData={() => !hard && setFallback(null)}
      />
      {fallback !== null && <AuthImage src={`/cameras/${encodeURIComponent(props.cameraId)}/latest.jpg`} alt={`Latest frame of ${props.cameraId}`} refreshMs={1000} class={hard ? 'fallback' : 'fallback over'} />}
      <canvas ref={canvas} class="overlay" aria-hidden="true" />
      {fallback !== null && <span class="badge" title={fallback}>JPEG</span>}
      {fallback !== null && (
        <p class="fallback-note" role="status">
          {fallback}: showing the latest picture once a second.
        </p>
      )}
    </div>
  );
}

/**
 * Plays a clip by URL from `startS`: the browser fetches it itself with HTTP Range requests (so seeking reads only
 * what it needs), authorized by the media cookie (src/api.ts mediaReady), never downloaded whole as a blob.
 */
export function ClipPlayer(props: { src: string; startS: number; onClose: () => void; title?: string }) {
  const [ready, setReady] = useState(false);
  const [err, setErr] = useState<string | null>(null);
  const retried = useRef(false);
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    let alive = true;
    retried.current = false;
    setReady(false);
    void mediaReady().then(() => alive && setReady(true));
    return () => {
      alive = false;
    };
  }, [props.src]);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && props.onClose();
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="modal" role="dialog" aria-label={props.title ? `Clip of ${props.title}` : 'Clip'} onClick={(e) => e.target === e.currentTarget && props.onClose()}>
      <div class="modal-body">
        {err && <p class="error" role="alert">{err}</p>}
        {!ready && <p>Loading clip…</p>}
        {ready && (
          <video
            ref={ref}
            class="clip"
            src={props.src}
            preload="metadata"
            controls
            autoPlay
            muted
            onLoadedMetadata={(e) => {
              e.currentTarget.currentTime = Math.min(props.startS, Math.max(0, e.currentTarget.duration - 0.5));
            }}
            onSeeked={(e) => {
              // Where playback was put (tests and tooling read it; currentTime moves on as it plays).
              e.currentTarget.dataset['seekedTo'] ??= String(e.currentTarget.currentTime);
            }}
            onError={async (e) => {
              const v = e.currentTarget;
              // An expired media cookie: renew the session (and with it the cookie) once, then try again.
              if (!retried.current) {
                retried.current = true;
                if (await refresh()) {
                  await mediaReady();
                  v.load();
                  return;
                }
              }
              setErr(`The clip could not be played${v.error?.message ? ` (${v.error.message})` : ''}`);
            }}
          />
        )}
        <button onClick={props.onClose} autoFocus>
          Close
        </button>
      </div>
    </div>
  );
}
