/**
 * Alert media in Azure Blob Storage (block blobs in one container), with the Shared Key of the storage account.
 * Links are read-only SAS URLs (signed locally with the account key, no request made) valid for the link lifetime,
 * or `<publicBaseUrl>/<key>` for a public container or a CDN. `endpoint` points at another blob service (Azurite,
 * sovereign clouds): `http://127.0.0.1:10000/devstoreaccount1`; default `https://<account>.blob.core.windows.net`.
 */
import { createHash } from 'node:crypto';
import {
  BlobSASPermissions,
  BlobServiceClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type ContainerClient,
} from '@azure/storage-blob';
import { expected } from '../../errors.js';
import { redactText } from '../../redact.js';
import type { AzureStoreOptions } from './options.js';
import { parseStorageOptions } from './options.js';
import { StorageError, checkKey, sourceFile, type ObjectStore, type StoredObject } from './store.js';

export class AzureBlobStore implements ObjectStore {
  readonly kind = 'azure' as const;
  readonly account: string;
  readonly container: string;
  readonly prefix: string;
  readonly #credential: StorageSharedKeyCredential;
  readonly #client: ContainerClient;
  readonly #key: string;
  readonly #publicBase: string | null;
  readonly #timeoutMs: number;

  constructor(raw: AzureStoreOptions) {
    const o = parseStorageOptions({ ...(raw as object), type: 'azure' }, 'storage.azure') as AzureStoreOptions;
    this.account = o.account;
    this.container = o.container;
    this.prefix = o.prefix ?? '';
    this.#key = o.accountKey;
    this.#timeoutMs = o.timeoutMs ?? 30_000;
    this.#credential = new StorageSharedKeyCredential(o.account, o.accountKey);
    const endpoint = (o.endpoint ?? `https://${o.account}.blob.core.windows.net`).replace(/\/+$/, '');
    const service = new BlobServiceClient(endpoint, this.#credential, { retryOptions: { maxTries: 2, tryTimeoutInMs: this.#timeoutMs } });
    this.#client = service.getContainerClient(o.container);
    this.#publicBase = o.publicBaseUrl === undefined ? null : o.publicBaseUrl.replace(/\/+$/, '');
  }

  #fail(key: string, err: unknown): never {
    const e = err as { statusCode?: number; code?: string; message?: string };
    const why = `${e.code ?? 'Error'}${e.statusCode ? ` (HTTP ${e.statusCode})` : ''}`;
    // The SDK's messages can carry request details; the account key never leaves this object.
    throw new StorageError('E_STORAGE_UPLOAD', redactText(`Azure upload of ${key} to container ${this.container} failed: ${why}`, [this.#key]));
  }

  async put(key: string, body: Buffer | Uint8Array, contentType: string): Promise<StoredObject> {
    const full = checkKey(this.prefix + key);
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    const sha256 = createHash('sha256').update(buf).digest('hex');
    try {
      await this.#client.getBlockBlobClient(full).uploadData(buf, {
        blobHTTPHeaders: { blobContentType: contentType },
        metadata: { vigilsha256: sha256 },
        abortSignal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (err) {
      this.#fail(full, err);
    }
    return { key: full, url: this.linkFor(full), size: buf.length, contentType, sha256 };
  }

  async putFile(key: string, filePath: string, contentType: string): Promise<StoredObject> {
    const full = checkKey(this.prefix + key);
    const { size, sha256 } = await sourceFile(filePath);
    try {
      // Streamed in blocks: a clip is never held in memory whole.
      await this.#client.getBlockBlobClient(full).uploadFile(filePath, {
        blobHTTPHeaders: { blobContentType: contentType },
        metadata: { vigilsha256: sha256 },
        abortSignal: AbortSignal.timeout(this.#timeoutMs * 4),
      });
    } catch (err) {
      this.#fail(full, err);
    }
    return { key: full, url: this.linkFor(full), size, contentType, sha256 };
  }

  /** The plain URL of the blob at `key` (full key): public containers and CDNs only. */
  linkFor(key: string): string {
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return this.#publicBase ? `${this.#publicBase}/${encoded}` : `${this.#client.url}/${encoded}`;
  }

  /** A read-only SAS URL for `key` (full key) valid `expiresInS` seconds (1 s to 7 days); the public link with publicBaseUrl. */
  async presignGet(key: string, expiresInS: number, now = new Date()): Promise<string> {
    checkKey(key);
    if (!Number.isInteger(expiresInS) || expiresInS < 1 || expiresInS > 604_800) throw expected('an integer number of seconds 1-604800', 'expiresInS', expiresInS);
    if (this.#publicBase) return this.linkFor(key);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: this.container,
        blobName: key,
        permissions: BlobSASPermissions.parse('r'),
        // A little before now: clocks of the service and this host differ.
        startsOn: new Date(now.getTime() - 5 * 60_000),
        expiresOn: new Date(now.getTime() + expiresInS * 1000),
      },
      this.#credential,
    ).toString();
    return `${this.linkFor(key)}?${sas}`;
  }

  close(): void {
    // The SDK keeps no connection that needs closing.
  }
}
