/**
 * Simulated VMS / device servers for the adapter tests (node:http on 127.0.0.1). None of these products can run
 * here, so each simulator answers the documented requests of its vendor's API with real-shaped bodies:
 *  - Milestone XProtect API Gateway: OAuth password grant at /IDP/connect/token, REST /api/rest/v1/* with paging;
 *  - Hikvision ISAPI: XML (InputProxyChannelList, ResponseStatus errors), manual record control;
 *  - Axis VAPIX: param.cgi key=value lines, record.cgi / stop.cgi XML, virtual inputs;
 *  - Dahua HTTP CGI: magicBox / configManager key=value lines.
 * HTTP Digest (RFC 7616) is verified here independently of the client code: the simulator issues nonces, recomputes
 * the response from the password it knows, and refuses a nonce count that does not increase.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { PeerServer } from '../helpers/peer-server.js';

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface SimResponse {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Never answer (for timeout tests). */
  hang?: boolean;
  /** Stream this many bytes of filler without a Content-Length (for size-cap tests). */
  streamBytes?: number;
}

export type Handler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

export interface DigestPolicy {
  /** Algorithms offered, one challenge each, in this order. */
  algorithms: ('MD5' | 'SHA-256' | 'MD5-sess' | 'SHA-256-sess')[];
  realm: string;
  username: string;
  password: string;
  /** Send qop="auth" (default true; false simulates RFC 2069 devices). */
  qop?: boolean;
}

interface NonceState {
  lastNc: number;
  stale: boolean;
}

const hashes: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(alg: string, s: string): string {
  return createHash(hashes[alg.replace(/-sess$/, '')]!).update(s).digest('hex');
}

function parseDigestHeader(v: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([a-zA-Z0-9_-]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v.slice(7))) !== null) out[m[1]!.toLowerCase()] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return out;
}

export class Sim extends PeerServer {
  /** Every request seen, in order (method + path with query). */
  readonly log: string[] = [];
  /** Authorization headers seen, in order. */
  readonly authHeaders: string[] = [];
  digest: DigestPolicy | null = null;
  /** When set, answers every authenticated request instead of the vendor handler. */
  override: Handler | null = null;
  private readonly nonces = new Map<string, NonceState>();
  authFailures = 0;

  constructor(private readonly handler: Handler) {
    super();
  }

  /** Marks every issued nonce stale: the next request gets 401 with stale=true. */
  expireNonces(): void {
    for (const s of this.nonces.values()) s.stale = true;
  }

  private challenge(stale: boolean): string[] {
    const d = this.digest!;
    const nonce = randomBytes(16).toString('base64');
    this.nonces.set(nonce, { lastNc: 0, stale: false });
    const opaque = createHash('md5').update(d.realm).digest('hex');
    return d.algorithms.map(
      (a) =>
        `Digest realm="${d.realm}", ${d.qop === false ? '' : 'qop="auth", '}algorithm=${a}, nonce="${nonce}", opaque="${opaque}"${stale ? ', stale=true' : ''}`,
    );
  }

  /** Checks the Authorization header; returns null when accepted, else whether the nonce was stale. */
  private verify(header: string | undefined, method: string, uri: string): { stale: boolean } | null {
    const d = this.digest!;
    if (!header || !header.startsWith('Digest ')) return { stale: false };
    const p = parseDigestHeader(header);
    const alg = p.algorithm ?? 'MD5';
    if (!d.algorithms.includes(alg as DigestPolicy['algorithms'][number])) return { stale: false };
    if (p.username !== d.username || p.realm !== d.realm || p.uri !== uri) return { stale: false };
    const st = p.nonce !== undefined ? this.nonces.get(p.nonce) : undefined;
    if (!st) return { stale: false };
    let ha1 = h(alg, `${d.username}:${d.realm}:${d.password}`);
    if (alg.endsWith('-sess')) ha1 = h(alg, `${ha1}:${p.nonce}:${p.cnonce}`);
    const ha2 = h(alg, `${method}:${uri}`);
    let expected: string;
    if (d.qop === false) {
      expected = h(alg, `${ha1}:${p.nonce}:${ha2}`);
    } else {
      if (p.qop !== 'auth' || !p.nc || !/^[0-9a-f]{8}$/.test(p.nc) || !p.cnonce) return { stale: false };
      expected = h(alg, `${ha1}:${p.nonce}:${p.nc}:${p.cnonce}:auth:${ha2}`);
    }
    if (p.response !== expected) return { stale: false };
    if (st.stale) return { stale: true };
    if (d.qop !== false) {
      const nc = parseInt(p.nc!, 16);
      if (nc <= st.lastNc) return { stale: false }; // replayed nonce count
      st.lastNc = nc;
    }
    return null;
  }

  protected async handle(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): Promise<void> {
    const body = raw.toString('utf8');
    const uri = req.url ?? '/';
    const u = new URL(uri, 'http://sim');
    this.log.push(`${req.method} ${uri}`);
    if (req.headers.authorization) this.authHeaders.push(req.headers.authorization);
    if (this.digest) {
      const bad = this.verify(req.headers.authorization, req.method ?? 'GET', uri);
      if (bad) {
        if (req.headers.authorization && !bad.stale) this.authFailures++;
        res.setHeader('www-authenticate', this.challenge(bad.stale));
        res.writeHead(401, { 'content-type': 'text/html' });
        res.end('<html><body>401 Unauthorized</body></html>');
        return;
      }
    }
    let out: SimResponse;
    try {
      out = await (this.override ?? this.handler)({
        method: req.method ?? 'GET',
        path: u.pathname,
        query: u.searchParams,
        headers: req.headers,
        body,
      });
    } catch (err) {
      out = { status: 500, body: String(err) };
    }
    if (out.hang) return; // the client's timeout has to fire
    if (out.streamBytes !== undefined) {
      res.writeHead(out.status ?? 200, { 'content-type': 'application/xml', ...(out.headers ?? {}) });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let left = out.streamBytes;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!res.write(chunk.subarray(0, n))) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
      return;
    }
    res.writeHead(out.status ?? 200, out.headers ?? {});
    res.end(out.body ?? '');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Milestone XProtect API Gateway
// ---------------------------------------------------------------------------------------------------------------

export interface MilestoneCamera {
  id: string;
  name: string;
  displayName: string;
  enabled: boolean;
}

export class MilestoneSim extends Sim {
  cameras: MilestoneCamera[] = [];
  readonly tokens = new Set<string>();
  readonly bookmarks: Record<string, unknown>[] = [];
  readonly events: Record<string, unknown>[] = [];
  tokenRequests = 0;
  expiresIn = 3600;
  /** OAuth clients accepted with the client-credentials grant (client id -> secret). */
  readonly clients = new Map<string, string>();

  constructor(
    readonly username: string,
    readonly password: string,
  ) {
    super((req) => this.route(req));
  }

  revokeTokens(): void {
    this.tokens.clear();
  }

  private json(status: number, body: unknown): SimResponse {
    return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify(body) };
  }

  private route(req: SimRequest): SimResponse {
    if (req.method === 'POST' && req.path === '/IDP/connect/token') {
      this.tokenRequests++;
      const f = new URLSearchParams(req.body);
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') return this.json(400, { error: 'invalid_request' });
      if (f.get('grant_type') === 'client_credentials') {
        const id = f.get('client_id') ?? '';
        if (!this.clients.has(id) || this.clients.get(id) !== f.get('client_secret')) return this.json(400, { error: 'invalid_client' });
        const token = randomBytes(24).toString('base64url');
        this.tokens.add(token);
        return this.json(200, { access_token: token, expires_in: this.expiresIn, token_type: 'Bearer', scope: 'managementserver' });
      }
      if (f.get('grant_type') !== 'password' || f.get('client_id') !== 'GrantValidatorClient') {
        return this.json(400, { error: 'unsupported_grant_type' });
      }
      if (f.get('username') !== this.username || f.get('password') !== this.password) {
        return this.json(400, { error: 'invalid_grant', error_description: 'invalid_username_or_password' });
      }
      const token = randomBytes(24).toString('base64url');
      this.tokens.add(token);
      return this.json(200, { access_token: token, expires_in: this.expiresIn, token_type: 'Bearer', scope: 'managementserver' });
    }
    const auth = req.headers.authorization ?? '';
    if (!auth.startsWith('Bearer ') || !this.tokens.has(auth.slice(7))) {
      return { status: 401, headers: { 'www-authenticate': 'Bearer error="invalid_token"' }, body: '' };
    }
    if (req.method === 'GET' && req.path === '/api/rest/v1/cameras') {
      const page = Number(req.query.get('page') ?? '0');
      const size = Number(req.query.get('size') ?? '100');
      const slice = this.cameras.slice(page * size, page * size + size);
      return this.json(200, {
        array: slice.map((c) => ({
          displayName: c.displayName,
          enabled: c.enabled,
          name: c.name,
          description: '',
          lastModified: '2026-11-01T10:00:00.0000000Z',
          id: c.id,
          channel: 0,
          icon: 0,
          createdDate: '2026-01-01T00:00:00.0000000Z',
          relations: { parent: { type: 'hardware', id: randomUUID() }, self: { type: 'cameras', id: c.id } },
        })),
      });
    }
    const one = /^\/api\/rest\/v1\/cameras\/([0-9a-f-]{36})$/.exec(req.path);
    if (req.method === 'GET' && one) {
      const cam = this.cameras.find((c) => c.id === one[1]);
      return cam ? this.json(200, { data: { ...cam } }) : this.json(404, { error: { httpCode: 404, details: [] } });
    }
    if (req.method === 'POST' && req.path === '/api/rest/v1/bookmarks') {
      const b = JSON.parse(req.body) as Record<string, unknown>;
      if (!this.cameras.some((c) => c.id === b.deviceId)) return this.json(404, { error: { httpCode: 404 } });
      this.bookmarks.push(b);
      return this.json(201, { data: { id: randomUUID() } });
    }
    if (req.method === 'POST' && req.path === '/api/rest/v1/events') {
      const b = JSON.parse(req.body) as Record<string, unknown>;
      this.events.push(b);
      return this.json(202, { data: { id: randomUUID() } });
    }
    return this.json(404, { error: { httpCode: 404 } });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Hikvision ISAPI (NVR)
// ---------------------------------------------------------------------------------------------------------------

export interface HikChannel {
  id: string;
  name: string;
  ip: string;
  model: string;
}

const HIK_NS = 'http://www.hikvision.com/ver20/XMLSchema';

export function hikResponseStatus(url: string, code: number, str: string, sub: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ResponseStatus version="2.0" xmlns="${HIK_NS}">
<requestURL>${url}</requestURL>
<statusCode>${code}</statusCode>
<statusString>${str}</statusString>
<subStatusCode>${sub}</subStatusCode>
</ResponseStatus>`;
}

export class HikvisionSim extends Sim {
  channels: HikChannel[] = [];
  readonly recording = new Set<string>();
  readonly recordLog: string[] = [];
  /** RTSP port reported by /ISAPI/Security/adminAccesses. */
  rtspPort = 554;

  constructor(username: string, password: string, algorithms: DigestPolicy['algorithms'] = ['MD5']) {
    super((req) => this.route(req));
    this.digest = { algorithms, realm: 'DS-7608NI-K2', username, password };
  }

  channelListXml(): string {
    const items = this.channels
      .map(
        (c) => `<InputProxyChannel version="2.0" xmlns="${HIK_NS}">
<id>${c.id}</id>
<name>${c.name}</name>
<sourceInputPortDescriptor>
<proxyProtocol>HIKVISION</proxyProtocol>
<addressingFormatType>ipaddress</addressingFormatType>
<ipAddress>${c.ip}</ipAddress>
<managePortNo>8000</managePortNo>
<srcInputPort>1</srcInputPort>
<userName>admin</userName>
<streamType>auto</streamType>
<model>${c.model}</model>
<serialNumber>${c.model}20260101AACHE00000${c.id}</serialNumber>
</sourceInputPortDescriptor>
<enableAnr>false</enableAnr>
</InputProxyChannel>`,
      )
      .join('\n');
    return `<?xml version="1.0" encoding="UTF-8"?>
<InputProxyChannelList version="2.0" xmlns="${HIK_NS}" size="${this.channels.length}">
${items}
</InputProxyChannelList>`;
  }

  private xml(status: number, body: string): SimResponse {
    return { status, headers: { 'content-type': 'application/xml; charset="UTF-8"' }, body };
  }

  private route(req: SimRequest): SimResponse {
    const full = req.path + (req.query.size ? `?${req.query}` : '');
    if (req.method === 'GET' && req.path === '/ISAPI/ContentMgmt/InputProxy/channels') {
      return this.xml(200, this.channelListXml());
    }
    if (req.method === 'GET' && req.path === '/ISAPI/Security/adminAccesses') {
      const proto = (id: number, protocol: string, port: number) =>
        `<AdminAccessProtocol version="2.0" xmlns="${HIK_NS}">
<id>${id}</id>
<enabled>true</enabled>
<protocol>${protocol}</protocol>
<portNo>${port}</portNo>
</AdminAccessProtocol>`;
      return this.xml(200, `<?xml version="1.0" encoding="UTF-8"?>
<AdminAccessProtocolList version="2.0" xmlns="${HIK_NS}">
${proto(1, 'HTTP', 80)}
${proto(2, 'HTTPS', 443)}
${proto(3, 'DEV_MANAGE', 8000)}
${proto(4, 'RTSP', this.rtspPort)}
</AdminAccessProtocolList>`);
    }
    if (req.method === 'GET' && req.path === '/ISAPI/System/deviceInfo') {
      return this.xml(200, `<?xml version="1.0" encoding="UTF-8"?>
<DeviceInfo version="2.0" xmlns="${HIK_NS}">
<deviceName>IP CAMERA</deviceName>
<deviceID>48443030-3637-3534-3837-c42f90f1d2c1</deviceID>
<model>DS-2CD2386G2-IU</model>
<serialNumber>DS-2CD2386G2-IU20230101AAWRJ12345678</serialNumber>
<firmwareVersion>V5.7.3</firmwareVersion>
<deviceType>IPCamera</deviceType>
</DeviceInfo>`);
    }
    if (req.method === 'GET' && req.path === '/ISAPI/System/Video/inputs/channels') {
      return this.xml(200, `<?xml version="1.0" encoding="UTF-8"?>
<VideoInputChannelList version="2.0" xmlns="${HIK_NS}">
<VideoInputChannel version="2.0" xmlns="${HIK_NS}">
<id>1</id>
<inputPort>1</inputPort>
<videoInputEnabled>true</videoInputEnabled>
<name>Camera 01</name>
<videoFormat>PAL</videoFormat>
</VideoInputChannel>
</VideoInputChannelList>`);
    }
    const m = /^\/ISAPI\/ContentMgmt\/record\/control\/manual\/(start|stop)\/tracks\/([0-9]+)$/.exec(req.path);
    if (req.method === 'PUT' && m) {
      const track = m[2]!;
      if (!this.channels.some((c) => `${c.id}01` === track)) {
        return this.xml(400, hikResponseStatus(full, 4, 'Invalid Operation', 'notSupport'));
      }
      this.recordLog.push(`${m[1]} ${track}`);
      if (m[1] === 'start') this.recording.add(track);
      else this.recording.delete(track);
      return this.xml(200, hikResponseStatus(full, 1, 'OK', 'ok'));
    }
    return this.xml(404, hikResponseStatus(full, 4, 'Invalid Operation', 'notSupport'));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Axis VAPIX
// ---------------------------------------------------------------------------------------------------------------

export class AxisSim extends Sim {
  sources = ['Image source 0'];
  product = 'AXIS P1448-LE';
  readonly recordings = new Map<string, boolean>();
  readonly virtualInputs: string[] = [];
  diskPresent = true;

  constructor(username: string, password: string, algorithms: DigestPolicy['algorithms'] = ['SHA-256', 'MD5']) {
    super((req) => this.route(req));
    this.digest = { algorithms, realm: 'AXIS_ACCC8E000001', username, password };
  }

  private route(req: SimRequest): SimResponse {
    const text = (body: string): SimResponse => ({ status: 200, headers: { 'content-type': 'text/plain' }, body });
    const xml = (body: string): SimResponse => ({ status: 200, headers: { 'content-type': 'text/xml' }, body });
    if (req.path === '/axis-cgi/param.cgi' && req.query.get('action') === 'list') {
      const groups = (req.query.get('group') ?? '').split(',');
      const lines: string[] = [];
      for (const g of groups) {
        if (g === 'root.Brand') {
          lines.push('root.Brand.Brand=AXIS', `root.Brand.ProdFullName=${this.product} Network Camera`, `root.Brand.ProdNbr=${this.product.slice(5)}`,
            `root.Brand.ProdShortName=${this.product}`, 'root.Brand.ProdType=Network Camera', 'root.Brand.ProdVariant=', 'root.Brand.WebURL=http://www.axis.com');
        } else if (g === 'root.ImageSource') {
          this.sources.forEach((s, i) => lines.push(`root.ImageSource.I${i}.Name=${s}`, `root.ImageSource.I${i}.Sensor.AutoFocus=yes`));
        } else if (g === 'root.Properties.System.SerialNumber') {
          lines.push('root.Properties.System.SerialNumber=ACCC8E000001');
        } else {
          return text(`# Error: Error -1 getting param in group '${g}'\n`);
        }
      }
      return text(`${lines.join('\n')}\n`);
    }
    if (req.path === '/axis-cgi/record/record.cgi') {
      if (!this.diskPresent || req.query.get('diskid') !== 'SD_DISK') {
        return xml('<?xml version="1.0"?>\n<root>\n  <record result="ERROR">\n    <error description="Disk not available"/>\n  </record>\n</root>\n');
      }
      const id = `20261127_${String(this.recordings.size).padStart(6, '0')}_1A2B_ACCC8E000001`;
      this.recordings.set(id, true);
      return xml(`<?xml version="1.0"?>\n<root>\n  <record result="OK" recordingid="${id}" diskid="SD_DISK"/>\n</root>\n`);
    }
    if (req.path === '/axis-cgi/record/stop.cgi') {
      const id = req.query.get('recordingid') ?? '';
      if (!this.recordings.get(id)) return xml('<?xml version="1.0"?>\n<root>\n  <stop result="ERROR"/>\n</root>\n');
      this.recordings.set(id, false);
      return xml('<?xml version="1.0"?>\n<root>\n  <stop result="OK"/>\n</root>\n');
    }
    const vi = /^\/axis-cgi\/virtualinput\/(activate|deactivate)\.cgi$/.exec(req.path);
    if (vi) {
      const port = req.query.get('port');
      this.virtualInputs.push(`${vi[1]} ${port}`);
      if (port === null || Number(port) > 8) {
        return xml(`<?xml version="1.0" encoding="UTF-8"?>
<VirtualInputResponse xmlns="http://www.axis.com/vapix/http_cgi/virtualinput1" SchemaVersion="1.0">
  <GeneralError><ErrorCode>10</ErrorCode><ErrorDescription>Invalid port</ErrorDescription></GeneralError>
</VirtualInputResponse>`);
      }
      const tag = vi[1] === 'activate' ? 'ActivateResponse' : 'DeactivateResponse';
      return xml(`<?xml version="1.0" encoding="UTF-8"?>
<VirtualInputResponse xmlns="http://www.axis.com/vapix/http_cgi/virtualinput1" SchemaVersion="1.0">
  <SuccessResponse><${tag}><StateChanged>true</StateChanged></${tag}></SuccessResponse>
</VirtualInputResponse>`);
    }
    return { status: 404, body: 'Not Found' };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Dahua HTTP CGI
// ---------------------------------------------------------------------------------------------------------------

export class DahuaSim extends Sim {
  titles = ['Gate', 'Yard'];
  readonly recordMode = new Map<number, number>();
  readonly modeLog: string[] = [];

  constructor(username: string, password: string) {
    super((req) => this.route(req));
    this.digest = { algorithms: ['MD5'], realm: 'Login to 7J0000PAZA00001', username, password };
  }

  private route(req: SimRequest): SimResponse {
    const text = (status: number, body: string): SimResponse => ({ status, headers: { 'content-type': 'text/plain;charset=utf-8' }, body });
    if (req.path === '/cgi-bin/magicBox.cgi' && req.query.get('action') === 'getDeviceType') {
      return text(200, 'type=DH-NVR4108HS-8P-4KS2\r\n');
    }
    if (req.path === '/cgi-bin/configManager.cgi' && req.query.get('action') === 'getConfig') {
      if (req.query.get('name') !== 'ChannelTitle') return text(400, 'Error\r\nBad Request!\r\n');
      return text(200, this.titles.map((t, i) => `table.ChannelTitle[${i}].Name=${t}\r\n`).join(''));
    }
    if (req.path === '/cgi-bin/configManager.cgi' && req.query.get('action') === 'setConfig') {
      for (const [k, v] of req.query) {
        const m = /^RecordMode\[([0-9]+)\]\.Mode$/.exec(k);
        if (!m) continue;
        const idx = Number(m[1]);
        if (idx >= this.titles.length) return text(400, 'Error\r\nBad Request!\r\n');
        this.recordMode.set(idx, Number(v));
        this.modeLog.push(`${idx}=${v}`);
      }
      return text(200, 'OK\r\n');
    }
    return text(404, 'Error\r\nNot Found\r\n');
  }
}
