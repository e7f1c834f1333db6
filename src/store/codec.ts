/**
 * Binary layouts of the detection store. All keys are big-endian so that LMDB's byte order is numeric order.
 *
 * Detection row (one per detection, in the camera's own sub-database `det:<cameraId>`):
 *   key   = timestampNs u64 BE | seq u64 BE                       (16 bytes: "camera X between t1 and t2" is one
 *                                                                    ordered range scan; seq breaks ties)
 *   value = version u8 (=1) | flags u8 (bit0: has track id) | classId u16 | confidence f64 | x1 y1 x2 y2 f32 |
 *           trackId i32 | frameWidth u16 | frameHeight u16 | frameSequence u32 | nameLen u8 | className utf8
 *   Confidence is a float64 so `confidence >= confidence_min` filters compare the exact value the detector gave;
 *   box corners are float32 (sub-pixel precision better than 1/2000 px below 4096 px).
 *
 * Sequence log (`seqlog`, one entry per committed frame, for replay by global sequence):
 *   key = firstSeq u64 BE, value = cameraNo u32 | timestampNs u64 | count u32
 *
 * Counters (`counts`, per camera per time bucket per class, for totals and page skipping without offset scans):
 *   key = cameraNo u32 | bucket u64 | classNo u16, value = repeated (confidenceBin u8 | count u32), bins ascending.
 */
import type { Detection, StoredDetection } from '../types.js';

export const U64_MAX = (1n << 64n) - 1n;
export const VALUE_VERSION = 1;
export const FIXED_VALUE_BYTES = 1 + 1 + 2 + 8 + 16 + 4 + 2 + 2 + 4 + 1;

export function detKey(timestampNs: bigint, seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeBigUInt64BE(timestampNs, 0);
  b.writeBigUInt64BE(seq, 8);
  return b;
}

export function detKeyTs(key: Uint8Array): bigint {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(0);
}

export function detKeySeq(key: Uint8Array): bigint {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).readBigUInt64BE(8);
}

/** The smallest key strictly greater than `key` (16-byte keys), or null when `key` is the maximum. */
export function keyAfter(key: Uint8Array): Buffer | null {
  const ts = detKeyTs(key);
  const seq = detKeySeq(key);
  if (seq < U64_MAX) return detKey(ts, seq + 1n);
  if (ts < U64_MAX) return detKey(ts + 1n, 0n);
  return null;
}

/** The largest key strictly smaller than `key` (16-byte keys), or null when `key` is all zeros. */
export function keyBefore(key: Uint8Array): Buffer | null {
  const ts = detKeyTs(key);
  const seq = detKeySeq(key);
  if (seq > 0n) return detKey(ts, seq - 1n);
  if (ts > 0n) return detKey(ts - 1n, U64_MAX);
  return null;
}

export interface DecodedRow {
  classId: number;
  className: string;
  confidence: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  trackId: number | undefined;
  frameWidth: number;
  frameHeight: number;
  frameSequence: number;
}

export function encodeRow(d: Detection, frameWidth: number, frameHeight: number, frameSequence: number): Buffer {
  const name = Buffer.from(d.className, 'utf8');
  const nameLen = Math.min(name.length, 255);
  const b = Buffer.allocUnsafe(FIXED_VALUE_BYTES + nameLen);
  let o = 0;
  b.writeUInt8(VALUE_VERSION, o); o += 1;
  b.writeUInt8(d.trackId === undefined ? 0 : 1, o); o += 1;
  b.writeUInt16LE(d.classId, o); o += 2;
  b.writeDoubleLE(d.confidence, o); o += 8;
  b.writeFloatLE(d.box.x1, o); o += 4;
  b.writeFloatLE(d.box.y1, o); o += 4;
  b.writeFloatLE(d.box.x2, o); o += 4;
  b.writeFloatLE(d.box.y2, o); o += 4;
  b.writeInt32LE(d.trackId ?? 0, o); o += 4;
  b.writeUInt16LE(frameWidth, o); o += 2;
  b.writeUInt16LE(frameHeight, o); o += 2;
  b.writeUInt32LE(frameSequence >>> 0, o); o += 4;
  b.writeUInt8(nameLen, o); o += 1;
  name.copy(b, o, 0, nameLen);
  return b;
}

function asBuffer(v: Uint8Array): Buffer {
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Only the two fields filters and counters need, without decoding the rest. */
export function rowClassAndConfidence(value: Uint8Array): { className: string; confidence: number } {
  const b = asBuffer(value);
  const nameLen = b.readUInt8(FIXED_VALUE_BYTES - 1);
  return { confidence: b.readDoubleLE(4), className: b.toString('utf8', FIXED_VALUE_BYTES, FIXED_VALUE_BYTES + nameLen) };
}

export function decodeRow(value: Uint8Array): DecodedRow {
  const b = asBuffer(value);
  const version = b.readUInt8(0);
  if (version !== VALUE_VERSION) throw new Error(`Unknown detection row version ${version}`);
  const flags = b.readUInt8(1);
  const nameLen = b.readUInt8(FIXED_VALUE_BYTES - 1);
  return {
    classId: b.readUInt16LE(2),
    confidence: b.readDoubleLE(4),
    x1: b.readFloatLE(12),
    y1: b.readFloatLE(16),
    x2: b.readFloatLE(20),
    y2: b.readFloatLE(24),
    trackId: flags & 1 ? b.readInt32LE(28) : undefined,
    frameWidth: b.readUInt16LE(32),
    frameHeight: b.readUInt16LE(34),
    frameSequence: b.readUInt32LE(36),
    className: b.toString('utf8', FIXED_VALUE_BYTES, FIXED_VALUE_BYTES + nameLen),
  };
}

export function toStored(cameraId: string, key: Uint8Array, value: Uint8Array): StoredDetection {
  const r = decodeRow(value);
  const out: StoredDetection = {
    seq: detKeySeq(key),
    cameraId,
    timestampNs: detKeyTs(key),
    frameWidth: r.frameWidth,
    frameHeight: r.frameHeight,
    classId: r.classId,
    className: r.className,
    confidence: r.confidence,
    box: { x1: r.x1, y1: r.y1, x2: r.x2, y2: r.y2 },
  };
  if (r.trackId !== undefined) out.trackId = r.trackId;
  return out;
}

export function seqKey(seq: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(seq, 0);
  return b;
}

export function encodeSeqLog(cameraNo: number, timestampNs: bigint, count: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeUInt32LE(cameraNo, 0);
  b.writeBigUInt64LE(timestampNs, 4);
  b.writeUInt32LE(count, 12);
  return b;
}

export function decodeSeqLog(key: Uint8Array, value: Uint8Array): { firstSeq: bigint; cameraNo: number; timestampNs: bigint; count: number } {
  const k = asBuffer(key);
  const v = asBuffer(value);
  return { firstSeq: k.readBigUInt64BE(0), cameraNo: v.readUInt32LE(0), timestampNs: v.readBigUInt64LE(4), count: v.readUInt32LE(12) };
}

export function counterKey(cameraNo: number, bucket: bigint, classNo: number): Buffer {
  const b = Buffer.allocUnsafe(14);
  b.writeUInt32BE(cameraNo, 0);
  b.writeBigUInt64BE(bucket, 4);
  b.writeUInt16BE(classNo, 12);
  return b;
}

export function decodeCounterKey(key: Uint8Array): { cameraNo: number; bucket: bigint; classNo: number } {
  const k = asBuffer(key);
  return { cameraNo: k.readUInt32BE(0), bucket: k.readBigUInt64BE(4), classNo: k.readUInt16BE(12) };
}

/** Counter value: bins ascending, each (bin u8, count u32 LE). */
export function decodeBins(value: Uint8Array | undefined): Map<number, number> {
  const m = new Map<number, number>();
  if (!value) return m;
  const v = asBuffer(value);
  for (let o = 0; o + 5 <= v.length; o += 5) m.set(v.readUInt8(o), v.readUInt32LE(o + 1));
  return m;
}

export function encodeBins(m: Map<number, number>): Buffer | null {
  const bins = [...m.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  if (bins.length === 0) return null;
  const b = Buffer.allocUnsafe(bins.length * 5);
  bins.forEach(([bin, n], i) => {
    b.writeUInt8(bin, i * 5);
    b.writeUInt32LE(n, i * 5 + 1);
  });
  return b;
}

/** Sum of counts in bins >= minBin. */
export function sumBins(value: Uint8Array, minBin: number): number {
  const v = asBuffer(value);
  let n = 0;
  for (let o = 0; o + 5 <= v.length; o += 5) if (v.readUInt8(o) >= minBin) n += v.readUInt32LE(o + 1);
  return n;
}

/**
 * Confidence bin: the largest b in 0..100 with confidence >= b/100 (compared as doubles, exactly as a filter
 * `confidence >= b/100` would), so "bin >= b" and "confidence >= b/100" select the same rows.
 */
export function confidenceBin(confidence: number): number {
  if (!(confidence >= 0)) return 0;
  let b = Math.min(100, Math.floor(confidence * 100));
  while (b > 0 && confidence < b / 100) b--;
  while (b < 100 && confidence >= (b + 1) / 100) b++;
  return b;
}

/** The bin b with b/100 === minConfidence exactly, or null when the threshold is not on the 0.01 grid. */
export function gridBin(minConfidence: number): number | null {
  if (minConfidence <= 0) return 0;
  const b = Math.round(minConfidence * 100);
  return b >= 0 && b <= 100 && b / 100 === minConfidence ? b : null;
}
