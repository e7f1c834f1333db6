/**
 * S3 upload against a simulated S3 endpoint (node:http on 127.0.0.1) written from the S3 REST API documentation
 * (PutObject, path-style `PUT /<bucket>/<key>`) and the AWS Signature Version 4 specification: no MinIO or S3
 * runs here. The simulator recomputes the SigV4 signature from the request and the secret key it knows, checks
 * x-amz-content-sha256 against the body it received, and stores the body for comparison.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MediaUploader, S3Store, StorageError } from '../../src/integrations/storage/store.js';
import { LinkedMediaUploader, LinkSigner } from '../../src/integrations/storage/links.js';
import { PeerServer } from '../helpers/peer-server.js';

const AKID = 'AKIAVIGILTEST0000001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYVIGILKEY01';
const REGION = 'eu-west-3';

interface Put {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  signedHeaders: string[];
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const hmac = (k: Buffer | string, s: string): Buffer => createHmac('sha256', k).update(s).digest();

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

class S3Sim extends PeerServer {
  readonly objects = new Map<string, Put>();
  readonly failures: string[] = [];
  private error(res: http.ServerResponse, status: number, code: string, message: string): void {
    this.failures.push(code);
    res.writeHead(status, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`);
  }
  /** Verifies AWS SigV4 (header form) and the payload hash; returns an error code or null. */
  private verify(req: http.IncomingMessage, body: Buffer): { code: string; message: string; signed: string[] } | null | string[] {
    const auth = req.headers.authorization ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([a-z0-9-]+)\/s3\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
    if (!m) return { code: 'AuthorizationHeaderMalformed', message: 'bad Authorization header shape', signed: [] };
    const [, akid, date, region, signedList, signature] = m;
    const signed = signedList!.split(';');
    if (akid !== AKID) return { code: 'InvalidAccessKeyId', message: 'unknown key', signed };
    if (region !== REGION) return { code: 'AuthorizationHeaderMalformed', message: 'wrong region', signed };
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) return { code: 'AccessDenied', message: 'bad x-amz-date', signed };
    for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256']) if (!signed.includes(h)) return { code: 'AccessDenied', message: `${h} not signed`, signed };
    const payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha(body)) return { code: 'XAmzContentSHA256Mismatch', message: 'payload hash mismatch', signed };
    const u = new URL(req.url ?? '/', 'http://x');
    const query = [...u.searchParams.entries()].map(([k, v]) => [rfc3986(k), rfc3986(v)]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
    const headers = signed.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
    const canonical = [req.method, u.pathname, query, headers, signedList, payloadHash].join('\n');
    const scope = `${date}/${region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, date!), region!), 's3'), 'aws4_request');
    if (createHmac('sha256', key).update(toSign).digest('hex') !== signature) return { code: 'SignatureDoesNotMatch', message: 'signature mismatch', signed };
    return signed;
  }
  /**
   * Verifies a presigned URL (SigV4 query-string form: X-Amz-Algorithm, -Credential, -Date, -Expires,
   * -SignedHeaders, -Signature; payload UNSIGNED-PAYLOAD); returns an error or null.
   */
  private verifyPresigned(req: http.IncomingMessage): { code: string; message: string } | null {
    const u = new URL(req.url ?? '/', 'http://x');
    const q = u.searchParams;
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256') return { code: 'AccessDenied', message: 'not a presigned request' };
    const cred = /^([^/]+)\/(\d{8})\/([a-z0-9-]+)\/s3\/aws4_request$/.exec(q.get('X-Amz-Credential') ?? '');
    if (!cred || cred[1] !== AKID || cred[3] !== REGION) return { code: 'InvalidAccessKeyId', message: 'bad credential scope' };
    const amzDate = q.get('X-Amz-Date') ?? '';
    const expires = Number(q.get('X-Amz-Expires'));
    if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== cred[2] || !(expires >= 1 && expires <= 604800)) {
      return { code: 'AuthorizationQueryParametersError', message: 'bad date or expiry' };
    }
    const signedList = q.get('X-Amz-SignedHeaders') ?? '';
    const query = [...q.entries()]
      .filter(([k]) => k !== 'X-Amz-Signature')
      .map(([k, v]) => [rfc3986(k), rfc3986(v)])
      .sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : 0))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const headers = signedList.split(';').map((h) => `${h}:${String(req.headers[h] ?? '').trim()}\n`).join('');
    const canonical = [req.method, u.pathname, query, headers, signedList, 'UNSIGNED-PAYLOAD'].join('\n');
    const scope = `${cred[2]}/${REGION}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha(canonical)].join('\n');
    const key = hmac(hmac(hmac(hmac(`AWS4${SECRET}`, cred[2]!), REGION), 's3'), 'aws4_request');
    if (createHmac('sha256', key).update(toSign).digest('hex') !== q.get('X-Amz-Signature')) return { code: 'SignatureDoesNotMatch', message: 'signature mismatch' };
    const t = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
    if (Date.now() > t + expires * 1000) return { code: 'AccessDenied', message: 'Request has expired' };
    return null;
  }
  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    if (req.method === 'GET') {
      const bad = this.verifyPresigned(req);
      if (bad) return this.error(res, 403, bad.code, bad.message);
      const obj = this.objects.get(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!obj) return this.error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      res.writeHead(200, { 'content-type': String(obj.headers['content-type']), 'content-length': obj.body.length });
      res.end(obj.body);
      return;
    }
    if (req.method !== 'PUT') return this.error(res, 405, 'MethodNotAllowed', 'only PutObject and GetObject here');
    const v = this.verify(req, body);
    if (!Array.isArray(v)) {
      if (v) return this.error(res, 403, v.code, v.message);
      return;
    }
    const p = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (!p.startsWith('/media-bucket/')) return this.error(res, 404, 'NoSuchBucket', 'The specified bucket does not exist');
    if (Number(req.headers['content-length']) !== body.length) return this.error(res, 400, 'IncompleteBody', 'length mismatch');
    const checksum = req.headers['x-amz-checksum-sha256'];
    if (checksum !== undefined && checksum !== createHash('sha256').update(body).digest('base64')) {
      return this.error(res, 400, 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
    }
    this.objects.set(p, { path: p, headers: req.headers, body, signedHeaders: v });
    res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"`, 'x-amz-request-id': '4442587FB7D0A2F9' });
    res.end();
  }
}

describe('S3 upload (simulated S3 endpoint, SigV4 verified)', () => {
  const sim = new S3Sim();
  let dir: string;
  before(async () => {
    await sim.start();
    dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-s3-'));
  });
  after(async () => {
    await sim.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('snapshot PutObject: path-style key, signed headers, body and link', async () => {
    const store = new S3Store({ bucket: 'media-bucket', region: REGION, prefix: 'site1/', endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    const up = new MediaUploader(store);
    try {
      const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(5000, 7), Buffer.from([0xff, 0xd9])]);
      const o = await up.uploadSnapshot('gate-1', 1_764_277_503_123_000_000n, jpeg, 'alert-42');
      assert.equal(o.key, 'site1/snapshots/gate-1/2025/11/27/gate-1-20251127T210503.123Z-alert-42.jpg');
      assert.equal(o.url, `${sim.url}/media-bucket/site1/snapshots/gate-1/2025/11/27/gate-1-20251127T210503.123Z-alert-42.jpg`);
      assert.equal(o.size, 5006);
      assert.equal(o.sha256, sha(jpeg));
      const put = sim.objects.get(`/media-bucket/${o.key}`)!;
      assert.ok(put, 'object stored at the path-style key');
      assert.deepEqual(put.body, jpeg);
      assert.equal(put.headers['content-type'], 'image/jpeg');
      assert.equal(put.headers['x-amz-meta-vigil-sha256'], sha(jpeg));
      assert.equal(put.headers['x-amz-content-sha256'], sha(jpeg));
      assert.match(String(put.headers.authorization), new RegExp(`^AWS4-HMAC-SHA256 Credential=${AKID}/\\d{8}/${REGION}/s3/aws4_request, ?SignedHeaders=`));
      assert.ok(put.signedHeaders.includes('content-type'));
      assert.deepEqual(sim.failures, []);
    } finally {
      store.close();
    }
  });

  test('clip upload streams a file; content intact', async () => {
    const store = new S3Store({ bucket: 'media-bucket', region: REGION, endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    const up = new MediaUploader(store);
    try {
      const file = path.join(dir, 'clip.mp4');
      const content = Buffer.alloc(300_000);
      for (let i = 0; i < content.length; i++) content[i] = (i * 31) & 0xff;
      await writeFile(file, content);
      const o = await up.uploadClip('gate-1', 1_764_277_500_000_000_000n, file, 'alert-42');
      assert.equal(o.key, 'clips/gate-1/2025/11/27/gate-1-20251127T210500.000Z-alert-42.mp4');
      assert.equal(o.contentType, 'video/mp4');
      const put = sim.objects.get(`/media-bucket/${o.key}`)!;
      assert.equal(put.body.length, 300_000);
      assert.ok(put.body.equals(content));
      assert.equal(put.headers['content-type'], 'video/mp4');
      // A streamed body is not hashed into the signature; its SHA-256 travels as x-amz-checksum-sha256 instead.
      assert.equal(put.headers['x-amz-content-sha256'], 'UNSIGNED-PAYLOAD');
      assert.equal(put.headers['x-amz-checksum-sha256'], createHash('sha256').update(content).digest('base64'));
      assert.deepEqual(sim.failures, []);
    } finally {
      store.close();
    }
  });

  test('a wrong secret is refused by the signature check; the error names no secret', async () => {
    const store = new S3Store({ bucket: 'media-bucket', region: REGION, endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: 'not-the-right-secret-key' } });
    try {
      await assert.rejects(store.put('x/y.jpg', Buffer.from([0xff, 0xd8, 1, 2]), 'image/jpeg'), (err: unknown) => {
        assert.ok(err instanceof StorageError);
        assert.equal(err.code, 'E_STORAGE_UPLOAD');
        assert.match(err.message, /^S3 upload of x\/y\.jpg to bucket media-bucket failed: SignatureDoesNotMatch \(HTTP 403\)/);
        assert.ok(!err.message.includes('not-the-right-secret-key'));
        return true;
      });
      assert.deepEqual(sim.failures, ['SignatureDoesNotMatch']);
    } finally {
      store.close();
      sim.failures.length = 0;
    }
    const wrongBucket = new S3Store({ bucket: 'other-bucket', region: REGION, endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    try {
      await assert.rejects(wrongBucket.put('a.jpg', Buffer.from([1]), 'image/jpeg'), { code: 'E_STORAGE_UPLOAD', message: /NoSuchBucket \(HTTP 404\)/ });
    } finally {
      wrongBucket.close();
      sim.failures.length = 0;
    }
  });

  test('alert links are presigned GET URLs: the object opens until they expire; a tampered one is refused', async () => {
    const store = new S3Store({ bucket: 'media-bucket', region: REGION, prefix: 'site1/', endpoint: sim.url, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    const up = new LinkedMediaUploader(store, { signer: new LinkSigner(Buffer.alloc(32, 7)), defaultTtlS: 3600 });
    try {
      const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);
      const obj = await up.uploadSnapshot('cam-1', 1_764_270_000_000_000_000n, jpeg, 'a-9');
      assert.equal(obj.key, 'site1/snapshots/cam-1/2025/11/27/cam-1-20251127T190000.000Z-a-9.jpg');
      const u = new URL(obj.url);
      assert.equal(`${u.origin}${u.pathname}`, `${sim.url}/media-bucket/site1/snapshots/cam-1/2025/11/27/cam-1-20251127T190000.000Z-a-9.jpg`);
      assert.deepEqual(
        [u.searchParams.get('X-Amz-Algorithm'), u.searchParams.get('X-Amz-Expires'), u.searchParams.get('X-Amz-SignedHeaders')],
        ['AWS4-HMAC-SHA256', '3600', 'host'],
      );
      assert.ok(!obj.url.includes(SECRET));
      const got = await fetch(obj.url);
      assert.deepEqual([got.status, got.headers.get('content-type'), Buffer.from(await got.arrayBuffer())], [200, 'image/jpeg', jpeg]);
      u.searchParams.set('X-Amz-Expires', '604800');
      const tampered = await fetch(u);
      assert.equal(tampered.status, 403);
      assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);
      // Signed one second of validity, read two seconds later: expired.
      const short = await up.signedUrl(obj.key, 1);
      await new Promise((r) => setTimeout(r, 2100));
      const late = await fetch(short);
      assert.equal(late.status, 403);
      assert.match(await late.text(), /<Message>Request has expired<\/Message>/);
      await assert.rejects(up.signedUrl(obj.key, 700_000), { code: 'E_ARGUMENT', message: 'Expected an integer number of seconds 1-604800 for ttlS but received 700000' });
    } finally {
      store.close();
    }
  });

  test('configuration and keys are validated; links per addressing style', () => {
    assert.throws(() => new S3Store({ bucket: 'Bad_Bucket', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } }), {
      message: 'Expected an S3 bucket name for storage.s3.bucket but received "Bad_Bucket"',
    });
    assert.throws(() => new S3Store({ bucket: 'b-1', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, prefix: '../x/' }), {
      message: 'Expected a key prefix ending in "/" (e.g. "vigil/site1/") for storage.s3.prefix but received "../x/"',
    });
    assert.throws(() => new S3Store({ bucket: 'b-1', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, endpoint: 'http://k:s@minio:9000' }), {
      message: 'Expected a URL without user:password for storage.s3.endpoint (put credentials in username/password)',
    });
    const aws = new S3Store({ bucket: 'media-bucket', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET } });
    assert.equal(aws.linkFor('a/b c.jpg'), 'https://media-bucket.s3.eu-west-3.amazonaws.com/a/b%20c.jpg');
    const vhost = new S3Store({ bucket: 'media-bucket', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, endpoint: 'https://s3.example.net', forcePathStyle: false });
    assert.equal(vhost.linkFor('a.jpg'), 'https://media-bucket.s3.example.net/a.jpg');
    vhost.close();
    const cdn = new S3Store({ bucket: 'media-bucket', region: REGION, credentials: { accessKeyId: AKID, secretAccessKey: SECRET }, publicBaseUrl: 'https://cdn.example.net/v/' });
    assert.equal(cdn.linkFor('a.jpg'), 'https://cdn.example.net/v/a.jpg');
    cdn.close();
    const up = new MediaUploader(aws);
    assert.throws(() => up.snapshotKey('../etc', 1n), { message: 'Expected an id of [A-Za-z0-9_.-] for cameraId but received "../etc"' });
    assert.throws(() => up.uploadSnapshot('cam', 1n, Buffer.from('GIF89a')), { message: 'Expected JPEG bytes for jpeg but received an object of type Buffer' });
    aws.close();
  });
});
