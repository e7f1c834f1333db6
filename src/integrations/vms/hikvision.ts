/**
 * Hikvision ISAPI (HTTP digest, XML; namespace http://www.hikvision.com/ver20/XMLSchema).
 *  - NVR channels: `GET /ISAPI/ContentMgmt/InputProxy/channels` → `<InputProxyChannelList><InputProxyChannel>
 *    <id>1</id><name>..</name><sourceInputPortDescriptor><ipAddress>..</ipAddress><model>..</model>...`.
 *  - A camera's own inputs: `GET /ISAPI/System/Video/inputs/channels` → `<VideoInputChannelList><VideoInputChannel>
 *    <id>1</id><name>..</name><videoInputEnabled>true</videoInputEnabled>`, model from `GET /ISAPI/System/deviceInfo`.
 *  - Streams: `rtsp://host:554/Streaming/Channels/<channel>01` (main) and `<channel>02` (sub). With
 *    rtspPortFromDevice the port is read from `GET /ISAPI/Security/adminAccesses` → `<AdminAccessProtocolList>
 *    <AdminAccessProtocol><protocol>RTSP</protocol><portNo>554</portNo>...` on each listing.
 *  - Recording: `PUT /ISAPI/ContentMgmt/record/control/manual/start/tracks/<channel>01`, then `.../stop/...` when
 *    the duration ends. Errors come back as `<ResponseStatus><statusCode>4</statusCode><statusString>Invalid
 *    Operation</statusString><subStatusCode>..</subStatusCode></ResponseStatus>` with HTTP 4xx.
 *  - ISAPI has no way to inject a third-party analytics event: pushEvent is unsupported.
 */
import type { HttpResponse } from '../http-client.js';
import { BaseVmsAdapter } from './base.js';
import { parseTypedVmsOptions } from './options.js';
import { VmsError, type HikvisionConfig, type RecordingResult, type VmsCamera, type VmsCapabilities, type VmsStreams } from './types.js';
import { asArray, child, parseXml, textOf } from './xml.js';

const CHANNEL_RE = /^[0-9]{1,3}$/;

export class HikvisionAdapter extends BaseVmsAdapter {
  readonly type = 'hikvision' as const;
  readonly capabilities: VmsCapabilities = { recording: 'recording', events: false };
  private readonly deviceKind: 'nvr' | 'camera';
  private readonly rtspPortFromDevice: boolean;

  constructor(raw: HikvisionConfig) {
    const config = parseTypedVmsOptions('hikvision', raw);
    super(config);
    this.deviceKind = config.deviceKind ?? 'nvr';
    this.rtspPortFromDevice = config.rtspPortFromDevice ?? false;
  }

  /** ISAPI call; a 4xx with a ResponseStatus body becomes an error carrying its statusString. */
  private async isapi(method: string, path: string, body?: string): Promise<HttpResponse> {
    const res = await this.call(method, path, {
      ...(body !== undefined ? { body, headers: { 'content-type': 'application/xml' } } : {}),
      okStatuses: [400, 403, 404, 500],
    });
    if (res.status >= 200 && res.status < 300) return res;
    let detail = '';
    try {
      const doc = parseXml(res.text(), 'an ISAPI error');
      const rs = doc.ResponseStatus;
      const s = textOf(child(rs, 'statusString'));
      const sub = textOf(child(rs, 'subStatusCode'));
      if (s) detail = `: ${s}${sub ? ` (${sub})` : ''}`;
    } catch {
      // not an ISAPI error body
    }
    const code = res.status === 404 ? 'E_VMS_NOT_FOUND' : 'E_VMS_STATUS';
    throw new VmsError(code, `hikvision source ${this.name}: ${method} ${path} returned HTTP ${res.status}${detail.slice(0, 200)}`);
  }

  async listCameras(): Promise<VmsCamera[]> {
    const cams = this.deviceKind === 'nvr' ? await this.listNvrChannels() : await this.listCameraInputs();
    if (!this.rtspPortFromDevice || cams.length === 0) return cams;
    const authority = await this.deviceRtspAuthority();
    return cams.map((c) => ({ ...c, streams: this.streams(c.vmsCameraId, authority) }));
  }

  /** host:port with the RTSP port the device reports as enabled. */
  private async deviceRtspAuthority(): Promise<string> {
    const doc = parseXml((await this.isapi('GET', '/ISAPI/Security/adminAccesses')).text(), 'the admin access list');
    for (const p of asArray(child(doc.AdminAccessProtocolList, 'AdminAccessProtocol'))) {
      if ((textOf(child(p, 'protocol')) ?? '').toUpperCase() !== 'RTSP' || textOf(child(p, 'enabled')) === 'false') continue;
      const port = Number(textOf(child(p, 'portNo')));
      if (Number.isInteger(port) && port >= 1 && port <= 65535) return `${this.rtspHostName}:${port}`;
    }
    throw new VmsError('E_VMS_RESPONSE', `hikvision source ${this.name}: no enabled RTSP port in the admin access list`);
  }

  private async listNvrChannels(): Promise<VmsCamera[]> {
    const res = await this.isapi('GET', '/ISAPI/ContentMgmt/InputProxy/channels');
    const doc = parseXml(res.text(), 'the channel list');
    const list = doc.InputProxyChannelList;
    if (list === undefined) {
      throw new VmsError('E_VMS_RESPONSE', `hikvision source ${this.name}: no InputProxyChannelList in the channel list`);
    }
    const out: VmsCamera[] = [];
    for (const ch of asArray(child(list, 'InputProxyChannel'))) {
      const id = textOf(child(ch, 'id'));
      if (!id || !CHANNEL_RE.test(id)) continue;
      const src = child(ch, 'sourceInputPortDescriptor');
      out.push({
        vmsCameraId: id,
        name: textOf(child(ch, 'name')) || `Channel ${id}`,
        enabled: true,
        model: textOf(child(src, 'model')) || null,
        streams: this.streams(id),
      });
    }
    return out;
  }

  private async listCameraInputs(): Promise<VmsCamera[]> {
    const info = parseXml((await this.isapi('GET', '/ISAPI/System/deviceInfo')).text(), 'the device info');
    const model = textOf(child(info.DeviceInfo, 'model')) || null;
    const doc = parseXml((await this.isapi('GET', '/ISAPI/System/Video/inputs/channels')).text(), 'the video inputs');
    const list = doc.VideoInputChannelList;
    if (list === undefined) {
      throw new VmsError('E_VMS_RESPONSE', `hikvision source ${this.name}: no VideoInputChannelList in the video inputs`);
    }
    const out: VmsCamera[] = [];
    for (const ch of asArray(child(list, 'VideoInputChannel'))) {
      const id = textOf(child(ch, 'id'));
      if (!id || !CHANNEL_RE.test(id)) continue;
      out.push({
        vmsCameraId: id,
        name: textOf(child(ch, 'name')) || `Camera ${id}`,
        enabled: textOf(child(ch, 'videoInputEnabled')) !== 'false',
        model,
        streams: this.streams(id),
      });
    }
    return out;
  }

  private streams(channel: string, authority = this.rtspHost): VmsStreams {
    return {
      main: `rtsp://${authority}/Streaming/Channels/${channel}01`,
      sub: `rtsp://${authority}/Streaming/Channels/${channel}02`,
    };
  }

  async getStreamUrls(vmsCameraId: string): Promise<VmsStreams> {
    return this.listedStreams(vmsCameraId, CHANNEL_RE, 'channel');
  }

  async triggerRecording(vmsCameraId: string, durationS: number): Promise<RecordingResult> {
    const id = this.checkCameraId(vmsCameraId, CHANNEL_RE);
    const d = this.checkDuration(durationS);
    const { start, end } = this.window(d);
    await this.isapi('PUT', `/ISAPI/ContentMgmt/record/control/manual/start/tracks/${id}01`);
    this.later(d * 1000, async () => {
      await this.isapi('PUT', `/ISAPI/ContentMgmt/record/control/manual/stop/tracks/${id}01`);
    });
    return { kind: 'recording', id: `${id}01`, startedAt: start.toISOString(), endsAt: end.toISOString() };
  }
}
