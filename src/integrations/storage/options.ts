/**
 * The one parser of an object store's options: the store constructors, createObjectStore and the config loader
 * (`integrations.storage`) all call `parseStorageOptions`, so a bucket, a prefix or an endpoint is checked once, by
 * the same rule, with the caller's path in the message. The options have the config file's shape (credentials in
 * their own block), so the loader adds only what is its own (relative folders, link lifetime, the /media route).
 */
import { at, bool, fail, httpUrl, int, object, oneOf, str, type Raw } from '../../validate.js';

export interface LocalStoreOptions {
  /** Folder that receives the objects (created if missing). */
  directory: string;
  /** URL path or base the server serves `directory` under (default "/media"). */
  baseUrl?: string;
  prefix?: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface S3StoreOptions {
  bucket: string;
  region: string;
  /** Key prefix ending in "/", e.g. "vigil/site1/". */
  prefix?: string;
  /** For MinIO-style servers, e.g. http://minio.local:9000; AWS when absent. */
  endpoint?: string;
  /** Path-style addressing (endpoint/bucket/key), needed by most MinIO set-ups (default: true with an endpoint). */
  forcePathStyle?: boolean;
  credentials: S3Credentials;
  /** Links are `<publicBaseUrl>/<key>` when set (a CDN or a public bucket URL). */
  publicBaseUrl?: string;
  timeoutMs?: number;
}

export interface AzureStoreOptions {
  /** Storage account name. */
  account: string;
  /** Storage account key (base64), the Shared Key the blobs and the SAS links are signed with. */
  accountKey: string;
  container: string;
  prefix?: string;
  /** Blob service URL (Azurite: http://127.0.0.1:10000/devstoreaccount1); default https://<account>.blob.core.windows.net. */
  endpoint?: string;
  publicBaseUrl?: string;
  timeoutMs?: number;
}

export type StorageConfig = ({ type: 'local' } & LocalStoreOptions) | ({ type: 's3' } & S3StoreOptions) | ({ type: 'azure' } & AzureStoreOptions);

const PREFIX_RE = /^([A-Za-z0-9][A-Za-z0-9_.=-]{0,100}\/){1,8}$/;

function prefix(v: unknown, path: string): string {
  if (typeof v !== 'string' || !PREFIX_RE.test(v) || v.includes('..')) throw fail('a key prefix ending in "/" (e.g. "vigil/site1/")', path, v);
  return v;
}

function parseLocal(r: Raw, path: string): LocalStoreOptions {
  return {
    directory: str(r.directory, at(path, 'directory'), { what: 'a folder path' }),
    ...(r.baseUrl !== undefined ? { baseUrl: str(r.baseUrl, at(path, 'baseUrl'), { re: /^(\/|https?:\/\/)[^\s]*$/, what: 'a URL path or http(s) URL' }) } : {}),
    ...(r.prefix !== undefined && r.prefix !== '' ? { prefix: prefix(r.prefix, at(path, 'prefix')) } : {}),
  };
}

function parseS3(r: Raw, path: string): S3StoreOptions {
  const c = object(r.credentials, at(path, 'credentials'));
  const cp = at(path, 'credentials');
  return {
    bucket: str(r.bucket, at(path, 'bucket'), { re: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, what: 'an S3 bucket name' }),
    region: str(r.region, at(path, 'region'), { re: /^[a-z0-9-]{2,32}$/, what: 'a region such as "us-east-1"' }),
    ...(r.prefix !== undefined && r.prefix !== '' ? { prefix: prefix(r.prefix, at(path, 'prefix')) } : {}),
    ...(r.endpoint !== undefined ? { endpoint: httpUrl(r.endpoint, at(path, 'endpoint')) } : {}),
    ...(r.forcePathStyle !== undefined ? { forcePathStyle: bool(r.forcePathStyle, at(path, 'forcePathStyle')) } : {}),
    credentials: {
      accessKeyId: str(c.accessKeyId, at(cp, 'accessKeyId')),
      secretAccessKey: str(c.secretAccessKey, at(cp, 'secretAccessKey'), { secret: true }),
      ...(c.sessionToken !== undefined ? { sessionToken: str(c.sessionToken, at(cp, 'sessionToken'), { secret: true }) } : {}),
    },
    ...(r.publicBaseUrl !== undefined ? { publicBaseUrl: httpUrl(r.publicBaseUrl, at(path, 'publicBaseUrl')) } : {}),
    ...(r.timeoutMs !== undefined ? { timeoutMs: int(r.timeoutMs, at(path, 'timeoutMs'), 100, 600_000) } : {}),
  };
}

function parseAzure(r: Raw, path: string): AzureStoreOptions {
  return {
    account: str(r.account, at(path, 'account'), { re: /^[a-z0-9]{3,24}$/, what: 'a storage account name (3-24 lower-case letters and digits)' }),
    accountKey: str(r.accountKey, at(path, 'accountKey'), { re: /^[A-Za-z0-9+/]{20,}={0,2}$/, what: 'a base64 storage account key', secret: true }),
    container: str(r.container, at(path, 'container'), { re: /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/, what: 'a container name (3-63 lower-case letters, digits and single hyphens)' }),
    ...(r.prefix !== undefined && r.prefix !== '' ? { prefix: prefix(r.prefix, at(path, 'prefix')) } : {}),
    ...(r.endpoint !== undefined ? { endpoint: httpUrl(r.endpoint, at(path, 'endpoint')) } : {}),
    ...(r.publicBaseUrl !== undefined ? { publicBaseUrl: httpUrl(r.publicBaseUrl, at(path, 'publicBaseUrl')) } : {}),
    ...(r.timeoutMs !== undefined ? { timeoutMs: int(r.timeoutMs, at(path, 'timeoutMs'), 100, 600_000) } : {}),
  };
}

/**
 * Checks an object store's options (`type` picks the store) and returns the fields given, typed. Throws
 * VigilArgumentError "Expected X for <path>.<field> but received V"; secrets are never echoed.
 */
export function parseStorageOptions(raw: unknown, path: string): StorageConfig {
  const r = object(raw, path);
  const type = oneOf(r.type, at(path, 'type'), ['local', 's3', 'azure'] as const);
  if (type === 'azure') return { type, ...parseAzure(r, path) };
  return type === 'local' ? { type, ...parseLocal(r, path) } : { type, ...parseS3(r, path) };
}
