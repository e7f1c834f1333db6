/**
 * The 1000-row camera/time range query's tail: today's query path (src/store/query.ts) beside the one before it
 * (copied below as `LegacyPlanner`: binary handles, a Buffer per key and value, the total from a second scan), on
 * the same store, in one run.
 *
 *   node --import tsx bench/store-range.ts
 *
 * Environment: BENCH_RANGE_ROWS (default 10000000), BENCH_RANGE_DIR (keep the built store there and reuse it),
 * BENCH_RANGE_QUERIES (per pass, default 400), BENCH_RANGE_PASSES (alternating baseline/today passes, default 2 each).
 * The store is filled with sync 'none' (the query does not care how the rows reached the disk), 10 cameras at
 * 10 fps, 5 detections per frame, like bench/store.ts. Each query: one camera, a random 20 s window = 1000 rows,
 * page of 1000 + exact total. Per path: p50/p99, young/old GC pauses that overlapped a query, minor/major page
 * faults per query, heap and ArrayBuffer bytes allocated per query (from queries no GC ran in).
 * Writes bench/results/store-range.json.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { resourceUsage } from 'node:process';
import type { Database as LmdbDatabase } from 'lmdb';
import { counterKey, decodeCounterKey, decodeRow, detKey, gridBin, rowClassAndConfidence, sumBins, toStored, U64_MAX } from '../src/store/codec.js';
import { DetectionStore, type DetectionPage, type DetectionQuery } from '../src/store/detection-store.js';
import type { DetectionBatch, StoredDetection } from '../src/types.js';

const RESULTS = 'bench/results/store-range.json';
const SEC = 1_000_000_000n;
const T0 = 1_800_000_000n * SEC;
const CAMS = 10;
const ROWS = Number(process.env.BENCH_RANGE_ROWS ?? 10_000_000);
const QUERIES = Number(process.env.BENCH_RANGE_QUERIES ?? 400);
const PASSES = Number(process.env.BENCH_RANGE_PASSES ?? 2);
const CAUSE = [
  'Young-generation GC, from garbage the query made: through binary handles lmdb-js copies every key and value into a',
  'new Buffer (an ArrayBuffer with its own backing store), and the exact total scanned the partial buckets a second',
  'time; about 2 MB of heap garbage and ~4,000 array buffers per query, a scavenge every ~8 queries, pauses of 1.6 ms',
  'typical and up to 12 ms (sweeping the array buffers; longer on the loaded 2-core machine). Page faults are not it:',
  'the 10M-row file stays in the page cache (under 5 minor faults per query, no major faults after the first pass).',
  'Fix (src/store/row-reader.ts, src/store/query.ts): rows are decoded in place from lmdb-js shared key/value buffers',
  'through custom keyEncoder/encoder hooks on a second read-only handle per camera (no Buffer per row, class names',
  'interned), the total is taken from the page scan when it reached the end of the range (no second scan), counting',
  'scans decode into one reused object; ~0.4 MB per query, no array buffers, a scavenge every ~35 queries of <1 ms.',
].join(' ');
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function frame(cameraId: string, seq: number, ts: bigint, n = 5): DetectionBatch {
  return {
    cameraId, frameSequence: seq, timestampNs: ts, frameWidth: 1920, frameHeight: 1080,
    detections: Array.from({ length: n }, (_, i) => ({ classId: i % 3, className: ['person', 'car', 'bicycle'][i % 3]!, confidence: ((seq * 31 + i * 17) % 100) / 100, box: { x1: 100 + i, y1: 200, x2: 300 + i, y2: 600 }, trackId: seq % 1000 })),
  };
}

// ---------------------------------------------------------------------------------------------------- baseline
// The query path as it was before this change (src/store/detection-store.ts at 1027ccd), for page 1 with a total:
// binary handles (lmdb-js copies each key and value into a new Buffer), decode, then the exact total from the
// counters plus scans of the partial buckets at both ends.

interface LegacyCamera {
  id: string;
  no: number;
  db: LmdbDatabase<Buffer, Buffer>;
}

class LegacyPlanner {
  private readonly cameras = new Map<string, LegacyCamera>();
  private readonly counts: LmdbDatabase<Buffer, Buffer>;
  private readonly classNoByName = new Map<string, number>();
  private readonly bucketNs: bigint;

  constructor(store: DetectionStore) {
    const scope = store.scope;
    this.bucketNs = store.bucketNs;
    this.counts = scope.open<Buffer, Buffer>('counts', { keyEncoding: 'binary', encoding: 'binary' });
    for (const { key, value } of scope.open<number, string>('cams').getRange({})) {
      this.cameras.set(key, { id: key, no: value, db: scope.open<Buffer, Buffer>(`det:${key}`, { keyEncoding: 'binary', encoding: 'binary' }) });
    }
    for (const { key, value } of scope.open<number, string>('classes').getRange({})) this.classNoByName.set(key, value);
  }

  private *scan(cameras: LegacyCamera[], startKey: Buffer, endNs: bigint): Generator<{ camera: LegacyCamera; key: Buffer; value: Buffer }> {
    const endExclusive = endNs < U64_MAX ? detKey(endNs + 1n, 0n) : undefined;
    const sources = cameras.map((camera) => ({ camera, it: camera.db.getRange({ start: startKey, end: endExclusive })[Symbol.iterator]() }));
    const heads = sources.map(({ camera, it }) => {
      const n = it.next();
      return n.done ? null : { camera, key: n.value.key, value: n.value.value };
    });
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) if (heads[i] && (best < 0 || Buffer.compare(heads[i]!.key, heads[best]!.key) < 0)) best = i;
      if (best < 0) return;
      const row = heads[best]!;
      const n = sources[best]!.it.next();
      heads[best] = n.done ? null : { camera: row.camera, key: n.value.key, value: n.value.value };
      yield row;
    }
  }

  private matcher(q: DetectionQuery): (value: Buffer) => boolean {
    const classes = q.className === undefined && q.classNames === undefined ? null : new Set([...(q.classNames ?? []), ...(q.className !== undefined ? [q.className] : [])]);
    const minConf = q.minConfidence;
    if (classes === null && minConf === undefined && q.trackId === undefined) return () => true;
    return (value) => {
      if (q.trackId !== undefined && decodeRow(value).trackId !== q.trackId) return false;
      const r = rowClassAndConfidence(value);
      return (classes === null || classes.has(r.className)) && (minConf === undefined || r.confidence >= minConf);
    };
  }

  private countByScan(q: DetectionQuery, cameras: LegacyCamera[], fromNs: bigint, toNs: bigint): number {
    const match = this.matcher(q);
    let n = 0;
    for (const row of this.scan(cameras, detKey(fromNs, 0n), toNs)) if (match(row.value)) n++;
    return n;
  }

  private total(q: DetectionQuery, cameras: LegacyCamera[], startNs: bigint, endNs: bigint): number {
    const minBin = gridBin(q.minConfidence ?? 0);
    if (minBin === null || q.trackId !== undefined || q.className !== undefined || q.classNames !== undefined) return this.countByScan(q, cameras, startNs, endNs);
    const B = this.bucketNs;
    const fromCounters = (fromBucket: bigint, toBucket: bigint): number => {
      let n = 0;
      for (const camera of cameras) {
        for (const { key, value } of this.counts.getRange({ start: counterKey(camera.no, fromBucket, 0), end: counterKey(camera.no, toBucket + 1n, 0) })) {
          decodeCounterKey(key);
          n += sumBins(value, minBin);
        }
      }
      return n;
    };
    const partial = (from: bigint, to: bigint): number => {
      const b = from / B;
      const bs = b * B;
      const be = bs + B - 1n;
      if ((to - from + 1n) * 2n <= B) return this.countByScan(q, cameras, from, to);
      let n = fromCounters(b, b);
      if (from > bs) n -= this.countByScan(q, cameras, bs, from - 1n);
      if (to < be) n -= this.countByScan(q, cameras, to + 1n, be);
      return n;
    };
    const bStart = startNs / B;
    const bEnd = endNs / B;
    if (bStart === bEnd) return partial(startNs, endNs);
    let n = 0;
    let firstFull = bStart;
    let lastFull = bEnd;
    if (startNs !== bStart * B) {
      n += partial(startNs, (bStart + 1n) * B - 1n);
      firstFull = bStart + 1n;
    }
    if (endNs !== (bEnd + 1n) * B - 1n) {
      n += partial(bEnd * B, endNs);
      lastFull = bEnd - 1n;
    }
    if (firstFull <= lastFull) n += fromCounters(firstFull, lastFull);
    return n;
  }

  /** Page 1, ascending, with the exact total (what the benchmark asks). */
  queryPage(q: DetectionQuery, pageSize: number, withTotal: boolean): DetectionPage {
    const cameras = (q.cameraIds ?? []).map((id) => this.cameras.get(id)).filter((c): c is LegacyCamera => c !== undefined);
    const startNs = q.startNs ?? 0n;
    const endNs = q.endNs ?? U64_MAX;
    const total = withTotal ? this.total(q, cameras, startNs, endNs) : null;
    const match = this.matcher(q);
    const detections: StoredDetection[] = [];
    let more = false;
    for (const row of this.scan(cameras, detKey(startNs, 0n), endNs)) {
      if (!match(row.value)) continue;
      if (detections.length === pageSize) {
        more = true;
        break;
      }
      detections.push(toStored(row.camera.id, row.key, row.value));
    }
    return { detections, total, page: 1, pageSize, nextCursor: more ? 'more' : null };
  }
}

// ---------------------------------------------------------------------------------------------------- measuring

interface Gc {
  start: number;
  end: number;
  kind: number;
}
const gcs: Gc[] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, end: e.startTime + e.duration, kind: (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0 });
}).observe({ entryTypes: ['gc'] });

interface Sample {
  ms: number;
  start: number;
  end: number;
  minflt: number;
  majflt: number;
  heap: number;
  arrayBuffers: number;
  /** CPU time of the process (all threads, GC helpers included) during the query: wall time minus preemption. */
  cpuMs: number;
}

function queries(span: bigint): DetectionQuery[] {
  const out: DetectionQuery[] = [];
  let seed = 7;
  for (let i = 0; i < QUERIES; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    const start = T0 + ((span - 21n * SEC) * BigInt(seed % 100_000)) / 100_000n;
    out.push({ cameraIds: [`cam${seed % CAMS}`], startNs: start, endNs: start + 20n * SEC - 1n });
  }
  return out;
}

function run(qs: DetectionQuery[], query: (q: DetectionQuery) => DetectionPage, samples: Sample[]): void {
  for (const q of qs) {
    const r0 = resourceUsage();
    const m0 = process.memoryUsage();
    const start = performance.now();
    const p = query(q);
    const end = performance.now();
    const m1 = process.memoryUsage();
    const r1 = resourceUsage();
    if (p.detections.length !== 1000 || p.total !== 1000) throw new Error(`expected 1000 rows and total 1000, got ${p.detections.length} / ${p.total}`);
    const cpuMs = (r1.userCPUTime + r1.systemCPUTime - r0.userCPUTime - r0.systemCPUTime) / 1000;
    samples.push({ ms: end - start, start, end, minflt: r1.minorPageFault - r0.minorPageFault, majflt: r1.majorPageFault - r0.majorPageFault, heap: m1.heapUsed - m0.heapUsed, arrayBuffers: m1.arrayBuffers - m0.arrayBuffers, cpuMs });
  }
}

function summary(samples: Sample[]): Record<string, number> {
  const lat = samples.map((s) => s.ms);
  const overlaps = (s: Sample, kind: number): boolean => gcs.some((g) => g.kind === kind && g.start < s.end && g.end > s.start);
  const young = samples.filter((s) => overlaps(s, constants.NODE_PERFORMANCE_GC_MINOR));
  const old = samples.filter((s) => overlaps(s, constants.NODE_PERFORMANCE_GC_MAJOR) || overlaps(s, constants.NODE_PERFORMANCE_GC_INCREMENTAL));
  const clean = samples.filter((s) => !young.includes(s) && !old.includes(s));
  const slow = samples.filter((s) => s.ms > 5);
  // the queries allocate (nearly) everything the process allocates here: a pause inside one belongs to its path
  const pauses = gcs.filter((g) => g.kind === constants.NODE_PERFORMANCE_GC_MINOR && samples.some((s) => g.start < s.end && g.end > s.start)).map((g) => g.end - g.start);
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    queries: samples.length,
    p50_ms: r3(pct(lat, 50)),
    p99_ms: r3(pct(lat, 99)),
    max_ms: r3(Math.max(...lat)),
    cpu_p50_ms: r3(pct(samples.map((s) => s.cpuMs), 50)),
    cpu_p99_ms: r3(pct(samples.map((s) => s.cpuMs), 99)),
    over_5ms: slow.length,
    over_5ms_with_gc: slow.filter((s) => young.includes(s) || old.includes(s)).length,
    queries_with_young_gc: young.length,
    queries_with_old_gc: old.length,
    young_gc_count: pauses.length,
    young_gc_pause_p50_ms: pauses.length ? r3(pct(pauses, 50)) : 0,
    young_gc_pause_max_ms: pauses.length ? r3(Math.max(...pauses)) : 0,
    p50_ms_without_gc: r3(pct(clean.map((s) => s.ms), 50)),
    p99_ms_without_gc: r3(pct(clean.map((s) => s.ms), 99)),
    minor_faults_per_query: r3(mean(samples.map((s) => s.minflt))),
    major_faults_total: samples.reduce((a, s) => a + s.majflt, 0),
    heap_kb_per_query: r3(pct(clean.map((s) => s.heap), 50) / 1024),
    array_buffer_kb_per_query: r3(pct(clean.map((s) => s.arrayBuffers), 50) / 1024),
  };
}

const keep = process.env.BENCH_RANGE_DIR;
const dir = keep ?? mkdtempSync(join(tmpdir(), 'vigil-bench-range-'));
const fresh = !existsSync(join(dir, 'data.mdb'));
const store = DetectionStore.open({ path: dir, sync: fresh ? 'none' : 'durable', maxBatchDetections: 50_000, maxQueuedDetections: 500_000 });
let buildS: number | null = null;
try {
  if (fresh) {
    console.log(`filling ${ROWS} rows (${CAMS} cameras, 10 fps, 5 per frame) into ${dir}`);
    const t = performance.now();
    const acks: Promise<unknown>[] = [];
    for (let rows = 0, f = 0; rows < ROWS; rows += 5, f++) {
      acks.push(store.append(frame(`cam${f % CAMS}`, f, T0 + BigInt(Math.floor(f / CAMS)) * 100_000_000n)));
      if (acks.length >= 40_000) await Promise.all(acks.splice(0));
    }
    await Promise.all(acks);
    buildS = r3((performance.now() - t) / 1000);
    console.log(`  filled in ${buildS} s`);
  }
  const stored = Number(store.stats().lastSeq);
  if (stored !== ROWS) throw new Error(`${dir} holds ${stored} rows, not ${ROWS}: remove it`);
  const span = BigInt(Math.floor(ROWS / 5 / CAMS)) * 100_000_000n;
  const qs = queries(span);
  const legacy = new LegacyPlanner(store);
  // the same answers both ways
  for (const q of qs.slice(0, 20)) {
    const a = legacy.queryPage(q, 1000, true);
    const b = store.queryPage(q, { pageSize: 1000 });
    if (a.total !== b.total || a.detections.length !== b.detections.length || a.detections.some((d, i) => JSON.stringify(d, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) !== JSON.stringify(b.detections[i], (_k, v) => (typeof v === 'bigint' ? v.toString() : v)))) {
      throw new Error('the two paths disagree');
    }
  }
  const before: Sample[] = [];
  const after: Sample[] = [];
  const beforeNoTotal: Sample[] = [];
  const afterNoTotal: Sample[] = [];
  // warm both paths' code and the pages once, then alternate passes
  run(qs.slice(0, 50), (q) => legacy.queryPage(q, 1000, true), []);
  run(qs.slice(0, 50), (q) => store.queryPage(q, { pageSize: 1000 }), []);
  for (let pass = 0; pass < PASSES; pass++) {
    run(qs, (q) => legacy.queryPage(q, 1000, true), before);
    run(qs, (q) => store.queryPage(q, { pageSize: 1000 }), after);
  }
  // without the total the page's own scan is all either path does
  const noTotal = (p: DetectionPage): DetectionPage => ({ ...p, total: p.detections.length });
  run(qs, (q) => noTotal(legacy.queryPage(q, 1000, false)), beforeNoTotal);
  run(qs, (q) => noTotal(store.queryPage(q, { pageSize: 1000, withTotal: false })), afterNoTotal);
  await new Promise((r) => setTimeout(r, 50));
  const b = summary(before);
  const a = summary(after);
  const bn = summary(beforeNoTotal);
  const an = summary(afterNoTotal);
  const file = store.spaceUsage().fileBytes;
  const load = (await import('node:os')).loadavg();
  console.log(`\nload average ${load.map(r3).join(' ')}`);
  console.log(`1000-row camera/time range query, page of 1000 + exact total, ${ROWS} rows (${Math.round(file / ROWS)} B/row), ${b.queries} queries per path:`);
  for (const [name, s] of [['baseline (before)', b], ['today (after)', a], ['baseline, no total', bn], ['today, no total', an]] as const) {
    console.log(`  ${name.padEnd(20)} p50 ${s.p50_ms} ms  p99 ${s.p99_ms} ms  max ${s.max_ms} ms  cpu p50 ${s.cpu_p50_ms} p99 ${s.cpu_p99_ms} ms  >5ms ${s.over_5ms} (${s.over_5ms_with_gc} with GC)  young GC in ${s.queries_with_young_gc} (${s.young_gc_count} pauses, p50 ${s.young_gc_pause_p50_ms} max ${s.young_gc_pause_max_ms} ms), old GC in ${s.queries_with_old_gc}  without GC p50 ${s.p50_ms_without_gc} p99 ${s.p99_ms_without_gc}  minflt/q ${s.minor_faults_per_query} majflt ${s.major_faults_total}  heap ${s.heap_kb_per_query} KB/q  ArrayBuffers ${s.array_buffer_kb_per_query} KB/q`);
  }
  mkdirSync('bench/results', { recursive: true });
  const envs = Object.entries(process.env).filter(([k]) => k.startsWith('BENCH_')).map(([k, v]) => `${k}=${v} `).join('');
  writeFileSync(RESULTS, `${JSON.stringify({
    date: new Date().toISOString(),
    machine: '2 vCPU Debian 12 VM, no GPU (shared with other engineers)',
    command: `${envs}node --import tsx bench/store-range.ts`,
    load_average_1m_at_end: r3(load[0]!),
    rows: ROWS,
    fill_s: buildS,
    bytes_per_row: Math.round(file / ROWS),
    query: '1 camera, random 20 s window (1000 rows), page of 1000 + exact total, ascending',
    before: b,
    after: a,
    before_no_total: bn,
    after_no_total: an,
    cause: CAUSE,
  }, null, 2)}\n`);
  console.log(`\nwrote ${RESULTS}`);
} finally {
  await store.close();
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
