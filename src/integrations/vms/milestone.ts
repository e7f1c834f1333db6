/**
 * Milestone XProtect through the API Gateway (REST, JSON).
 *  - Login: OAuth 2 password grant at the identity provider, `POST /IDP/connect/token` (form body grant_type,
 *    username, password, client_id) → `{ access_token, expires_in, token_type: "Bearer" }`, or the
 *    client-credentials grant (client_id, client_secret) when a client secret is configured. The token is cached
 *    until shortly before it expires and fetched again on a 401.
 *  - Cameras: `GET /api/rest/v1/cameras?page=N&size=S` → `{ array: [ { id, name, displayName, enabled, ... } ] }`,
 *    paged until a short page.
 *  - Recording: XProtect records continuously or on rules, so a "recording" here is a bookmark over the window:
 *    `POST /api/rest/v1/bookmarks` `{ deviceId, timeBegin, timeTrigged, timeEnd, header, description, reference }`.
 *  - Events: `POST /api/rest/v1/events` `{ type: <event type id>, source: "cameras/<id>", time }` when an event
 *    type id is configured (a user-defined or analytics event created in the Management Client).
 */
import { BaseVmsAdapter } from './base.js';
import { parseTypedVmsOptions } from './options.js';
import {
  VmsError,
  type MilestoneConfig,
  type RecordingResult,
  type VmsAnalyticsEvent,
  type VmsCamera,
  type VmsCapabilities,
  type VmsStreams,
} from './types.js';

const GUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
const MAX_PAGES = 1000;

export class MilestoneAdapter extends BaseVmsAdapter {
  readonly type = 'milestone' as const;
  readonly capabilities: VmsCapabilities;
  private readonly clientId: string;
  private readonly clientSecret: string | null;
  private readonly pageSize: number;
  private readonly eventTypeId: string | null;
  private readonly rtspTemplate: string;
  private token: { value: string; expiresAt: number } | null = null;
  private tokenPromise: Promise<string> | null = null;

  constructor(raw: MilestoneConfig) {
    const config = parseTypedVmsOptions('milestone', raw);
    super(config);
    this.clientId = config.clientId ?? 'GrantValidatorClient';
    this.clientSecret = config.clientSecret ?? null;
    this.pageSize = config.pageSize ?? 100;
    this.eventTypeId = config.eventTypeId ?? null;
    this.rtspTemplate = config.rtspTemplate ?? 'rtsp://{host}/live/{id}?stream={stream}';
    this.capabilities = { recording: 'bookmark', events: this.eventTypeId !== null };
  }

  override streamCredentials(): { username: string; password: string } | null {
    // Client-credentials sources without a password open the RTSP bridge without credentials.
    return this.password === '' && this.clientSecret ? null : super.streamCredentials();
  }

  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.expiresAt) return this.token.value;
    this.tokenPromise ??= this.login().finally(() => {
      this.tokenPromise = null;
    });
    return this.tokenPromise;
  }

  private async login(): Promise<string> {
    const form = this.clientSecret
      ? new URLSearchParams({ grant_type: 'client_credentials', client_id: this.clientId, client_secret: this.clientSecret })
      : new URLSearchParams({ grant_type: 'password', username: this.username, password: this.password, client_id: this.clientId });
    const res = await this.call('POST', '/IDP/connect/token', {
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      auth: null,
      okStatuses: [400, 401],
    });
    if (res.status === 400 || res.status === 401) {
      // The IDP answers invalid_grant with 400 for a wrong user name or password.
      throw new VmsError('E_VMS_AUTH', `milestone source ${this.name}: login refused by the identity provider (HTTP ${res.status})`);
    }
    const body = this.json(res, 'the token response') as Record<string, unknown>;
    const value = body?.access_token;
    if (typeof value !== 'string' || value === '') {
      throw new VmsError('E_VMS_RESPONSE', `milestone source ${this.name}: token response without access_token`);
    }
    this.http.addSecret(value);
    const expiresIn = typeof body.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 300;
    // Renew 30 s (or a tenth of the lifetime) early.
    const margin = Math.min(30, expiresIn / 10);
    this.token = { value, expiresAt: Date.now() + (expiresIn - margin) * 1000 };
    return value;
  }

  /** An API call with the bearer token; one retry with a fresh token on 401. */
  private async api(method: string, path: string, body?: unknown, okStatuses: number[] = []) {
    for (let attempt = 0; ; attempt++) {
      const token = await this.accessToken();
      const res = await this.call(method, path, {
        auth: { type: 'bearer', token },
        headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        okStatuses: [401, ...okStatuses],
      });
      if (res.status !== 401) return res;
      this.token = null;
      if (attempt >= 1) {
        throw new VmsError('E_VMS_AUTH', `milestone source ${this.name}: API Gateway refused the access token`);
      }
    }
  }

  async listCameras(): Promise<VmsCamera[]> {
    const out: VmsCamera[] = [];
    const seen = new Set<string>();
    for (let page = 0; page < MAX_PAGES; page++) {
      const res = await this.api('GET', `/api/rest/v1/cameras?page=${page}&size=${this.pageSize}`);
      const body = this.json(res, 'the camera list') as Record<string, unknown> | null;
      const arr = body && typeof body === 'object' ? body.array : undefined;
      if (!Array.isArray(arr)) {
        throw new VmsError('E_VMS_RESPONSE', `milestone source ${this.name}: camera list without an "array" field`);
      }
      for (const item of arr) {
        const cam = this.toCamera(item);
        if (cam && !seen.has(cam.vmsCameraId)) {
          seen.add(cam.vmsCameraId);
          out.push(cam);
        }
      }
      if (arr.length < this.pageSize) return out;
    }
    throw new VmsError('E_VMS_RESPONSE', `milestone source ${this.name}: camera list exceeds ${MAX_PAGES} pages`);
  }

  private toCamera(item: unknown): VmsCamera | null {
    if (!item || typeof item !== 'object') return null;
    const c = item as Record<string, unknown>;
    if (typeof c.id !== 'string' || !GUID_RE.test(c.id)) return null;
    const name =
      typeof c.displayName === 'string' && c.displayName !== '' ? c.displayName : typeof c.name === 'string' ? c.name : c.id;
    return {
      vmsCameraId: c.id.toLowerCase(),
      name,
      enabled: c.enabled !== false,
      model: null,
      streams: this.streams(c.id.toLowerCase()),
    };
  }

  private streams(id: string): VmsStreams {
    const fill = (stream: number): string =>
      this.rtspTemplate
        .replaceAll('{host}', this.rtspHost)
        .replaceAll('{id}', encodeURIComponent(id))
        .replaceAll('{stream}', String(stream));
    return { main: fill(0), sub: this.rtspTemplate.includes('{stream}') ? fill(1) : null };
  }

  async getStreamUrls(vmsCameraId: string): Promise<VmsStreams> {
    const id = this.checkCameraId(vmsCameraId, GUID_RE).toLowerCase();
    const res = await this.api('GET', `/api/rest/v1/cameras/${id}`, undefined, [404]);
    if (res.status === 404) throw new VmsError('E_VMS_NOT_FOUND', `milestone source ${this.name}: no camera ${id}`);
    return this.streams(id);
  }

  async triggerRecording(vmsCameraId: string, durationS: number, reason = 'Vigil analytics'): Promise<RecordingResult> {
    const id = this.checkCameraId(vmsCameraId, GUID_RE).toLowerCase();
    const d = this.checkDuration(durationS);
    const { start, end } = this.window(d);
    const res = await this.api(
      'POST',
      '/api/rest/v1/bookmarks',
      {
        deviceId: id,
        timeBegin: start.toISOString(),
        timeTrigged: start.toISOString(),
        timeEnd: end.toISOString(),
        header: reason.slice(0, 50),
        description: reason.slice(0, 500),
        reference: `vigil-${start.getTime()}`,
      },
      [404],
    );
    if (res.status === 404) throw new VmsError('E_VMS_NOT_FOUND', `milestone source ${this.name}: no camera ${id}`);
    const body = this.json(res, 'the bookmark response') as Record<string, unknown> | null;
    const data = (body?.data ?? body?.result) as Record<string, unknown> | undefined;
    const bid = data && typeof data.id === 'string' ? data.id : null;
    return { kind: 'bookmark', id: bid, startedAt: start.toISOString(), endsAt: end.toISOString() };
  }

  override async pushEvent(vmsCameraId: string, event: VmsAnalyticsEvent): Promise<void> {
    if (!this.eventTypeId) return super.pushEvent(vmsCameraId, event);
    const id = this.checkCameraId(vmsCameraId, GUID_RE).toLowerCase();
    const res = await this.api(
      'POST',
      '/api/rest/v1/events',
      { type: this.eventTypeId, source: `cameras/${id}`, time: event.time ?? new Date().toISOString() },
      [404],
    );
    if (res.status === 404) throw new VmsError('E_VMS_NOT_FOUND', `milestone source ${this.name}: no camera ${id}`);
  }
}
