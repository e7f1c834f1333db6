/**
 * Links to alert media that open without a Vigil login until they expire (a link in a Slack message or an e-mail):
 *  - local folder store: `<baseUrl>/<key>?exp=<unix s>&sig=<HMAC-SHA256>`; the server's GET /media/* checks the
 *    signature with a secret generated into the data folder on first run (`media-link.key`, mode 0600), so links
 *    survive restarts and a leaked link never grants more than that object until `exp`;
 *  - S3: a presigned GET URL (SigV4 query signing, at most 7 days).
 *
 * The HMAC covers the object key (decoded, as checkKey accepts it) and the expiry, nothing else: the same key
 * reached through another spelling of the URL (percent-encoding) verifies the same, and no other object does.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { VigilError, expected } from '../../errors.js';
import { AzureBlobStore } from './azure.js';
import { checkKey, LocalFolderStore, MediaUploader, S3Store, type ObjectStore, type StoredObject } from './store.js';

export const LINK_KEY_FILE = 'media-link.key';

/** Why a signed link was refused: E_MEDIA_LINK_INVALID (tampered, malformed) or E_MEDIA_LINK_EXPIRED. */
export class MediaLinkError extends VigilError {}

/** Reads the link secret from `dir`, creating it (32 random bytes) on first run. */
export function loadLinkSecret(dir: string): Buffer {
  const file = path.join(dir, LINK_KEY_FILE);
  mkdirSync(dir, { recursive: true });
  try {
    // 'wx': two processes starting together cannot both write one; the loser reads the winner's.
    writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  chmodSync(file, 0o600);
  const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
  if (secret.length < 32) throw new VigilError('E_CONFIG', `The media link secret in ${file} is shorter than 32 bytes: delete it to generate a new one`);
  return secret;
}

export class LinkSigner {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    if (!Buffer.isBuffer(secret) || secret.length < 32) throw expected('a secret of at least 32 bytes', 'secret', secret);
    this.#secret = secret;
  }

  sign(key: string, expS: number): string {
    return createHmac('sha256', this.#secret).update(`vigil-media-v1\n${key}\n${expS}`).digest('base64url');
  }

  /** Throws MediaLinkError unless `sig` signs `key` until `exp` (unix seconds) and `exp` is not past `nowS`. */
  verify(key: string, exp: string | null, sig: string | null, nowS = Math.floor(Date.now() / 1000)): void {
    if (exp === null || sig === null || !/^[0-9]{1,12}$/.test(exp) || !/^[A-Za-z0-9_-]{43}$/.test(sig)) {
      throw new MediaLinkError('E_MEDIA_LINK_INVALID', 'Media link is malformed: expected exp=<unix seconds>&sig=<signature>');
    }
    const want = Buffer.from(this.sign(key, Number(exp)));
    const got = Buffer.from(sig);
    // Checked before the expiry: an expired link is reported as such only when it is genuine.
    if (want.length !== got.length || !timingSafeEqual(want, got)) throw new MediaLinkError('E_MEDIA_LINK_INVALID', 'Media link signature is not valid');
    if (Number(exp) < nowS) throw new MediaLinkError('E_MEDIA_LINK_EXPIRED', 'Media link has expired');
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/**
 * The uploader the runtime hands out: uploads return links that open without a login until they expire
 * (`url` of each StoredObject), and `signedUrl(key)` makes one for any stored key.
 */
export class LinkedMediaUploader extends MediaUploader {
  readonly #signer: LinkSigner;
  readonly #baseUrl: string;
  readonly defaultTtlS: number;

  constructor(store: ObjectStore, options: { signer: LinkSigner; baseUrl?: string; defaultTtlS: number }) {
    super(store);
    if (!Number.isInteger(options.defaultTtlS) || options.defaultTtlS < 1 || options.defaultTtlS > 604_800) {
      throw expected('an integer number of seconds 1-604800', 'defaultTtlS', options.defaultTtlS);
    }
    this.#signer = options.signer;
    this.#baseUrl = (options.baseUrl ?? '/media').replace(/\/+$/, '');
    this.defaultTtlS = options.defaultTtlS;
  }

  /** A link to the object at `key` (full key, as in StoredObject.key) valid for `ttlS` seconds. */
  async signedUrl(key: string, ttlS = this.defaultTtlS, nowS = Math.floor(Date.now() / 1000)): Promise<string> {
    checkKey(key);
    if (!Number.isInteger(ttlS) || ttlS < 1 || ttlS > 604_800) throw expected('an integer number of seconds 1-604800', 'ttlS', ttlS);
    if (this.store instanceof S3Store) return this.store.presignGet(key, ttlS);
    if (this.store instanceof AzureBlobStore) return this.store.presignGet(key, ttlS);
    const exp = nowS + ttlS;
    return `${this.#baseUrl}/${encodeKey(key)}?exp=${exp}&sig=${this.#signer.sign(key, exp)}`;
  }

  override async uploadSnapshot(cameraId: string, timestampNs: bigint, jpeg: Buffer | Uint8Array, alertId?: string): Promise<StoredObject> {
    const obj = await super.uploadSnapshot(cameraId, timestampNs, jpeg, alertId);
    return { ...obj, url: await this.signedUrl(obj.key) };
  }

  override async uploadClip(cameraId: string, startNs: bigint, filePath: string, alertId?: string): Promise<StoredObject> {
    const obj = await super.uploadClip(cameraId, startNs, filePath, alertId);
    return { ...obj, url: await this.signedUrl(obj.key) };
  }

  /** The local folder store behind /media/*, or null when media go to S3. */
  get localStore(): LocalFolderStore | null {
    return this.store instanceof LocalFolderStore ? this.store : null;
  }

  get signer(): LinkSigner {
    return this.#signer;
  }
}
