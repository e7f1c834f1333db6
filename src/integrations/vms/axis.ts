/**
 * Axis VAPIX (HTTP digest).
 *  - Cameras: `GET /axis-cgi/param.cgi?action=list&group=root.Brand,root.ImageSource,root.Properties.System.SerialNumber`
 *    → `key=value` lines (`root.Brand.ProdShortName=AXIS P1448-LE`, `root.ImageSource.I0.Name=...`); one camera
 *    per image source (multi-sensor cameras and video encoders have several). Errors: `# Error: ...` lines.
 *  - Streams: `rtsp://host/axis-media/media.amp?camera=N` (N from 1), sub stream with `&resolution=WxH`.
 *  - Recording (edge storage): `GET /axis-cgi/record/record.cgi?diskid=SD_DISK&options=camera%3DN`
 *    → `<root><record result="OK" recordingid="..."/></root>`; stopped after the duration with
 *    `GET /axis-cgi/record/stop.cgi?recordingid=...&diskid=SD_DISK`.
 *  - Events: virtual inputs, `GET /axis-cgi/virtualinput/activate.cgi?schemaversion=1&port=P` (an action rule on
 *    the camera reacts to it), deactivated one second later; the response is `<VirtualInputResponse>` XML.
 */
import { BaseVmsAdapter } from './base.js';
import { parseTypedVmsOptions } from './options.js';
import {
  VmsError,
  type AxisConfig,
  type RecordingResult,
  type VmsAnalyticsEvent,
  type VmsCamera,
  type VmsCapabilities,
  type VmsStreams,
} from './types.js';
import { child, parseKeyValueLines, parseXml, textOf } from './xml.js';

const CAMERA_RE = /^[0-9]{1,2}$/;

/** Parses VAPIX `key=value` lines; `# Error:` lines raise E_VMS_RESPONSE. */
export function parseParamList(text: string, what: string): Map<string, string> {
  const error = text.split(/\r?\n/).map((l) => l.trim()).find((l) => l.startsWith('# Error'));
  if (error !== undefined) throw new VmsError('E_VMS_RESPONSE', `VAPIX error in ${what}: ${error.slice(0, 160)}`);
  return parseKeyValueLines(text, `VAPIX parameter line in ${what}`);
}

export class AxisAdapter extends BaseVmsAdapter {
  readonly type = 'axis' as const;
  readonly capabilities: VmsCapabilities = { recording: 'recording', events: true };
  private readonly diskId: string;
  private readonly subResolution: string;
  private readonly virtualInputPort: number;

  constructor(raw: AxisConfig) {
    const config = parseTypedVmsOptions('axis', raw);
    super(config);
    this.diskId = config.diskId ?? 'SD_DISK';
    this.subResolution = config.subResolution ?? '640x360';
    this.virtualInputPort = config.virtualInputPort ?? 1;
  }

  async listCameras(): Promise<VmsCamera[]> {
    const res = await this.call(
      'GET',
      '/axis-cgi/param.cgi?action=list&group=root.Brand,root.ImageSource,root.Properties.System.SerialNumber',
    );
    const params = parseParamList(res.text(), 'the parameter list');
    const product = params.get('root.Brand.ProdShortName') ?? params.get('root.Brand.ProdFullName') ?? 'Axis camera';
    const sources: number[] = [];
    for (const key of params.keys()) {
      const m = /^root\.ImageSource\.I([0-9]{1,2})\.Name$/.exec(key);
      if (m) sources.push(Number(m[1]));
    }
    sources.sort((a, b) => a - b);
    if (sources.length === 0) sources.push(0);
    return sources.map((i) => {
      const sourceName = params.get(`root.ImageSource.I${i}.Name`);
      const id = String(i + 1);
      return {
        vmsCameraId: id,
        name: sources.length === 1 ? product : `${product} - ${sourceName ?? `source ${i}`}`,
        enabled: true,
        model: product,
        streams: this.streams(id),
      };
    });
  }

  private streams(id: string): VmsStreams {
    return {
      main: `rtsp://${this.rtspHost}/axis-media/media.amp?camera=${id}`,
      sub: `rtsp://${this.rtspHost}/axis-media/media.amp?camera=${id}&resolution=${this.subResolution}`,
    };
  }

  async getStreamUrls(vmsCameraId: string): Promise<VmsStreams> {
    return this.listedStreams(vmsCameraId, CAMERA_RE, 'camera');
  }

  async triggerRecording(vmsCameraId: string, durationS: number): Promise<RecordingResult> {
    const id = this.checkCameraId(vmsCameraId, CAMERA_RE);
    const d = this.checkDuration(durationS);
    const { start, end } = this.window(d);
    const res = await this.call(
      'GET',
      `/axis-cgi/record/record.cgi?diskid=${this.diskId}&options=${encodeURIComponent(`camera=${id}`)}`,
    );
    const doc = parseXml(res.text(), 'the record.cgi response');
    const rec = child(doc.root, 'record');
    const result = textOf(child(rec, '@result'));
    const recordingId = textOf(child(rec, '@recordingid'));
    if (result !== 'OK' || !recordingId || !/^[A-Za-z0-9_-]{1,128}$/.test(recordingId)) {
      const why = textOf(child(child(rec, 'error'), '@description')) ?? 'no recording id';
      throw new VmsError('E_VMS_STATUS', `axis source ${this.name}: record.cgi failed: ${why.slice(0, 160)}`);
    }
    this.later(d * 1000, async () => {
      const stop = await this.call('GET', `/axis-cgi/record/stop.cgi?recordingid=${recordingId}&diskid=${this.diskId}`);
      const sdoc = parseXml(stop.text(), 'the stop.cgi response');
      if (textOf(child(child(sdoc.root, 'stop'), '@result')) !== 'OK') {
        throw new VmsError('E_VMS_STATUS', `axis source ${this.name}: stop.cgi failed for ${recordingId}`);
      }
    });
    return { kind: 'recording', id: recordingId, startedAt: start.toISOString(), endsAt: end.toISOString() };
  }

  override async pushEvent(vmsCameraId: string, _event: VmsAnalyticsEvent): Promise<void> {
    this.checkCameraId(vmsCameraId, CAMERA_RE);
    const port = this.virtualInputPort;
    const res = await this.call('GET', `/axis-cgi/virtualinput/activate.cgi?schemaversion=1&port=${port}`);
    const doc = parseXml(res.text(), 'the virtual input response');
    if (doc.VirtualInputResponse === undefined || child(doc.VirtualInputResponse, 'SuccessResponse') === undefined) {
      const ge = child(doc.VirtualInputResponse, 'GeneralError') ?? doc.GeneralError;
      const why = textOf(child(ge, 'ErrorDescription')) ?? 'no SuccessResponse';
      throw new VmsError('E_VMS_STATUS', `axis source ${this.name}: virtual input ${port} not activated: ${why.slice(0, 160)}`);
    }
    this.later(1000, async () => {
      await this.call('GET', `/axis-cgi/virtualinput/deactivate.cgi?schemaversion=1&port=${port}`);
    });
  }
}
