/**
 * `GET /cameras/{id}/latest.jpg`: the camera's newest analysed frame as a JPEG, for the console's grid where live
 * video cannot play (no encoded stream, a codec MSE lacks) and for drawing rules. Frames are captured only while
 * someone asks (a request in the last 5 s) and at most once per 900 ms per camera, from frames already decoded for
 * analysis (no extra decode), encoded natively off the JS thread. A camera whose frames are all held back by the
 * motion gate keeps its last picture (nothing moved); `x-frame-age-ms` says how old it is.
 */
import type { Camera } from '../camera/camera.js';
import type { CameraManager } from '../camera/manager.js';
import type { Frame } from '../camera/frame.js';

interface Latest {
  jpeg: Buffer | null;
  atMs: number;
  wantedAtMs: number;
  capturing: boolean;
  waiters: Array<() => void>;
}

export class LatestFrames {
  readonly #cams = new Map<string, Latest>();
  readonly #onFrame: (frame: Frame) => void;

  constructor(private readonly cameras: CameraManager, private readonly opts: { maxWidth?: number; quality?: number } = {}) {
    this.#onFrame = (frame) => this.#frame(frame);
    // First in line, so the frame is captured before the analytics listener can release it.
    cameras.prependListener('frame', this.#onFrame);
  }

  #frame(frame: Frame): void {
    const l = this.#cams.get(frame.cameraId);
    const now = Date.now();
    if (l && !l.capturing && now - l.wantedAtMs < 5000 && now - l.atMs >= 900) {
      const src = frame.captureSource();
      if (src) {
        l.capturing = true;
        src
          .encodeJpeg({ quality: this.opts.quality ?? 70, maxWidth: this.opts.maxWidth ?? 960 })
          .then((jpeg) => {
            l.jpeg = jpeg;
            l.atMs = Date.now();
          })
          .catch(() => {
            /* a failed encode keeps the previous picture */
          })
          .finally(() => {
            src.close();
            l.capturing = false;
            for (const w of l.waiters.splice(0)) w();
          });
      }
    }
    // Alone (detection off): nobody else releases it.
    if (this.cameras.listenerCount('frame') === 1) frame.release();
  }

  /** The newest JPEG (waiting up to `waitMs` for a first one); null when the camera has given no frame yet. */
  async latest(camera: Camera, waitMs = 2000): Promise<{ jpeg: Buffer; ageMs: number } | null> {
    let l = this.#cams.get(camera.id);
    if (!l) {
      l = { jpeg: null, atMs: 0, wantedAtMs: 0, capturing: false, waiters: [] };
      this.#cams.set(camera.id, l);
    }
    l.wantedAtMs = Date.now();
    if (!l.jpeg) {
      const entry = l;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        t.unref();
        entry.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return l.jpeg ? { jpeg: l.jpeg, ageMs: Date.now() - l.atMs } : null;
  }

  forget(cameraId: string): void {
    this.#cams.delete(cameraId);
  }

  close(): void {
    this.cameras.off('frame', this.#onFrame);
    for (const l of this.#cams.values()) for (const w of l.waiters.splice(0)) w();
    this.#cams.clear();
  }
}
