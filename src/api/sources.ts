/**
 * The data sources the REST API reads, as small interfaces the lead plugs the real modules into (camera manager,
 * detection store), with in-memory implementations for tests and for running the server before those land.
 */
import type { CameraInfo, CameraStatus, StoredDetection } from '../types.js';

export interface CameraDirectory {
  list(): CameraInfo[] | Promise<CameraInfo[]>;
  get(id: string): CameraInfo | undefined | Promise<CameraInfo | undefined>;
}

/**
 * The one description of a `GET /detections` query (the LMDB adapter, src/store/api-source.ts, takes it too).
 * Semantics: newest first; `endNs` exclusive; `cameraIds` '*' = every camera, an empty list = no camera.
 */
export interface DetectionQueryParams {
  /** Cameras to include: the caller's request narrowed to its scope ('*' = all, [] = none). */
  cameraIds: readonly string[] | '*';
  /** Inclusive, ns since the Unix epoch. */
  startNs?: bigint;
  /** Exclusive, ns since the Unix epoch. */
  endNs?: bigint;
  confidenceMin?: number;
  /** Class names (or numeric ids as strings) to include. */
  classes?: readonly string[];
  /** 1-based */
  page: number;
  pageSize: number;
}

export interface DetectionPage {
  detections: StoredDetection[];
  total: number;
  page: number;
  page_size: number;
}

export interface DetectionQuery {
  query(params: DetectionQueryParams): Promise<DetectionPage>;
}

export class MemoryCameraDirectory implements CameraDirectory {
  private readonly cams = new Map<string, CameraInfo>();
  constructor(cameras: CameraInfo[] = []) {
    for (const c of cameras) this.cams.set(c.id, c);
  }
  set(c: CameraInfo): void {
    this.cams.set(c.id, c);
  }
  setStatus(id: string, status: CameraStatus): void {
    const c = this.cams.get(id);
    if (c) this.cams.set(id, { ...c, status });
  }
  list(): CameraInfo[] {
    return [...this.cams.values()];
  }
  get(id: string): CameraInfo | undefined {
    return this.cams.get(id);
  }
}

/** Linear scan over an array, newest first: for tests and small demos only. */
export class MemoryDetectionQuery implements DetectionQuery {
  constructor(readonly rows: StoredDetection[] = []) {}
  add(...rows: StoredDetection[]): void {
    this.rows.push(...rows);
  }
  async query(p: DetectionQueryParams): Promise<DetectionPage> {
    const cams = p.cameraIds === '*' ? null : new Set(p.cameraIds);
    const classes = p.classes ? new Set(p.classes) : null;
    const match = this.rows.filter(
      (d) =>
        (cams === null || cams.has(d.cameraId)) &&
        (p.startNs === undefined || d.timestampNs >= p.startNs) &&
        (p.endNs === undefined || d.timestampNs < p.endNs) &&
        (p.confidenceMin === undefined || d.confidence >= p.confidenceMin) &&
        (classes === null || classes.has(d.className) || classes.has(String(d.classId))),
    );
    match.sort((a, b) => (a.timestampNs === b.timestampNs ? Number(b.seq - a.seq) : b.timestampNs > a.timestampNs ? 1 : -1));
    const start = (p.page - 1) * p.pageSize;
    return { detections: match.slice(start, start + p.pageSize), total: match.length, page: p.page, page_size: p.pageSize };
  }
}

/** Adapts anything with list()/get()/info() (the camera manager, src/camera/manager.ts) to a CameraDirectory. */
export function cameraDirectoryFrom<T>(manager: {
  list(): T[];
  get(id: string): T | undefined;
  info(camera: T): CameraInfo;
}): CameraDirectory {
  return {
    list: () => manager.list().map((c) => manager.info(c)),
    get: (id) => {
      const c = manager.get(id);
      return c === undefined ? undefined : manager.info(c);
    },
  };
}
