/**
 * The detection store's sub-databases and the registries read from them at open (see codec.ts for the byte
 * layouts), shared by the writer, the query planner, the log reader and the pruner:
 * - `det:<cameraId>`: one per camera keyed by (timestampNs, seq); `seqlog`: one entry per committed frame;
 *   `evlog`: the stream's other events by sequence; `counts`: per camera, bucket and class, counts by confidence bin;
 *   `cams`, `classes`, `classids`, `meta`: registries.
 * Registries are written with putSync: at the first frame of a camera or class, outside the group commit, so a
 * failed commit never leaves an in-memory number without its stored entry.
 */
import type { Database as LmdbDatabase } from 'lmdb';
import type { DatabaseScope } from '../db/database.js';
import { expected, VigilError } from '../errors.js';
import { decodeBins, decodeSeqLog, encodeBins } from './codec.js';
import { rowReader, type RowReader } from './row-reader.js';

/** Errors raised by the store, with stable codes. */
export class VigilStoreError extends VigilError {}

export interface CameraEntry {
  id: string;
  no: number;
  db: LmdbDatabase<Buffer, Buffer>;
  /** The same sub-database through decoders that read rows in place (queries; see row-reader.ts). */
  reader: RowReader;
  /** Largest key written so far (append is used for keys after it). */
  lastKey: Buffer | null;
}

export type CounterDeltas = Map<string, { key: Buffer; bins: Map<number, number> }>;

export interface EventValue {
  k: string;
  c: string;
  t: bigint;
  d: unknown;
}

export class StoreLayout {
  readonly bucketNs: bigint;
  readonly meta: LmdbDatabase<unknown, string>;
  readonly seqlog: LmdbDatabase<Buffer, Buffer>;
  readonly counts: LmdbDatabase<Buffer, Buffer>;
  readonly evlog: LmdbDatabase<EventValue, Buffer>;
  readonly camerasById = new Map<string, CameraEntry>();
  readonly camerasByNo = new Map<number, CameraEntry>();
  readonly classNoByName = new Map<string, number>();
  readonly classNamesById = new Map<number, Set<string>>();
  /** Next sequence number to hand out (the writer advances it after each commit). */
  nextSeq: bigint;
  /** Highest sequence removed from the head of seqlog/evlog by retention (0n: none). */
  logTrimmedTo: bigint;
  private readonly camsDb: LmdbDatabase<number, string>;
  private readonly classesDb: LmdbDatabase<number, string>;
  private readonly classIdsDb: LmdbDatabase<string[], number>;

  constructor(
    readonly scope: DatabaseScope,
    bucketSeconds: number,
  ) {
    this.meta = scope.open<unknown, string>('meta');
    const storedBucket = this.meta.get('bucketSeconds');
    if (storedBucket === undefined) this.meta.putSync('bucketSeconds', bucketSeconds);
    this.bucketNs = BigInt(typeof storedBucket === 'number' ? storedBucket : bucketSeconds) * 1_000_000_000n;
    this.camsDb = scope.open<number, string>('cams');
    this.classesDb = scope.open<number, string>('classes');
    this.classIdsDb = scope.open<string[], number>('classids');
    this.seqlog = scope.open<Buffer, Buffer>('seqlog', { keyEncoding: 'binary', encoding: 'binary' });
    this.counts = scope.open<Buffer, Buffer>('counts', { keyEncoding: 'binary', encoding: 'binary' });
    this.evlog = scope.open<EventValue, Buffer>('evlog', { keyEncoding: 'binary' });
    for (const { key, value } of this.camsDb.getRange({})) this.loadCamera(key, value);
    for (const { key, value } of this.classesDb.getRange({})) this.classNoByName.set(key, value);
    for (const { key, value } of this.classIdsDb.getRange({})) this.classNamesById.set(key, new Set(value));
    this.nextSeq = 1n;
    for (const { key, value } of this.seqlog.getRange({ reverse: true, limit: 1 })) {
      const e = decodeSeqLog(key, value);
      this.nextSeq = e.firstSeq + BigInt(e.count);
    }
    for (const key of this.evlog.getKeys({ reverse: true, limit: 1 })) {
      const seq = Buffer.from(key).readBigUInt64BE(0);
      if (seq >= this.nextSeq) this.nextSeq = seq + 1n;
    }
    const trimmed = this.meta.get('logTrimmedTo');
    this.logTrimmedTo = typeof trimmed === 'bigint' ? trimmed : 0n;
  }

  private loadCamera(id: string, no: number): CameraEntry {
    const name = `det:${id}`;
    const db = this.scope.open<Buffer, Buffer>(name, { keyEncoding: 'binary', encoding: 'binary' });
    let lastKey: Buffer | null = null;
    for (const k of db.getKeys({ reverse: true, limit: 1 })) lastKey = Buffer.from(k);
    const entry: CameraEntry = { id, no, db, reader: rowReader(this.scope, name, id), lastKey };
    this.camerasById.set(id, entry);
    this.camerasByNo.set(no, entry);
    return entry;
  }

  ensureCamera(id: string): CameraEntry {
    const have = this.camerasById.get(id);
    if (have) return have;
    const no = this.camerasByNo.size + 1;
    this.camsDb.putSync(id, no);
    return this.loadCamera(id, no);
  }

  ensureClass(name: string, classId: number): number {
    const names = this.classNamesById.get(classId);
    if (!names || !names.has(name)) {
      const next = new Set(names ?? []).add(name);
      this.classIdsDb.putSync(classId, [...next]);
      this.classNamesById.set(classId, next);
    }
    const have = this.classNoByName.get(name);
    if (have !== undefined) return have;
    const no = this.classNoByName.size + 1;
    if (no > 65535) throw new VigilStoreError('E_STORE_CLASSES', 'More than 65535 distinct class names');
    this.classesDb.putSync(name, no);
    this.classNoByName.set(name, no);
    return no;
  }

  /** Adds (sign 1) or subtracts (sign -1) bin counts; must run inside a write transaction. */
  applyCounterDeltas(deltas: CounterDeltas, sign: 1 | -1): void {
    for (const { key, bins } of deltas.values()) {
      const current = decodeBins(this.counts.get(key));
      for (const [bin, n] of bins) current.set(bin, (current.get(bin) ?? 0) + sign * n);
      const enc = encodeBins(current);
      if (enc) this.counts.putSync(key, enc);
      else this.counts.removeSync(key);
    }
  }

  /** Records (inside a write transaction) that the log is incomplete up to `seq`. */
  noteTrimmed(seq: bigint): void {
    if (seq > this.logTrimmedTo) {
      this.meta.putSync('logTrimmedTo', seq);
      this.logTrimmedTo = seq;
    }
  }
}

export function isNonNegInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

export function checkPositiveInt(v: unknown, max: number, name: string): void {
  if (!isNonNegInt(v, max) || v < 1) throw expected('a positive integer', name, v);
}
