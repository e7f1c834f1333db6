/**
 * The set of configured cameras. Cameras are added and removed at run time without touching the others: each has
 * its own pipeline, threads and timers.
 */
import { EventEmitter } from 'node:events';
import { VigilArgumentError } from '../errors.js';
import type { CameraInfo, CameraStatus } from '../types.js';
import { Camera, type CameraCounters, type CameraSettings, type ReconnectInfo, type RecordInputState, type SegmentEvent } from './camera.js';
import type { Frame } from './frame.js';
import type { VigilPipelineError } from '../errors.js';

export interface CameraManagerEvents {
  state: [cameraId: string, state: CameraStatus, previous: CameraStatus];
  frame: [frame: Frame];
  error: [cameraId: string, error: VigilPipelineError];
  reconnecting: [cameraId: string, info: ReconnectInfo];
  segment: [event: SegmentEvent];
  /** A camera's separate record input changed state (cameras without one never emit it). */
  recordState: [cameraId: string, state: RecordInputState, previous: RecordInputState];
  recordError: [cameraId: string, error: VigilPipelineError];
  /** A camera joined the list (config, API or VMS), before it starts. */
  added: [camera: Camera];
  /** A camera left the list (after it was closed). */
  removed: [cameraId: string];
}

export class CameraManager extends EventEmitter<CameraManagerEvents> {
  #cameras = new Map<string, Camera>();

  add(settings: CameraSettings): Camera {
    if (this.#cameras.has(settings.id)) throw new VigilArgumentError(`Camera ${settings.id} already exists`);
    const camera = new Camera(settings);
    camera.on('state', (s, prev) => this.emit('state', camera.id, s, prev));
    camera.on('error', (e) => this.emit('error', camera.id, e));
    camera.on('reconnecting', (info) => this.emit('reconnecting', camera.id, info));
    camera.on('segment', (e) => this.emit('segment', e));
    camera.on('recordState', (s, prev) => this.emit('recordState', camera.id, s, prev));
    camera.on('recordError', (e) => this.emit('recordError', camera.id, e));
    camera.on('frame', (frame) => {
      if (this.listenerCount('frame') === 0) frame.release();
      else this.emit('frame', frame);
    });
    this.#cameras.set(settings.id, camera);
    this.emit('added', camera);
    camera.start();
    return camera;
  }

  remove(id: string): boolean {
    const camera = this.#cameras.get(id);
    if (!camera) return false;
    this.#cameras.delete(id);
    camera.close();
    this.emit('removed', id);
    return true;
  }

  get(id: string): Camera | undefined {
    return this.#cameras.get(id);
  }

  list(): Camera[] {
    return [...this.#cameras.values()];
  }

  info(camera: Camera): CameraInfo {
    const c = camera.counters();
    return {
      id: camera.id,
      name: camera.settings.name,
      status: camera.state,
      source: camera.displaySource,
      width: camera.frameSize?.width ?? null,
      height: camera.frameSize?.height ?? null,
      fps: Math.round(c.fps * 10) / 10,
      lastError: c.lastError?.message ?? null,
      location: camera.settings.location ?? null,
      streamUrl: camera.streamUrl,
      lastSeenMs: camera.lastSeenMs,
      origin: camera.settings.origin ?? 'config',
      detection: camera.detection,
    };
  }

  counters(): Array<{ id: string; state: CameraStatus; counters: CameraCounters }> {
    return this.list().map((c) => ({ id: c.id, state: c.state, counters: c.counters() }));
  }

  close(): void {
    for (const id of [...this.#cameras.keys()]) this.remove(id);
  }
}
