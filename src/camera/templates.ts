/**
 * Fills the gst-pipelines/ templates. Placeholders get fragments built here from validated settings; anything a
 * user typed (paths, URLs, credentials) goes into element properties, set natively after parsing.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilPipelineError } from '../errors.js';
import { CODEC_ELEMENTS, chooseDecoder, hasElement, type DecoderChoice, type DecoderPreferences } from './decoders.js';
import { probeFile, type CameraSource, type Container, type RtspSource } from './source.js';
import { PACKAGE_ROOT } from '../package-root.js';

const TEMPLATE_DIR = join(PACKAGE_ROOT, 'gst-pipelines');
const templates = new Map<string, string>();

function template(name: 'file' | 'rtsp' | 'test' | 'file-record' | 'rtsp-record'): string {
  let t = templates.get(name);
  if (t === undefined) {
    t = readFileSync(join(TEMPLATE_DIR, `${name}.pipeline`), 'utf8').trim();
    templates.set(name, t);
  }
  return t;
}

export function fill(text: string, params: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const v = params[key];
    if (v === undefined) throw new Error(`pipeline template parameter ${key} has no value`);
    return v;
  });
}

/** Raw formats the native converter reads directly: videoconvert passes these through without a copy. */
const SINK_CAPS = 'video/x-raw,format={I420,NV12,RGB,BGR,RGBA,BGRA,RGBx,BGRx}';

const DEMUX: Record<Exclude<Container, 'raw'>, string> = {
  mp4: 'qtdemux name=demux demux.video_0',
  mkv: 'matroskademux name=demux demux.video_0',
  avi: 'avidemux name=demux demux.video_0',
};

export interface RecordingBranch {
  /** Folder the segments go to (created by the caller). */
  directory: string;
  /** File name prefix, normally the camera id. */
  prefix: string;
  format: 'mp4' | 'mkv';
  /** Target segment length; a segment is cut at the first keyframe after it. */
  segmentSeconds: number;
}

export interface PipelineOptions {
  /** Frames per second handed to the tensor stage (dropped before any conversion work); 0 = every frame. */
  detectFps: number;
  decoder: DecoderPreferences;
  /** Record the original stream beside the analytics branch; omitted: no recording branch. */
  recording?: RecordingBranch;
}

export interface BuiltPipeline {
  description: string;
  /** Present when the graph has a recording branch (splitmuxsink named rec). */
  recording?: { directory: string; prefix: string; extension: string };
  properties: Record<string, Record<string, string | number | boolean>>;
  /** Values to scrub from any text that leaves the process. */
  secrets: string[];
  decoder: DecoderChoice | null;
  /** No appsink: a record input's graph (the native Pipeline's recordOnly option). */
  recordOnly?: boolean;
}

function rateFragment(detectFps: number): string {
  return detectFps > 0 ? `videorate drop-only=true max-rate=${detectFps} !` : '';
}

/**
 * The recording branch: stream copy into segments. Fragmented MP4 (a moof every second) or Matroska, so a crash
 * leaves the open segment readable up to its last fragment. The queue leaks rather than stalls analytics when the
 * disk falls behind.
 */
/**
 * A tee and a queue before the decoder only when a recording branch needs the parsed stream: without one the
 * source's streaming thread decodes directly (one thread and one hand-over per frame fewer; bench/decode-cost.ts).
 */
function teeFragment(r: RecordingBranch | undefined): string {
  return r ? 'tee name=t t. ! queue max-size-buffers=16 max-size-bytes=0 max-size-time=0 ! ' : '';
}

function recordFragment(r: RecordingBranch | undefined): string {
  if (!r) return '';
  return `t. ! ${RECORD_QUEUE} ! ${recorderElement(r)}`;
}

const RECORD_QUEUE = 'queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000 leaky=downstream';

function recorderElement(r: RecordingBranch): string {
  const ns = Math.round(r.segmentSeconds * 1e9);
  const muxer =
    r.format === 'mp4' ? 'muxer-factory=mp4mux muxer-properties="properties,fragment-duration=(uint)1000"' : 'muxer-factory=matroskamux';
  return `splitmuxsink name=rec async-finalize=true ${muxer} max-size-time=${ns}`;
}

function recordingInfo(r: RecordingBranch | undefined): BuiltPipeline['recording'] {
  return r ? { directory: r.directory, prefix: r.prefix, extension: r.format } : undefined;
}

function requireElement(name: string): string {
  if (!hasElement(name)) {
    throw new VigilPipelineError('E_ELEMENT_MISSING', `GStreamer element ${name} is not installed (run \`vigil probe\`)`);
  }
  return name;
}

function decoderFragment(choice: DecoderChoice): string {
  return [choice.element, 'name=dec', choice.properties].filter(Boolean).join(' ');
}

function rtspProperties(source: RtspSource): { src: Record<string, string | number | boolean>; secrets: string[]; protocols: string } {
  // Credentials travel as rtspsrc properties, never inside the location.
  const url = new URL(source.url);
  const username = source.username ?? decodeURIComponent(url.username);
  const password = source.password ?? decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  const src: Record<string, string | number | boolean> = { location: url.toString() };
  if (username) src['user-id'] = username;
  if (password) src['user-pw'] = password;
  const protocols = source.transport === 'tcp' ? 'tcp' : source.transport === 'udp' ? 'udp' : 'tcp+udp-mcast+udp';
  return { src, secrets: [username, password].filter((s) => s.length > 0), protocols };
}

export function buildPipeline(source: CameraSource, options: PipelineOptions): BuiltPipeline {
  const rate = rateFragment(options.detectFps);
  switch (source.kind) {
    case 'file': {
      const probe = probeFile(source.path);
      const codec = source.codec ?? probe.codec;
      const decoder = chooseDecoder(codec, options.decoder);
      const parser = CODEC_ELEMENTS[codec].parser;
      const demux =
        probe.container === 'raw'
          ? `${codec === 'h265' ? 'video/x-h265' : 'video/x-h264'},stream-format=byte-stream,framerate=${source.rawFps}/1`
          : DEMUX[probe.container];
      return {
        description: fill(template('file'), {
          demux,
          parse: parser ? requireElement(parser) : 'identity',
          decoder: decoderFragment(decoder),
          rate,
          caps: SINK_CAPS,
          sync: String(source.realtime),
          tee: teeFragment(options.recording),
          record: recordFragment(options.recording),
        }),
        properties: { src: { location: source.path } },
        secrets: [],
        decoder,
        recording: recordingInfo(options.recording),
      };
    }
    case 'rtsp': {
      const decoder = chooseDecoder(source.codec, options.decoder);
      const { parser, depayloader } = CODEC_ELEMENTS[source.codec];
      if (!depayloader) throw new VigilPipelineError('E_ARGUMENT', `RTSP carriage of ${source.codec} is not supported`);
      const { src, secrets, protocols } = rtspProperties(source);
      return {
        description: fill(template('rtsp'), {
          latency: String(source.latencyMs),
          protocols,
          tcpTimeoutUs: String(source.connectTimeoutMs * 1000),
          udpTimeoutUs: String(source.connectTimeoutMs * 1000),
          depay: requireElement(depayloader),
          parse: parser ? requireElement(parser) : 'identity',
          decoder: decoderFragment(decoder),
          rate,
          caps: SINK_CAPS,
          tee: teeFragment(options.recording),
          record: recordFragment(options.recording),
        }),
        properties: { src },
        secrets,
        decoder,
        recording: recordingInfo(options.recording),
      };
    }
    case 'test':
      return {
        description: fill(template('test'), {
          live: String(source.live),
          width: String(source.width),
          height: String(source.height),
          fps: String(source.fps),
          rate,
          caps: SINK_CAPS,
          sync: String(source.live),
        }),
        properties: { src: { pattern: source.pattern, 'num-buffers': source.numBuffers > 0 ? source.numBuffers : -1 } },
        secrets: [],
        decoder: null,
      };
  }
}

/**
 * A record input's graph (gst-pipelines/*-record.pipeline): source -> depay/parse -> splitmuxsink, no decoder and
 * no appsink, so a main stream recorded beside a detect substream costs demuxing and muxing only. Files are paced
 * by clocksync when realtime (splitmuxsink's file sink does not sync), as a camera would deliver them.
 */
export function buildRecordPipeline(source: CameraSource, recording: RecordingBranch): BuiltPipeline {
  // Not leaky: with no analytics branch to protect, a slow disk may hold the source back (lossless for files).
  const common = { queue: 'queue max-size-buffers=0 max-size-bytes=0 max-size-time=10000000000', recorder: recorderElement(recording) };
  switch (source.kind) {
    case 'file': {
      const probe = probeFile(source.path);
      const codec = source.codec ?? probe.codec;
      const parser = CODEC_ELEMENTS[codec].parser;
      const demux =
        probe.container === 'raw'
          ? `${codec === 'h265' ? 'video/x-h265' : 'video/x-h264'},stream-format=byte-stream,framerate=${source.rawFps}/1`
          : DEMUX[probe.container];
      return {
        description: fill(template('file-record'), {
          ...common,
          demux,
          parse: parser ? requireElement(parser) : 'identity',
          sync: String(source.realtime),
        }),
        properties: { src: { location: source.path } },
        secrets: [],
        decoder: null,
        recording: recordingInfo(recording),
        recordOnly: true,
      };
    }
    case 'rtsp': {
      const { parser, depayloader } = CODEC_ELEMENTS[source.codec];
      if (!depayloader) throw new VigilPipelineError('E_ARGUMENT', `RTSP carriage of ${source.codec} is not supported`);
      const { src, secrets, protocols } = rtspProperties(source);
      return {
        description: fill(template('rtsp-record'), {
          ...common,
          latency: String(source.latencyMs),
          protocols,
          tcpTimeoutUs: String(source.connectTimeoutMs * 1000),
          udpTimeoutUs: String(source.connectTimeoutMs * 1000),
          depay: requireElement(depayloader),
          parse: parser ? requireElement(parser) : 'identity',
        }),
        properties: { src },
        secrets,
        decoder: null,
        recording: recordingInfo(recording),
        recordOnly: true,
      };
    }
    case 'test':
      throw new VigilPipelineError('E_ARGUMENT', 'A test pattern has no encoded stream to record: record inputs are files or RTSP');
  }
}
