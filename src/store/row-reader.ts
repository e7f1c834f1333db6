/**
 * Reading detection rows without a Buffer per row.
 *
 * Through a binary sub-database handle lmdb-js copies every key and value into a fresh Buffer (an ArrayBuffer with
 * its own backing store each): a 1000-row page plus the scan for its exact total made ≈ 4,000 of them, ≈ 1.9 MB of
 * garbage per query, and the young-generation collections that freed them (sweeping thousands of array buffers)
 * took 4-13 ms: the range query's p99 (bench/store-range.ts). These handles decode from lmdb-js's shared key and
 * value buffers in place (its custom `keyEncoder.readKey` / `encoder.decode` hooks get the shared buffer, and for a
 * row the key is read just before the value), so a row costs only the objects the caller keeps:
 * - `rows`: the StoredDetection (and its box and two bigints), class names interned per (class id, bytes);
 * - `probe`: one reused object with the fields filters and counters read (nothing allocated per row but lmdb-js's
 *   own iterator result).
 * Writes go through the binary handle (layout.ts); these handles never write.
 */
import type { Database as LmdbDatabase } from 'lmdb';
import type { DatabaseScope } from '../db/database.js';
import type { StoredDetection } from '../types.js';
import { FIXED_VALUE_BYTES, VALUE_VERSION } from './codec.js';

/** The fields of a row that filters and counters read, in one object reused for every row. */
export interface RowProbe {
  timestampNs: bigint;
  seq: bigint;
  className: string;
  confidence: number;
  trackId: number | undefined;
}

export interface RowRange {
  start?: Buffer;
  end?: Buffer;
  reverse?: boolean;
  limit?: number;
}

export interface RowReader {
  /** Rows in key order (or reverse) as StoredDetections: the key yielded is the row's sequence number. */
  rows(range: RowRange): Iterable<{ key: bigint; value: StoredDetection }>;
  /** Rows in key order as the one reused probe object: read it before the next step of the iteration. */
  probe(range: RowRange): Iterable<{ key: bigint; value: RowProbe }>;
}

const writeKey = (key: Uint8Array, target: Uint8Array, start: number): number => {
  target.set(key, start);
  return start + key.length;
};

/** Per class id, the names seen (bytes and string): a class name is decoded once, not once per row. */
class NameCache {
  private readonly byClass = new Map<number, { bytes: Uint8Array; name: string }[]>();

  get(classId: number, src: Uint8Array, off: number, len: number): string {
    let list = this.byClass.get(classId);
    if (list) {
      outer: for (const e of list) {
        if (e.bytes.length !== len) continue;
        for (let i = 0; i < len; i++) if (e.bytes[i] !== src[off + i]) continue outer;
        return e.name;
      }
    } else this.byClass.set(classId, (list = []));
    const bytes = Uint8Array.prototype.slice.call(src, off, off + len);
    const name = Buffer.from(bytes.buffer, bytes.byteOffset, len).toString('utf8');
    // a misbehaving source could send ever new names for one id: keep the cache bounded
    if (list.length < 16) list.push({ bytes, name });
    return name;
  }
}

/** A DataView over the shared buffer lmdb-js hands to the hooks (the same buffer every row: made once). */
function viewer(): (b: Uint8Array) => DataView {
  let last: Uint8Array | null = null;
  let view: DataView | null = null;
  return (b) => {
    if (b !== last || view === null || view.byteLength < b.byteOffset + b.length - view.byteOffset) {
      last = b;
      view = new DataView(b.buffer, b.byteOffset, b.buffer.byteLength - b.byteOffset);
    }
    return view;
  };
}

export function rowReader(scope: DatabaseScope, name: string, cameraId: string): RowReader {
  const names = new NameCache();
  let ts = 0n;
  let seq = 0n;
  const keyView = viewer();
  const readKey = (target: Uint8Array, start: number, end: number): bigint => {
    if (end - start !== 16) throw new Error(`Detection key of ${end - start} bytes (expected 16)`);
    const v = keyView(target);
    ts = v.getBigUint64(start, false);
    seq = v.getBigUint64(start + 8, false);
    return seq;
  };
  // No `enableNullTermination` here: lmdb-js takes a key encoder that has one for null-terminated ordered-binary
  // keys and opens the handle with its `compareFast` comparator (node_modules/lmdb/open.js, src/dbi.cpp
  // DbiWrap::open), and LMDB keeps one comparator per sub-database for the whole environment: it would replace the
  // byte order of the camera's binary handle too (layout.ts: writes, the pruner's scans). compareFast reads as many
  // bytes of the sought key as the stored key has, so the one-byte key that starts a range without `start` was
  // compared with whatever key lmdb-js last wrote into its shared key buffer: a scan from the start skipped rows,
  // or all of them. Without it the handle reads raw byte keys, in LMDB's own order, through these same hooks.
  const keyEncoder = { writeKey, readKey };
  const valueView = viewer();
  const header = (bytes: Uint8Array, v: DataView): void => {
    const version = v.getUint8(0);
    if (version !== VALUE_VERSION) throw new Error(`Unknown detection row version ${version}`);
    if (bytes.length < FIXED_VALUE_BYTES) throw new Error(`Detection row of ${bytes.length} bytes`);
  };
  const full = scope.open<StoredDetection, Buffer>(name, {
    keyEncoder,
    encoder: {
      encode(): never {
        throw new Error('read-only handle');
      },
      decode(bytes: Uint8Array): StoredDetection {
        const v = valueView(bytes);
        header(bytes, v);
        const classId = v.getUint16(2, true);
        const d: StoredDetection = {
          seq,
          cameraId,
          timestampNs: ts,
          frameWidth: v.getUint16(32, true),
          frameHeight: v.getUint16(34, true),
          classId,
          className: names.get(classId, bytes, FIXED_VALUE_BYTES, v.getUint8(FIXED_VALUE_BYTES - 1)),
          confidence: v.getFloat64(4, true),
          box: { x1: v.getFloat32(12, true), y1: v.getFloat32(16, true), x2: v.getFloat32(20, true), y2: v.getFloat32(24, true) },
        };
        if (v.getUint8(1) & 1) d.trackId = v.getInt32(28, true);
        return d;
      },
    },
  }) as unknown as LmdbDatabase<StoredDetection, Buffer>;
  const scratch: RowProbe = { timestampNs: 0n, seq: 0n, className: '', confidence: 0, trackId: undefined };
  const probeDb = scope.open<RowProbe, Buffer>(name, {
    keyEncoder,
    encoder: {
      encode(): never {
        throw new Error('read-only handle');
      },
      decode(bytes: Uint8Array): RowProbe {
        const v = valueView(bytes);
        header(bytes, v);
        scratch.timestampNs = ts;
        scratch.seq = seq;
        scratch.confidence = v.getFloat64(4, true);
        scratch.className = names.get(v.getUint16(2, true), bytes, FIXED_VALUE_BYTES, v.getUint8(FIXED_VALUE_BYTES - 1));
        scratch.trackId = v.getUint8(1) & 1 ? v.getInt32(28, true) : undefined;
        return scratch;
      },
    },
  }) as unknown as LmdbDatabase<RowProbe, Buffer>;
  return {
    rows: (range) => full.getRange(bounded(range)) as unknown as Iterable<{ key: bigint; value: StoredDetection }>,
    probe: (range) => probeDb.getRange(bounded(range)) as unknown as Iterable<{ key: bigint; value: RowProbe }>,
  };
}

/** The lowest detection key: timestamp 0, sequence 0. */
const MIN_KEY = Buffer.alloc(16);

/**
 * A range whose missing low bound is the lowest key. lmdb-js starts a forward range without `start`, and ends a
 * reverse one without `end`, at the handle's default first key, which for a handle with a key encoder is the byte
 * 05: a newest-first scan without `end` stopped before every row stamped below 05 00.. (before mid-1981, in ns).
 */
function bounded(range: RowRange): RowRange & { inclusiveEnd?: boolean } {
  if (range.reverse) return range.end === undefined ? { ...range, end: MIN_KEY, inclusiveEnd: true } : range;
  return range.start === undefined ? { ...range, start: MIN_KEY } : range;
}
