/**
 * The query planner: camera/time range scans merged across cameras in (timestamp, seq) order, pages by cursor or
 * by page number, and exact totals.
 *
 * Totals: when the page's own scan ran to the end of the range (page 1 of a range that fits in the page, the common
 * dashboard query), the total is what it saw: nothing is read twice. Otherwise the range is cut into time-ordered
 * segments whose counts add up to the total: every whole counter bucket from `counts`, the partial buckets at both
 * ends by scanning the part in range (or the bucket's counter minus a scan of the part outside, when that is
 * smaller). Page numbers skip whole segments the same way, so at most one bucket's rows are stepped over.
 * Rows are read through row-reader.ts (no Buffer per row).
 */
import { expected } from '../errors.js';
import type { StoredDetection } from '../types.js';
import { counterKey, decodeCounterKey, detKey, gridBin, keyAfter, keyBefore, sumBins, U64_MAX } from './codec.js';
import { isNonNegInt, type CameraEntry, type StoreLayout } from './layout.js';
import type { RowProbe } from './row-reader.js';
import type { DetectionPage, DetectionQuery, PageRequest } from './types.js';

interface Segment {
  fromNs: bigint;
  toNs: bigint;
  count: number;
}

type Matcher = ((d: StoredDetection | RowProbe) => boolean) | null;

function cmpRows(a: StoredDetection, b: StoredDetection): number {
  return a.timestampNs < b.timestampNs ? -1 : a.timestampNs > b.timestampNs ? 1 : a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0;
}

/** K-way merge of per-camera ordered rows: ascending (timestamp, seq) for `direction` 1, descending for -1. */
function mergeRows(sources: Iterable<{ value: StoredDetection }>[], direction: 1 | -1): Iterable<StoredDetection> {
  return sources.length === 1 ? unwrap(sources[0]!) : merge(sources, direction);
}

/** One camera's rows as detections, through one reused iterator result (nothing allocated per row here). */
function unwrap(source: Iterable<{ value: StoredDetection }>): Iterable<StoredDetection> {
  return {
    [Symbol.iterator]: () => {
      const it = source[Symbol.iterator]();
      const result = { done: false as boolean, value: undefined as unknown as StoredDetection };
      return {
        next: () => {
          const n = it.next();
          if (n.done) return { done: true, value: undefined };
          result.value = n.value.value;
          return result;
        },
        return: (v?: unknown) => {
          it.return?.();
          return { done: true, value: v };
        },
      } as Iterator<StoredDetection>;
    },
  };
}

function* merge(sources: Iterable<{ value: StoredDetection }>[], direction: 1 | -1): Generator<StoredDetection> {
  const iters = sources.map((s) => s[Symbol.iterator]());
  // A page ends the merge early: the cameras' range iterators are returned so their LMDB read transaction is not
  // pinned until garbage collection (see LogReader.readLog).
  try {
    const heads: (StoredDetection | null)[] = iters.map((it) => {
      const n = it.next();
      return n.done ? null : n.value.value;
    });
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i];
        if (h && (best < 0 || cmpRows(h, heads[best]!) * direction < 0)) best = i;
      }
      if (best < 0) return;
      const row = heads[best]!;
      const n = iters[best]!.next();
      heads[best] = n.done ? null : n.value.value;
      yield row;
    }
  } finally {
    for (const it of iters) it.return?.();
  }
}

export class QueryPlanner {
  constructor(private readonly layout: StoreLayout) {}

  selectCameras(q: DetectionQuery): CameraEntry[] {
    if (!q.cameraIds || q.cameraIds.length === 0) return [...this.layout.camerasById.values()];
    const out: CameraEntry[] = [];
    for (const id of new Set(q.cameraIds)) {
      const c = this.layout.camerasById.get(id);
      if (c) out.push(c);
    }
    return out;
  }

  validateQuery(q: DetectionQuery): void {
    if (typeof q !== 'object' || q === null) throw expected('a DetectionQuery', 'query', q);
    if (q.cameraIds !== undefined && !(Array.isArray(q.cameraIds) && q.cameraIds.every((c) => typeof c === 'string'))) throw expected('an array of camera ids', 'query.cameraIds', q.cameraIds);
    if (q.startNs !== undefined && (typeof q.startNs !== 'bigint' || q.startNs < 0n)) throw expected('a non-negative bigint (ns)', 'query.startNs', q.startNs);
    if (q.endNs !== undefined && (typeof q.endNs !== 'bigint' || q.endNs < 0n)) throw expected('a non-negative bigint (ns)', 'query.endNs', q.endNs);
    if (q.minConfidence !== undefined && (typeof q.minConfidence !== 'number' || !(q.minConfidence >= 0 && q.minConfidence <= 1))) throw expected('a number from 0 to 1', 'query.minConfidence', q.minConfidence);
    if (q.className !== undefined && typeof q.className !== 'string') throw expected('a class name', 'query.className', q.className);
    if (q.classNames !== undefined && !(Array.isArray(q.classNames) && q.classNames.every((c) => typeof c === 'string'))) throw expected('an array of class names', 'query.classNames', q.classNames);
    if (q.trackId !== undefined && !Number.isInteger(q.trackId)) throw expected('an integer track id', 'query.trackId', q.trackId);
  }

  private bounds(q: DetectionQuery): { startNs: bigint; endNs: bigint } {
    const startNs = q.startNs ?? 0n;
    const endNs = q.endNs === undefined || q.endNs > U64_MAX ? U64_MAX : q.endNs;
    return { startNs, endNs };
  }

  /** The class filter as one set of names, or null for "any class". */
  private classSet(q: DetectionQuery): Set<string> | null {
    if (q.className === undefined && q.classNames === undefined) return null;
    const set = new Set(q.classNames ?? []);
    if (q.className !== undefined) set.add(q.className);
    return set;
  }

  /** null: every row matches. */
  private matcher(q: DetectionQuery): Matcher {
    const classes = this.classSet(q);
    const minConf = q.minConfidence;
    const trackId = q.trackId;
    if (classes === null && minConf === undefined && trackId === undefined) return null;
    return (d) => (trackId === undefined || d.trackId === trackId) && (classes === null || classes.has(d.className)) && (minConf === undefined || d.confidence >= minConf);
  }

  /** Rows of the selected cameras with startKey <= key <= (endNs, max), oldest first. */
  scan(cameras: CameraEntry[], startKey: Buffer, endNs: bigint): Iterable<StoredDetection> {
    const end = endNs < U64_MAX ? detKey(endNs + 1n, 0n) : undefined;
    return mergeRows(cameras.map((c) => c.reader.rows(end ? { start: startKey, end } : { start: startKey })), 1);
  }

  /** Rows of the selected cameras with detKey(startNs, 0) <= key <= highKey, newest first. */
  private scanDesc(cameras: CameraEntry[], highKey: Buffer, startNs: bigint): Iterable<StoredDetection> {
    const low = keyBefore(detKey(startNs, 0n));
    return mergeRows(cameras.map((c) => c.reader.rows(low ? { start: highKey, end: low, reverse: true } : { start: highKey, reverse: true })), -1);
  }

  /** Matching rows in [fromNs, toNs], camera by camera (a count needs no merge), nothing allocated per row. */
  private countByScan(match: Matcher, cameras: CameraEntry[], fromNs: bigint, toNs: bigint): number {
    const start = detKey(fromNs, 0n);
    const end = toNs < U64_MAX ? detKey(toNs + 1n, 0n) : undefined;
    let n = 0;
    for (const c of cameras) {
      for (const { value } of c.reader.probe(end ? { start, end } : { start })) if (match === null || match(value)) n++;
    }
    return n;
  }

  /**
   * Time-ordered segments whose counts add up to the total (see the file comment). Null when the filters cannot be
   * answered from counters (a track id filter, or a confidence threshold that is not a multiple of 0.01).
   */
  private segments(q: DetectionQuery, cameras: CameraEntry[]): Segment[] | null {
    if (q.trackId !== undefined) return null;
    const minBin = gridBin(q.minConfidence ?? 0);
    if (minBin === null) return null;
    const classes = this.classSet(q);
    let classNos: Set<number> | null = null;
    if (classes) {
      classNos = new Set([...classes].map((c) => this.layout.classNoByName.get(c)).filter((n): n is number => n !== undefined));
      if (classNos.size === 0) return [];
    }
    const { startNs, endNs } = this.bounds(q);
    if (startNs > endNs || cameras.length === 0) return [];
    const B = this.layout.bucketNs;
    const match = this.matcher(q);
    /** Counter totals per bucket in [fromBucket, toBucket], summed over the cameras. */
    const fromCounters = (fromBucket: bigint, toBucket: bigint): Map<bigint, number> => {
      const perBucket = new Map<bigint, number>();
      for (const camera of cameras) {
        const range = { start: counterKey(camera.no, fromBucket, 0), end: counterKey(camera.no, toBucket + 1n, 0) };
        for (const { key, value } of this.layout.counts.getRange(range)) {
          const k = decodeCounterKey(key);
          if (classNos !== null && !classNos.has(k.classNo)) continue;
          const n = sumBins(value, minBin);
          if (n > 0) perBucket.set(k.bucket, (perBucket.get(k.bucket) ?? 0) + n);
        }
      }
      return perBucket;
    };
    /** Count in [from, to] inside one bucket: scan it, or scan the smaller complement and subtract from the counter. */
    const partial = (from: bigint, to: bigint): number => {
      const b = from / B;
      const bs = b * B;
      const be = bs + B - 1n > U64_MAX ? U64_MAX : bs + B - 1n;
      if ((to - from + 1n) * 2n <= B) return this.countByScan(match, cameras, from, to);
      let n = fromCounters(b, b).get(b) ?? 0;
      if (from > bs) n -= this.countByScan(match, cameras, bs, from - 1n);
      if (to < be) n -= this.countByScan(match, cameras, to + 1n, be);
      return n;
    };
    const bStart = startNs / B;
    const bEnd = endNs / B;
    if (bStart === bEnd) return [{ fromNs: startNs, toNs: endNs, count: partial(startNs, endNs) }];
    const out: Segment[] = [];
    let firstFull = bStart;
    let lastFull = bEnd;
    if (startNs !== bStart * B) {
      const toNs = (bStart + 1n) * B - 1n;
      out.push({ fromNs: startNs, toNs, count: partial(startNs, toNs) });
      firstFull = bStart + 1n;
    }
    let tail: Segment | null = null;
    if (endNs !== (bEnd + 1n) * B - 1n) {
      const fromNs = bEnd * B;
      tail = { fromNs, toNs: endNs, count: partial(fromNs, endNs) };
      lastFull = bEnd - 1n;
    }
    if (firstFull <= lastFull) {
      const perBucket = fromCounters(firstFull, lastFull);
      for (const b of [...perBucket.keys()].sort((a, c) => (a < c ? -1 : a > c ? 1 : 0))) {
        out.push({ fromNs: b * B, toNs: (b + 1n) * B - 1n, count: perBucket.get(b)! });
      }
    }
    if (tail) out.push(tail);
    return out.filter((x) => x.count > 0);
  }

  private totalOf(q: DetectionQuery, segs: Segment[] | null, cameras: CameraEntry[]): number {
    if (segs) return segs.reduce((s, x) => s + x.count, 0);
    const { startNs, endNs } = this.bounds(q);
    return startNs > endNs ? 0 : this.countByScan(this.matcher(q), cameras, startNs, endNs);
  }

  /** Exact number of detections matching the query; from the counters where possible. */
  count(q: DetectionQuery): number {
    this.validateQuery(q);
    const cameras = this.selectCameras(q);
    return this.totalOf(q, this.segments(q, cameras), cameras);
  }

  /**
   * One page of detections in (timestamp, seq) order, oldest first, or newest first with `order: 'desc'`. With a
   * cursor the page continues right after the previous one; with `page` the start is found through the counters
   * (whole buckets are skipped; at most one bucket's rows are stepped over), except for filters the counters cannot
   * answer (track id, a confidence threshold off the 0.01 grid), where the rows before the page are scanned.
   */
  queryPage(q: DetectionQuery, req: PageRequest): DetectionPage {
    this.validateQuery(q);
    if (typeof req !== 'object' || req === null) throw expected('a PageRequest', 'request', req);
    if (!isNonNegInt(req.pageSize, 10_000) || req.pageSize < 1) throw expected('an integer from 1 to 10000', 'pageSize', req.pageSize);
    const order = req.order ?? 'asc';
    if (order !== 'asc' && order !== 'desc') throw expected("'asc' or 'desc'", 'order', req.order);
    const desc = order === 'desc';
    const cameras = this.selectCameras(q);
    const { startNs, endNs } = this.bounds(q);
    const withTotal = req.withTotal ?? true;
    let segs: Segment[] | null | undefined;
    const segments = (): Segment[] | null => (segs === undefined ? (segs = this.segments(q, cameras)) : segs);
    let page = 1;
    // asc: scan upwards from lowKey; desc: downwards from highKey (both inclusive)
    let lowKey = detKey(startNs, 0n);
    let highKey = detKey(endNs, U64_MAX);
    let skip = 0;
    /** Rows of the range before this page's scan starts (known when the scan starts at the range's edge). */
    let before: number | null = 0;
    const empty = (total: number | null): DetectionPage => ({ detections: [], total, page, pageSize: req.pageSize, nextCursor: null });
    if (req.cursor) {
      const c = decodeCursor(req.cursor);
      page = c.page + 1;
      before = null;
      if (c.desc !== desc) throw expected(`a cursor made with order '${order}'`, 'cursor', req.cursor);
      const next = desc ? keyBefore(c.key) : keyAfter(c.key);
      if (!next) return empty(withTotal ? this.totalOf(q, segments(), cameras) : null);
      if (desc && Buffer.compare(next, highKey) < 0) highKey = next;
      if (!desc && Buffer.compare(next, lowKey) > 0) lowKey = next;
    } else {
      page = req.page ?? 1;
      if (!isNonNegInt(page, Number.MAX_SAFE_INTEGER) || page < 1) throw expected('a positive integer', 'page', req.page);
      let offset = (page - 1) * req.pageSize;
      if (offset > 0 && segments()) {
        let seen = 0;
        let found = false;
        for (const s of desc ? [...segs!].reverse() : segs!) {
          if (seen + s.count > offset) {
            if (desc) highKey = detKey(s.toNs, U64_MAX);
            else lowKey = detKey(s.fromNs, 0n);
            skip = offset - seen;
            found = true;
            break;
          }
          seen += s.count;
        }
        if (!found) return empty(seen);
        before = seen;
        offset = 0;
      }
      if (offset > 0) skip = offset;
    }
    const detections: StoredDetection[] = [];
    let more = false;
    let skipped = 0;
    if (startNs <= endNs && cameras.length > 0) {
      const match = this.matcher(q);
      const rows = desc ? this.scanDesc(cameras, highKey, startNs) : this.scan(cameras, lowKey, endNs);
      for (const d of rows) {
        if (match !== null && !match(d)) continue;
        if (skip > 0) {
          skip--;
          skipped++;
          continue;
        }
        if (detections.length === req.pageSize) {
          more = true;
          break;
        }
        detections.push(d);
      }
    }
    let total: number | null = null;
    if (withTotal) {
      // the scan reached the end of the range: everything matching is before it, skipped, or on this page
      total = !more && before !== null ? before + skipped + detections.length : this.totalOf(q, segments(), cameras);
    }
    const last = detections[detections.length - 1];
    return { detections, total, page, pageSize: req.pageSize, nextCursor: more && last ? encodeCursor(detKey(last.timestampNs, last.seq), page, desc) : null };
  }
}

function encodeCursor(key: Buffer, page: number, desc: boolean): string {
  const b = Buffer.allocUnsafe(21);
  key.copy(b, 0, 0, 16);
  b.writeUInt32BE(page, 16);
  b.writeUInt8(desc ? 1 : 0, 20);
  return b.toString('base64url');
}

function decodeCursor(cursor: string): { key: Buffer; page: number; desc: boolean } {
  const b = typeof cursor === 'string' && /^[A-Za-z0-9_-]{28}$/.test(cursor) ? Buffer.from(cursor, 'base64url') : null;
  if (!b || b.length !== 21 || b[20]! > 1) throw expected('a cursor returned by a previous page', 'cursor', cursor);
  return { key: b.subarray(0, 16), page: b.readUInt32BE(16), desc: b[20] === 1 };
}
