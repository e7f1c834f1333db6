/** Shared plumbing for VMS adapters: config checks, the HTTP client, error mapping, recording-stop timers. */
import { expected } from '../../errors.js';
import { OutboundPolicy } from '../../net/outbound.js';
import { HttpClient, HttpClientError, type HttpAuth, type HttpResponse } from '../http-client.js';
import {
  VmsError,
  type RecordingResult,
  type VmsAdapter,
  type VmsAnalyticsEvent,
  type VmsCamera,
  type VmsCapabilities,
  type VmsCommonConfig,
  type VmsStreams,
  type VmsType,
} from './types.js';

/** Longest recording or bookmark one call may ask for (1 hour). */
export const MAX_RECORDING_S = 3600;

/**
 * The outbound URL policy (src/net/outbound.ts) for a VMS source: loopback, private, link-local... refused unless
 * listed in `allow`; the request connects to the address that was checked (no DNS rebinding).
 */
export function vmsUrlGuard(allow: readonly string[]): (url: URL) => Promise<{ address: string; family: 4 | 6 }> {
  const policy = new OutboundPolicy({ allow: [...allow] });
  return async (url) => {
    const t = await policy.check(url);
    return { address: t.address, family: t.family };
  };
}

export abstract class BaseVmsAdapter implements VmsAdapter {
  abstract readonly type: VmsType;
  abstract readonly capabilities: VmsCapabilities;
  readonly name: string;
  protected readonly base: URL;
  protected readonly http: HttpClient;
  protected readonly username: string;
  protected readonly password: string;
  /** host:port of the RTSP URLs. */
  protected readonly rtspHost: string;
  /** The host part alone (IPv6 in brackets), for adapters that learn the port from the device. */
  protected readonly rtspHostName: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(config: VmsCommonConfig, defaultRtspPort = 554) {
    this.name = config.name;
    this.base = new URL(config.baseUrl);
    this.username = config.username;
    this.password = config.password;
    const host = config.rtspHost ?? this.base.hostname;
    const port = config.rtspPort ?? defaultRtspPort;
    this.rtspHostName = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    this.rtspHost = `${this.rtspHostName}:${port}`;
    this.http = new HttpClient({
      timeoutMs: config.timeoutMs ?? 10_000,
      maxResponseBytes: config.maxResponseBytes ?? 4 * 1024 * 1024,
      insecureTls: config.insecureTls ?? false,
      // A client secret (Milestone client-credentials login) is a configured secret too: never rotated out.
      secrets: [config.password, (config as { clientSecret?: unknown }).clientSecret].filter((s): s is string => typeof s === 'string' && s !== ''),
      ...(config.checkUrl ? { checkUrl: config.checkUrl } : config.allow !== undefined ? { checkUrl: vmsUrlGuard(config.allow) } : {}),
    });
  }

  abstract listCameras(): Promise<VmsCamera[]>;
  abstract getStreamUrls(vmsCameraId: string): Promise<VmsStreams>;
  abstract triggerRecording(vmsCameraId: string, durationS: number, reason?: string): Promise<RecordingResult>;

  async pushEvent(_vmsCameraId: string, _event: VmsAnalyticsEvent): Promise<void> {
    throw new VmsError('E_VMS_UNSUPPORTED', `${this.type} source ${this.name} does not accept analytics events`);
  }

  streamCredentials(): { username: string; password: string } | null {
    return { username: this.username, password: this.password };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.http.close();
  }

  protected assertOpen(): void {
    if (this.closed) throw new VmsError('E_CLOSED', `VMS source ${this.name} is closed`);
  }

  protected checkCameraId(id: unknown, re: RegExp = /^[A-Za-z0-9_.:{}-]{1,128}$/): string {
    if (typeof id !== 'string' || !re.test(id)) throw expected('a VMS camera id', 'vmsCameraId', id);
    return id;
  }

  /**
   * Stream URLs of a camera the device lists right now (E_VMS_NOT_FOUND otherwise), for devices that have no
   * per-camera query: the listing is the only authority on which channels exist.
   */
  protected async listedStreams(vmsCameraId: string, re: RegExp, noun: 'camera' | 'channel'): Promise<VmsStreams> {
    const id = this.checkCameraId(vmsCameraId, re);
    const cam = (await this.listCameras()).find((c) => c.vmsCameraId === id);
    if (!cam) throw new VmsError('E_VMS_NOT_FOUND', `${this.type} source ${this.name}: no ${noun} ${id}`);
    return cam.streams;
  }

  protected checkDuration(durationS: unknown): number {
    if (typeof durationS !== 'number' || !Number.isInteger(durationS) || durationS < 1 || durationS > MAX_RECORDING_S) {
      throw expected(`an integer number of seconds 1-${MAX_RECORDING_S}`, 'durationS', durationS);
    }
    return durationS;
  }

  /** Sends a request; maps transport errors to VmsError; non-2xx statuses raise E_VMS_STATUS unless allowed. */
  protected async call(
    method: string,
    path: string,
    opts: { body?: string | Buffer; headers?: Record<string, string>; auth?: HttpAuth | null; okStatuses?: number[] } = {},
  ): Promise<HttpResponse> {
    this.assertOpen();
    const url = new URL(path, this.base);
    const auth: HttpAuth | undefined =
      opts.auth === null ? undefined : (opts.auth ?? { type: 'auto', username: this.username, password: this.password });
    let res: HttpResponse;
    try {
      res = await this.http.request({
        method,
        url,
        ...(opts.body !== undefined ? { body: opts.body } : {}),
        ...(opts.headers ? { headers: opts.headers } : {}),
        ...(auth ? { auth } : {}),
      });
    } catch (err) {
      throw this.mapError(err);
    }
    const ok = opts.okStatuses ?? [];
    if ((res.status < 200 || res.status > 299) && !ok.includes(res.status)) {
      throw new VmsError('E_VMS_STATUS', `${this.type} source ${this.name}: ${method} ${url.pathname} returned HTTP ${res.status}`);
    }
    return res;
  }

  protected mapError(err: unknown): VmsError {
    if (err instanceof VmsError) return err;
    if (err instanceof HttpClientError) {
      const code =
        err.code === 'E_HTTP_AUTH'
          ? 'E_VMS_AUTH'
          : err.code === 'E_HTTP_TIMEOUT'
            ? 'E_VMS_TIMEOUT'
            : err.code === 'E_HTTP_TOO_LARGE' || err.code === 'E_HTTP_BODY'
              ? 'E_VMS_RESPONSE'
              : err.code === 'E_HTTP_URL'
                ? 'E_VMS_CONFIG'
                : 'E_VMS_NETWORK';
      return new VmsError(code, `${this.type} source ${this.name}: ${this.http.redact(err.message)}`, { cause: err });
    }
    const message = err instanceof Error ? err.message : String(err);
    return new VmsError('E_VMS_NETWORK', `${this.type} source ${this.name}: ${this.http.redact(message)}`, { cause: err });
  }

  protected json(res: HttpResponse, what: string): unknown {
    try {
      return res.json();
    } catch (err) {
      throw new VmsError('E_VMS_RESPONSE', `${this.type} source ${this.name}: malformed JSON in ${what}`, { cause: err });
    }
  }

  /** Last error of a background step (a scheduled recording stop), redacted; null when none. */
  lastBackgroundError: string | null = null;

  /** Runs `fn` after `ms` (best effort: its error lands in lastBackgroundError); cleared by close(). */
  protected later(ms: number, fn: () => Promise<void>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.closed) return;
      fn().then(
        () => undefined,
        (err: unknown) => {
          this.lastBackgroundError = this.mapError(err).message;
        },
      );
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  /** Number of recording stops still pending (for tests and status). */
  get pendingStops(): number {
    return this.timers.size;
  }

  protected window(durationS: number): { start: Date; end: Date } {
    const start = new Date();
    return { start, end: new Date(start.getTime() + durationS * 1000) };
  }
}
