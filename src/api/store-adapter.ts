/**
 * Adapts the LMDB detection store (src/store, DetectionStore.queryPage) to the REST layer's DetectionQuery.
 * Typed structurally so this module does not import the store: the lead passes the store instance.
 */
import type { StoredDetection } from '../types.js';
import type { DetectionPage, DetectionQuery, DetectionQueryParams } from './sources.js';

/** The part of DetectionStore this adapter uses. */
export interface PagedDetectionSource {
  queryPage(
    q: {
      cameraIds?: readonly string[];
      startNs?: bigint;
      endNs?: bigint;
      classNames?: readonly string[];
      minConfidence?: number;
    },
    req: { pageSize: number; page?: number; withTotal?: boolean; order?: 'asc' | 'desc' },
  ): { detections: StoredDetection[]; total: number | null; page: number; pageSize: number };
}

export function detectionQueryFromStore(store: PagedDetectionSource): DetectionQuery {
  return {
    async query(p: DetectionQueryParams): Promise<DetectionPage> {
      if (p.cameraIds !== '*' && p.cameraIds.length === 0) return { detections: [], total: 0, page: p.page, page_size: p.pageSize };
      const r = store.queryPage(
        {
          ...(p.cameraIds !== '*' ? { cameraIds: p.cameraIds } : {}),
          ...(p.startNs !== undefined ? { startNs: p.startNs } : {}),
          // REST end_time is exclusive; the store's bound is inclusive
          ...(p.endNs !== undefined ? { endNs: p.endNs - 1n } : {}),
          ...(p.classes !== undefined ? { classNames: p.classes } : {}),
          ...(p.confidenceMin !== undefined ? { minConfidence: p.confidenceMin } : {}),
        },
        { pageSize: p.pageSize, page: p.page, withTotal: true, order: 'desc' },
      );
      return { detections: r.detections, total: r.total ?? 0, page: r.page, page_size: r.pageSize };
    },
  };
}
