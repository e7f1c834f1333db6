/** In-memory camera listing and detection source for the API tests (the reference semantics of GET /detections). */
import type { CameraListing, DetectionRequest, DetectionResponsePage, DetectionSource } from '../../src/api/sources.js';
import type { CameraInfo, CameraStatus, StoredDetection } from '../../src/types.js';

export class MemoryCameraListing implements CameraListing {
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

/** Linear scan over an array, newest first. */
export class MemoryDetectionSource implements DetectionSource {
  constructor(readonly rows: StoredDetection[] = []) {}
  add(...rows: StoredDetection[]): void {
    this.rows.push(...rows);
  }
  async query(p: DetectionRequest): Promise<DetectionResponsePage> {
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
