/**
 * Object storage for alert media: snapshots (JPEG) and clips (MP4), in a local folder (the embedded default) or
 * in S3-compatible storage (AWS S3, MinIO, Ceph RGW...). Every upload returns a link the alert can carry.
 *
 * Keys: `<prefix><snapshots|clips>/<camera>/<YYYY>/<MM>/<DD>/<camera>-<YYYYMMDDTHHMMSS.mmmZ>[-<alertId>].<ext>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { parseStorageOptions, type LocalStoreOptions, type S3StoreOptions, type StorageConfig } from './options.js';
import { VigilError, expected } from '../../errors.js';
import { redactText } from '../../redact.js';

/** Codes: E_STORAGE_KEY (unusable key), E_STORAGE_UPLOAD (the store refused or failed), E_STORAGE_SOURCE (file). */
export class StorageError extends VigilError {}

export interface StoredObject {
  key: string;
  /** Link for alerts: a URL (S3 / public base) or a server path (local folder served by the API). */
  url: string;
  size: number;
  contentType: string;
  /** Hex SHA-256 of the content. */
  sha256: string;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3' | 'azure';
  put(key: string, body: Buffer | Uint8Array, contentType: string): Promise<StoredObject>;
  putFile(key: string, filePath: string, contentType: string): Promise<StoredObject>;
  close(): void;
}

const KEY_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.=-]{0,200}$/;

/** Checks an object key: '/'-separated segments of [A-Za-z0-9_.=-], no '..', no leading '/', ≤ 900 bytes. */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > 900) throw new StorageError('E_STORAGE_KEY', `Unusable object key ${JSON.stringify(String(key)).slice(0, 80)}`);
  for (const seg of key.split('/')) {
    if (!KEY_SEGMENT.test(seg) || seg === '..' || seg.includes('..')) {
      throw new StorageError('E_STORAGE_KEY', `Unusable object key ${JSON.stringify(key).slice(0, 80)}`);
    }
  }
  return key;
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}


// ---------------------------------------------------------------------------------------------------------------

/** Files under a folder; written to a temporary name and renamed, so readers never see half a file. */
export class LocalFolderStore implements ObjectStore {
  readonly kind = 'local' as const;
  readonly root: string;
  readonly prefix: string;
  private readonly baseUrl: string;

  constructor(raw: LocalStoreOptions) {
    const options = parseStorageOptions({ ...(raw as object), type: 'local' }, 'storage.local') as LocalStoreOptions;
    this.root = path.resolve(options.directory);
    this.baseUrl = (options.baseUrl ?? '/media').replace(/\/+$/, '');
    this.prefix = options.prefix ?? '';
  }

  /** Absolute path of a key inside root (for the server's static route). */
  pathOf(key: string): string {
    const p = path.resolve(this.root, ...checkKey(key).split('/'));
    if (!p.startsWith(this.root + path.sep)) throw new StorageError('E_STORAGE_KEY', 'Object key escapes the storage folder');
    return p;
  }

  private link(key: string): string {
    return `${this.baseUrl}/${encodeKey(key)}`;
  }

  /** Writes a key's file under a temporary name, then renames it into place; returns the final path. */
  private async writeAtomically(full: string, write: (tmp: string) => Promise<void>): Promise<string> {
    const dest = this.pathOf(full);
    await mkdir(path.dirname(dest), { recursive: true });
    const tmp = `${dest}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await write(tmp);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new StorageError('E_STORAGE_UPLOAD', `Could not write ${full}: ${(err as Error).message}`, { cause: err });
    }
    return dest;
  }

  async put(key: string, body: Buffer | Uint8Array, contentType: string): Promise<StoredObject> {
    const full = this.prefix + key;
    await this.writeAtomically(full, (tmp) => writeFile(tmp, body));
    return { key: full, url: this.link(full), size: body.byteLength, contentType, sha256: createHash('sha256').update(body).digest('hex') };
  }

  async putFile(key: string, filePath: string, contentType: string): Promise<StoredObject> {
    const full = this.prefix + key;
    let size: number;
    try {
      size = (await stat(filePath)).size;
    } catch (err) {
      throw new StorageError('E_STORAGE_SOURCE', `Cannot read ${path.basename(filePath)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
    }
    const dest = await this.writeAtomically(full, (tmp) => copyFile(filePath, tmp));
    return { key: full, url: this.link(full), size, contentType, sha256: await sha256File(dest) };
  }

  close(): void {}
}

/** Size and SHA-256 of a file about to be uploaded; a file that cannot be read is E_STORAGE_SOURCE naming it. */
export async function sourceFile(filePath: string): Promise<{ size: number; sha256: string }> {
  let size: number;
  try {
    size = (await stat(filePath)).size;
  } catch (err) {
    throw new StorageError('E_STORAGE_SOURCE', `Cannot read ${path.basename(filePath)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  return { size, sha256: await sha256File(filePath) };
}

export async function sha256File(p: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

// ---------------------------------------------------------------------------------------------------------------

export class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly linkBase: string;
  private readonly publicLinks: boolean;
  private readonly secret: string;

  constructor(raw: S3StoreOptions) {
    const o = parseStorageOptions({ ...(raw as object), type: 's3' }, 'storage.s3') as S3StoreOptions;
    const endpoint = o.endpoint === undefined ? null : new URL(o.endpoint);
    this.bucket = o.bucket;
    this.publicLinks = false;
    this.prefix = o.prefix ?? '';
    this.secret = o.credentials.secretAccessKey;
    const pathStyle = o.forcePathStyle ?? endpoint !== null;
    const timeout = o.timeoutMs ?? 30_000;
    this.client = new S3Client({
      region: o.region,
      ...(endpoint ? { endpoint: endpoint.toString().replace(/\/$/, '') } : {}),
      forcePathStyle: pathStyle,
      credentials: o.credentials,
      // Plain Content-Length uploads (no aws-chunked trailers): what MinIO-style servers accept everywhere.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 2,
      requestHandler: { requestTimeout: timeout, connectionTimeout: Math.min(timeout, 5000) },
    });
    if (o.publicBaseUrl !== undefined) {
      this.linkBase = o.publicBaseUrl.replace(/\/+$/, '');
      this.publicLinks = true;
    } else if (endpoint && pathStyle) {
      this.linkBase = `${endpoint.origin}${endpoint.pathname.replace(/\/+$/, '')}/${this.bucket}`;
    } else if (endpoint) {
      this.linkBase = `${endpoint.protocol}//${this.bucket}.${endpoint.host}`;
    } else {
      this.linkBase = `https://${this.bucket}.s3.${o.region}.amazonaws.com`;
    }
  }

  private async send(key: string, body: Buffer | NodeJS.ReadableStream, size: number, contentType: string, sha256: string): Promise<StoredObject> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body as Buffer,
          ContentLength: size,
          ContentType: contentType,
          // The server verifies this checksum against the body it received (streamed bodies are sent UNSIGNED-PAYLOAD).
          ChecksumSHA256: Buffer.from(sha256, 'hex').toString('base64'),
          Metadata: { 'vigil-sha256': sha256 },
        }),
      );
    } catch (err) {
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode;
      throw new StorageError(
        'E_STORAGE_UPLOAD',
        redactText(`S3 upload of ${key} to bucket ${this.bucket} failed: ${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? ''}`, [this.secret]),
        { cause: err },
      );
    }
    return { key, url: this.linkFor(key), size, contentType, sha256 };
  }

  /** The link an object at `key` (full key, prefix included) gets. */
  linkFor(key: string): string {
    return `${this.linkBase}/${encodeKey(key)}`;
  }

  /**
   * A presigned GET URL (SigV4 query signing) for `key` (full key), valid `expiresInS` seconds (SigV4 allows at
   * most 7 days). Computed locally: no request is made. With publicBaseUrl the plain public link is returned.
   */
  async presignGet(key: string, expiresInS: number): Promise<string> {
    checkKey(key);
    if (!Number.isInteger(expiresInS) || expiresInS < 1 || expiresInS > 604_800) throw expected('an integer number of seconds 1-604800', 'expiresInS', expiresInS);
    if (this.publicLinks) return this.linkFor(key);
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: key }), { expiresIn: expiresInS });
  }

  async put(key: string, body: Buffer | Uint8Array, contentType: string): Promise<StoredObject> {
    const full = checkKey(this.prefix + key);
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return this.send(full, buf, buf.length, contentType, createHash('sha256').update(buf).digest('hex'));
  }

  async putFile(key: string, filePath: string, contentType: string): Promise<StoredObject> {
    const full = checkKey(this.prefix + key);
    const { size, sha256 } = await sourceFile(filePath);
    return this.send(full, createReadStream(filePath), size, contentType, sha256);
  }

  close(): void {
    this.client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------

function stamp(ns: bigint): { day: string; time: string } {
  const ms = Number(ns / 1_000_000n);
  if (!Number.isFinite(ms) || ms < 0) throw expected('a timestamp in ns since the epoch', 'timestampNs', ns);
  const iso = new Date(ms).toISOString(); // 2026-11-27T21:15:03.123Z
  return { day: iso.slice(0, 10).replaceAll('-', '/'), time: iso.replace(/[-:]/g, '') };
}

function keyPart(s: string, name: string): string {
  if (typeof s !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(s) || s.includes('..')) throw expected('an id of [A-Za-z0-9_.-]', name, s);
  return s;
}

/** Builds keys for snapshots and clips and uploads them to the configured store. */
export class MediaUploader {
  constructor(readonly store: ObjectStore) {}

  snapshotKey(cameraId: string, timestampNs: bigint, alertId?: string): string {
    const cam = keyPart(cameraId, 'cameraId');
    const { day, time } = stamp(timestampNs);
    return `snapshots/${cam}/${day}/${cam}-${time}${alertId ? `-${keyPart(alertId, 'alertId')}` : ''}.jpg`;
  }

  clipKey(cameraId: string, startNs: bigint, ext = 'mp4', alertId?: string): string {
    const cam = keyPart(cameraId, 'cameraId');
    if (!/^[a-z0-9]{1,5}$/.test(ext)) throw expected('a file extension such as "mp4"', 'ext', ext);
    const { day, time } = stamp(startNs);
    return `clips/${cam}/${day}/${cam}-${time}${alertId ? `-${keyPart(alertId, 'alertId')}` : ''}.${ext}`;
  }

  /** Uploads a JPEG snapshot; returns where it went and its link. */
  uploadSnapshot(cameraId: string, timestampNs: bigint, jpeg: Buffer | Uint8Array, alertId?: string): Promise<StoredObject> {
    if (!(jpeg instanceof Uint8Array) || jpeg.byteLength < 4 || jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw expected('JPEG bytes', 'jpeg', jpeg);
    return this.store.put(this.snapshotKey(cameraId, timestampNs, alertId), jpeg, 'image/jpeg');
  }

  /** Uploads a clip file (MP4 / MKV / TS) from disk, streamed. */
  uploadClip(cameraId: string, startNs: bigint, filePath: string, alertId?: string): Promise<StoredObject> {
    const ext = path.extname(filePath).slice(1).toLowerCase() || 'mp4';
    const type = ext === 'mp4' ? 'video/mp4' : ext === 'mkv' ? 'video/x-matroska' : ext === 'ts' ? 'video/mp2t' : 'application/octet-stream';
    return this.store.putFile(this.clipKey(cameraId, startNs, ext, alertId), filePath, type);
  }
}
