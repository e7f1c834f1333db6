/**
 * What the REST API reads cameras and detections from, as small interfaces: the server plugs in the camera
 * manager (cameraListingFrom) and the detection store (StoreDetectionSource); tests plug in in-memory ones
 * (test/helpers/api-sources.ts).
 */
import type { DetectionStore } from '../store/index.js';
import type { CameraInfo, StoredDetection } from '../types.js';

/** The cameras the API lists (read-only; the VMS sync's writable list is integrations/vms CameraDirectory). */
export interface CameraListing {
  list(): CameraInfo[] | Promise<CameraInfo[]>;
  get(id: string): CameraInfo | undefined | Promise<CameraInfo | undefined>;
}

/**
 * One `GET /detections` request. Semantics: newest first; `endNs` exclusive; `cameraIds` '*' = every camera, an
 * empty list = no camera.
 */
export interface DetectionRequest {
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

export interface DetectionResponsePage {
  detections: StoredDetection[];
  total: number;
  page: number;
  page_size: number;
}

/** Where `GET /detections` reads from. */
export interface DetectionSource {
  query(request: DetectionRequest): Promise<DetectionResponsePage>;
}

/** Adapts anything with list()/get()/info() (the camera manager, src/camera/manager.ts) to a CameraListing. */
export function cameraListingFrom<T>(manager: { list(): T[]; get(id: string): T | undefined; info(camera: T): CameraInfo }): CameraListing {
  return {
    list: () => manager.list().map((c) => manager.info(c)),
    get: (id) => {
      const c = manager.get(id);
      return c === undefined ? undefined : manager.info(c);
    },
  };
}

/** `GET /detections` from the LMDB store: the request's exclusive end and class ids mapped to the store's query. */
export class StoreDetectionSource implements DetectionSource {
  constructor(private readonly store: DetectionStore) {}

  async query(p: DetectionRequest): Promise<DetectionResponsePage> {
    const empty: DetectionResponsePage = { detections: [], total: 0, page: p.page, page_size: p.pageSize };
    if (p.cameraIds !== '*' && p.cameraIds.length === 0) return empty;
    const q: Parameters<DetectionStore['queryPage']>[0] = {};
    if (p.cameraIds !== '*') q.cameraIds = p.cameraIds;
    if (p.startNs !== undefined) q.startNs = p.startNs;
    if (p.endNs !== undefined) {
      if (p.endNs <= 0n) return empty;
      q.endNs = p.endNs - 1n;
    }
    if (p.confidenceMin !== undefined) q.minConfidence = p.confidenceMin;
    if (p.classes !== undefined) {
      const names = new Set<string>();
      for (const c of p.classes) {
        names.add(c);
        if (/^\d{1,5}$/.test(c)) for (const n of this.store.classNamesForId(Number(c))) names.add(n);
      }
      if (names.size === 0) return empty;
      q.classNames = [...names];
    }
    const r = this.store.queryPage(q, { page: p.page, pageSize: p.pageSize, order: 'desc' });
    return { detections: r.detections, total: r.total ?? 0, page: r.page, page_size: r.pageSize };
  }
}
