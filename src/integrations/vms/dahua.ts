/**
 * Dahua HTTP CGI API (HTTP digest, `key=value` text bodies).
 *  - Device type: `GET /cgi-bin/magicBox.cgi?action=getDeviceType` → `type=DH-IPC-HFW2431S`.
 *  - Channels: `GET /cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle`
 *    → `table.ChannelTitle[0].Name=Gate` lines, one per channel (index from 0).
 *  - Streams: `rtsp://host:554/cam/realmonitor?channel=N&subtype=0` (main) / `subtype=1` (sub), N = index + 1.
 *  - Recording: `GET /cgi-bin/configManager.cgi?action=setConfig&RecordMode[i].Mode=1` (manual) → `OK`, set back
 *    to 0 (automatic / schedule) when the duration ends. Failures answer `Error` (HTTP 200 or 400).
 *  - The CGI API has no call to inject a third-party analytics event: pushEvent is unsupported.
 */
import { BaseVmsAdapter } from './base.js';
import { parseTypedVmsOptions } from './options.js';
import { parseKeyValueLines } from './xml.js';
import { VmsError, type DahuaConfig, type RecordingResult, type VmsCamera, type VmsCapabilities, type VmsStreams } from './types.js';

const CHANNEL_RE = /^[0-9]{1,3}$/;

/** Parses Dahua `key=value` lines; a body of `Error` raises E_VMS_STATUS. */
export function parseDahuaLines(text: string, what: string): Map<string, string> {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines[0] === 'Error') throw new VmsError('E_VMS_STATUS', `Dahua error in ${what}: ${(lines[1] ?? '').slice(0, 120)}`);
  return parseKeyValueLines(text, `Dahua response line in ${what}`);
}

export class DahuaAdapter extends BaseVmsAdapter {
  readonly type = 'dahua' as const;
  readonly capabilities: VmsCapabilities = { recording: 'recording', events: false };

  constructor(raw: DahuaConfig) {
    super(parseTypedVmsOptions('dahua', raw));
  }

  async listCameras(): Promise<VmsCamera[]> {
    const typeRes = await this.call('GET', '/cgi-bin/magicBox.cgi?action=getDeviceType', { okStatuses: [400] });
    const model = typeRes.status === 200 ? (parseDahuaLines(typeRes.text(), 'getDeviceType').get('type') ?? null) : null;
    const res = await this.call('GET', '/cgi-bin/configManager.cgi?action=getConfig&name=ChannelTitle', { okStatuses: [400] });
    const lines = parseDahuaLines(res.text(), 'getConfig ChannelTitle');
    if (res.status === 400) throw new VmsError('E_VMS_STATUS', `dahua source ${this.name}: getConfig ChannelTitle returned HTTP 400`);
    const out: VmsCamera[] = [];
    for (const [key, value] of lines) {
      const m = /^table\.ChannelTitle\[([0-9]{1,3})\]\.Name$/.exec(key);
      if (!m) continue;
      const id = String(Number(m[1]) + 1);
      out.push({ vmsCameraId: id, name: value || `Channel ${id}`, enabled: true, model, streams: this.streams(id) });
    }
    out.sort((a, b) => Number(a.vmsCameraId) - Number(b.vmsCameraId));
    return out;
  }

  private streams(id: string): VmsStreams {
    return {
      main: `rtsp://${this.rtspHost}/cam/realmonitor?channel=${id}&subtype=0`,
      sub: `rtsp://${this.rtspHost}/cam/realmonitor?channel=${id}&subtype=1`,
    };
  }

  async getStreamUrls(vmsCameraId: string): Promise<VmsStreams> {
    return this.listedStreams(vmsCameraId, CHANNEL_RE, 'channel');
  }

  private async setRecordMode(index: number, mode: 0 | 1): Promise<void> {
    const res = await this.call('GET', `/cgi-bin/configManager.cgi?action=setConfig&RecordMode[${index}].Mode=${mode}`, {
      okStatuses: [400],
    });
    const body = res.text().trim();
    if (res.status !== 200 || body !== 'OK') {
      throw new VmsError('E_VMS_STATUS', `dahua source ${this.name}: setConfig RecordMode[${index}] failed (HTTP ${res.status})`);
    }
  }

  async triggerRecording(vmsCameraId: string, durationS: number): Promise<RecordingResult> {
    const id = this.checkCameraId(vmsCameraId, CHANNEL_RE);
    if (Number(id) < 1) throw new VmsError('E_VMS_NOT_FOUND', `dahua source ${this.name}: no channel ${id}`);
    const d = this.checkDuration(durationS);
    const { start, end } = this.window(d);
    const index = Number(id) - 1;
    await this.setRecordMode(index, 1);
    this.later(d * 1000, () => this.setRecordMode(index, 0));
    return { kind: 'recording', id: null, startedAt: start.toISOString(), endsAt: end.toISOString() };
  }
}
