/**
 * Camera sync: imports cameras from each configured VMS into Vigil's camera list, periodically and on demand.
 * Each run lists the source's cameras and compares them with what was imported from that source before:
 * new ones are added, changed ones (name, enabled, model, stream URLs, stream credentials) updated, and ones the
 * VMS no longer lists removed. A failed listing changes nothing (a VMS that is down does not empty the list).
 *
 * The camera list itself is an interface (CameraDirectory) the server implements over its camera manager
 * (ManagedCameraDirectory in src/integrations/runtime.ts). Credentials travel to the directory separately from the
 * camera record and never appear in status() or in errors.
 */
import { createHash } from 'node:crypto';
import { VigilError, expected } from '../../errors.js';
import { redactText } from '../../redact.js';
import { silentLogger, type Logger } from '../../log.js';
import type { RecordingResult, VmsAdapter, VmsAnalyticsEvent, VmsStreams, VmsType } from './types.js';

export interface SyncedCamera {
  /** Vigil camera id: `<source>-<vmsCameraId>`, lower case, [a-z0-9_.-]. */
  id: string;
  name: string;
  enabled: boolean;
  model: string | null;
  /** Stream URLs without credentials. */
  streams: VmsStreams;
  origin: { source: string; type: VmsType; vmsCameraId: string };
}

export interface CameraCredentials {
  username: string;
  password: string;
}

/** Vigil's camera list as the sync sees it. Methods may be sync or async. */
export interface CameraDirectory {
  /** Cameras previously imported from this source. */
  listBySource(source: string): Promise<SyncedCamera[]> | SyncedCamera[];
  /** Adds or replaces a camera; credentials are for its streams (null when none). */
  upsert(camera: SyncedCamera, credentials: CameraCredentials | null): Promise<void> | void;
  remove(cameraId: string): Promise<void> | void;
}

export interface SyncCounts {
  added: number;
  changed: number;
  removed: number;
  unchanged: number;
}

export interface SyncReport extends SyncCounts {
  source: string;
  ok: boolean;
  error: string | null;
}

export interface SourceStatus {
  source: string;
  type: VmsType;
  /** 0 = on demand only. */
  intervalMs: number;
  running: boolean;
  lastSyncAt: string | null;
  lastSuccessAt: string | null;
  nextSyncAt: string | null;
  lastError: string | null;
  cameras: number;
  lastResult: SyncCounts | null;
}

export interface SyncSource {
  adapter: VmsAdapter;
  /** Period between the end of one sync and the start of the next; 0 = on demand only (default 5 min). */
  intervalMs?: number;
}

export interface CameraSyncOptions {
  directory: CameraDirectory;
  sources: SyncSource[];
  /** Each source logs to a child named after it; messages are redacted. */
  log?: Logger;
  /** Close the adapters on close() (default true). */
  closeAdapters?: boolean;
}

/** What status() shows of a source, plus what only the sync needs. */
interface SourceState extends Omit<SourceStatus, 'source' | 'type' | 'running'> {
  adapter: VmsAdapter;
  timer: NodeJS.Timeout | null;
  inFlight: Promise<SyncReport> | null;
  credentialFingerprint: string | null;
}

export function vigilCameraId(source: string, vmsCameraId: string): string {
  return `${source}-${vmsCameraId}`.toLowerCase().replace(/[^a-z0-9_.-]/g, '_');
}

function sameCamera(a: SyncedCamera, b: SyncedCamera): boolean {
  return (
    a.name === b.name &&
    a.enabled === b.enabled &&
    a.model === b.model &&
    a.streams.main === b.streams.main &&
    a.streams.sub === b.streams.sub &&
    a.origin.type === b.origin.type &&
    a.origin.vmsCameraId === b.origin.vmsCameraId
  );
}

export class CameraSync {
  private readonly directory: CameraDirectory;
  private readonly states = new Map<string, SourceState>();
  private readonly log: Logger;
  private readonly closeAdapters: boolean;
  private started = false;
  private closed = false;

  constructor(options: CameraSyncOptions) {
    if (!options || typeof options !== 'object') throw expected('an object', 'options', options);
    const d = options.directory;
    if (!d || typeof d.listBySource !== 'function' || typeof d.upsert !== 'function' || typeof d.remove !== 'function') {
      throw expected('a CameraDirectory', 'options.directory', d);
    }
    if (!Array.isArray(options.sources)) throw expected('an array', 'options.sources', options.sources);
    this.directory = d;
    this.log = options.log ?? silentLogger;
    this.closeAdapters = options.closeAdapters ?? true;
    for (const [i, s] of options.sources.entries()) {
      const a = s?.adapter;
      if (!a || typeof a.listCameras !== 'function' || typeof a.name !== 'string') {
        throw expected('a VmsAdapter', `options.sources[${i}].adapter`, a);
      }
      if (this.states.has(a.name)) throw expected('unique source names', `options.sources[${i}].adapter.name`, a.name);
      const intervalMs = s.intervalMs ?? 300_000;
      if (!Number.isFinite(intervalMs) || intervalMs < 0 || (intervalMs > 0 && intervalMs < 1000)) {
        throw expected('0 or at least 1000 milliseconds', `options.sources[${i}].intervalMs`, intervalMs);
      }
      this.states.set(a.name, {
        adapter: a,
        intervalMs,
        timer: null,
        inFlight: null,
        lastSyncAt: null,
        lastSuccessAt: null,
        nextSyncAt: null,
        lastError: null,
        cameras: 0,
        lastResult: null,
        credentialFingerprint: null,
      });
    }
  }

  /** Starts periodic syncs: each periodic source syncs now, then every intervalMs after the previous run ends. */
  start(): void {
    this.assertOpen();
    if (this.started) return;
    this.started = true;
    for (const [name, st] of this.states) {
      if (st.intervalMs > 0) this.schedule(name, st, 0);
    }
  }

  /** Syncs one source (or all) now; joins a run already in progress. Never throws for a VMS failure. */
  async syncNow(source?: string): Promise<SyncReport[]> {
    this.assertOpen();
    if (source !== undefined && !this.states.has(source)) {
      throw new VigilError('E_NOT_FOUND', `No VMS source named ${JSON.stringify(source).slice(0, 70)}`);
    }
    const names = source !== undefined ? [source] : [...this.states.keys()];
    return Promise.all(names.map((n) => this.run(n)));
  }

  status(): SourceStatus[] {
    return [...this.states.entries()].map(([source, st]) => ({
      source,
      type: st.adapter.type,
      intervalMs: st.intervalMs,
      running: st.inFlight !== null,
      lastSyncAt: st.lastSyncAt,
      lastSuccessAt: st.lastSuccessAt,
      nextSyncAt: st.nextSyncAt,
      lastError: st.lastError,
      cameras: st.cameras,
      lastResult: st.lastResult ? { ...st.lastResult } : null,
    }));
  }

  /** The adapter of a configured source (for VMS actions). */
  adapter(source: string): VmsAdapter | undefined {
    return this.states.get(source)?.adapter;
  }

  /** VMS action for an alert on an imported camera: a recording or bookmark on the VMS it came from. */
  async recordOnVms(camera: Pick<SyncedCamera, 'origin'>, durationS: number, reason?: string): Promise<RecordingResult> {
    this.assertOpen();
    return this.adapterOf(camera).triggerRecording(camera.origin.vmsCameraId, durationS, reason);
  }

  /** Pushes an analytics event to the VMS an imported camera came from (E_VMS_UNSUPPORTED where it has no API). */
  async pushEventToVms(camera: Pick<SyncedCamera, 'origin'>, event: VmsAnalyticsEvent): Promise<void> {
    this.assertOpen();
    return this.adapterOf(camera).pushEvent(camera.origin.vmsCameraId, event);
  }

  private adapterOf(camera: Pick<SyncedCamera, 'origin'>): VmsAdapter {
    const a = this.states.get(camera?.origin?.source)?.adapter;
    if (!a) throw new VigilError('E_NOT_FOUND', `No VMS source named ${JSON.stringify(String(camera?.origin?.source)).slice(0, 70)}`);
    return a;
  }

  /** Stops the timers and (by default) closes the adapters. Idempotent; waits for runs in flight. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending: Promise<unknown>[] = [];
    for (const st of this.states.values()) {
      if (st.timer) clearTimeout(st.timer);
      st.timer = null;
      st.nextSyncAt = null;
      if (st.inFlight) pending.push(st.inFlight);
    }
    await Promise.allSettled(pending);
    if (this.closeAdapters) for (const st of this.states.values()) st.adapter.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new VigilError('E_CLOSED', 'CameraSync is closed');
  }

  private schedule(name: string, st: SourceState, delayMs: number): void {
    if (this.closed || st.intervalMs === 0) return;
    if (st.timer) clearTimeout(st.timer);
    st.nextSyncAt = new Date(Date.now() + delayMs).toISOString();
    st.timer = setTimeout(() => {
      st.timer = null;
      void this.run(name);
    }, delayMs);
    st.timer.unref();
  }

  private run(name: string): Promise<SyncReport> {
    const st = this.states.get(name)!;
    if (st.inFlight) return st.inFlight;
    st.inFlight = this.doSync(name, st).finally(() => {
      st.inFlight = null;
      if (this.started) this.schedule(name, st, st.intervalMs);
    });
    return st.inFlight;
  }

  private async doSync(name: string, st: SourceState): Promise<SyncReport> {
    const creds = st.adapter.streamCredentials();
    const counts: SyncCounts = { added: 0, changed: 0, removed: 0, unchanged: 0 };
    st.lastSyncAt = new Date().toISOString();
    try {
      const listed = await st.adapter.listCameras();
      const fingerprint = creds ? createHash('sha256').update(`${creds.username}\0${creds.password}`).digest('hex') : '';
      const credsChanged = st.credentialFingerprint !== null && st.credentialFingerprint !== fingerprint;
      const previous = new Map((await this.directory.listBySource(name)).map((c) => [c.id, c]));
      const seen = new Set<string>();
      for (const cam of listed) {
        const id = vigilCameraId(name, cam.vmsCameraId);
        if (seen.has(id)) continue;
        seen.add(id);
        const next: SyncedCamera = {
          id,
          // Names are shown to users: scrub anything credential-like a VMS may have put there (an RTSP URL...).
          name: redactText(cam.name, creds ? [creds.password] : []).slice(0, 200),
          enabled: cam.enabled,
          model: cam.model,
          streams: { main: cam.streams.main, sub: cam.streams.sub },
          origin: { source: name, type: st.adapter.type, vmsCameraId: cam.vmsCameraId },
        };
        const prev = previous.get(id);
        if (!prev) {
          await this.directory.upsert(next, creds);
          counts.added++;
        } else if (!sameCamera(prev, next) || credsChanged) {
          await this.directory.upsert(next, creds);
          counts.changed++;
        } else {
          counts.unchanged++;
        }
      }
      for (const id of previous.keys()) {
        if (!seen.has(id)) {
          await this.directory.remove(id);
          counts.removed++;
        }
      }
      st.credentialFingerprint = fingerprint;
      st.cameras = seen.size;
      st.lastResult = counts;
      st.lastError = null;
      st.lastSuccessAt = new Date().toISOString();
      this.log.child(name).info(`${seen.size} cameras (${counts.added} added, ${counts.changed} changed, ${counts.removed} removed)`);
      return { source: name, ok: true, error: null, ...counts };
    } catch (err) {
      const raw = err instanceof Error ? err.message : String(err);
      const message = redactText(raw, creds ? [creds.password] : []);
      st.lastError = message;
      this.log.child(name).warn(`sync failed: ${message}`);
      return { source: name, ok: false, error: message, ...counts };
    }
  }
}
