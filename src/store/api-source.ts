/**
 * Adapter from the REST layer's detection source interface (src/api/sources.ts: `DetectionQuery.query(params)`)
 * to the LMDB store. The parameter and page types are the API's own (one definition, in src/api/sources.ts).
 *
 * Semantics kept from the API's in-memory reference: newest first; `endNs` exclusive; `cameraIds` '*' = every
 * camera, an empty list = no camera (nothing is returned, never "all"); `classes` entries match a class name or,
 * when numeric, a class id.
 */
import type { DetectionPage, DetectionQuery as ApiDetectionQuery, DetectionQueryParams } from '../api/sources.js';
import type { DetectionQuery, DetectionStore } from './detection-store.js';

export class StoreDetectionQuery implements ApiDetectionQuery {
  constructor(private readonly store: DetectionStore) {}

  async query(p: DetectionQueryParams): Promise<DetectionPage> {
    const empty: DetectionPage = { detections: [], total: 0, page: p.page, page_size: p.pageSize };
    if (p.cameraIds !== '*' && p.cameraIds.length === 0) return empty;
    const q: DetectionQuery = {};
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
