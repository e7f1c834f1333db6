/**
 * Camera sources: what a camera reads from, validated, and — for files — which container and codec they hold,
 * read from the file's own headers (a few bytes, no decoder involved) so the graph can be explicit.
 */
import { openSync, readSync, fstatSync, closeSync } from 'node:fs';
import { extname } from 'node:path';
import { VigilPipelineError, expected } from '../errors.js';
import { onlyKeys } from '../validate.js';
import { CODECS, type Codec } from './decoders.js';

export type Container = 'mp4' | 'mkv' | 'avi' | 'raw';

export interface FileSource {
  kind: 'file';
  path: string;
  /** Detected from the file when omitted. */
  codec?: Codec;
  /** Start again at the end (a sample camera); otherwise the camera stops at end of stream. */
  loop: boolean;
  /** Pace frames at the clip's frame rate, as a camera would deliver them; false runs as fast as decode allows. */
  realtime: boolean;
  /** Raw Annex-B streams carry no timestamps: frames per second to stamp them with. */
  rawFps: number;
}

export interface RtspSource {
  kind: 'rtsp';
  /** rtsp:// URL; credentials may be inline or given as username/password (kept out of logs either way). */
  url: string;
  username?: string;
  password?: string;
  transport: 'tcp' | 'udp' | 'auto';
  latencyMs: number;
  codec: Codec;
  /** Give up on a connection attempt after this many ms (reported as an error, then retried with backoff). */
  connectTimeoutMs: number;
}

export interface TestSource {
  kind: 'test';
  pattern: string;
  width: number;
  height: number;
  fps: number;
  /** Behave as a live source (frames at the wall-clock rate). */
  live: boolean;
  /** Stop after this many frames (end of stream); 0 = endless. */
  numBuffers: number;
}

export type CameraSource = FileSource | RtspSource | TestSource;

/** The keys of each source kind. */
const SOURCE_KEYS: Record<string, readonly string[]> = {
  file: ['kind', 'path', 'codec', 'loop', 'realtime', 'rawFps'],
  rtsp: ['kind', 'url', 'username', 'password', 'transport', 'latencyMs', 'codec', 'connectTimeoutMs'],
  test: ['kind', 'pattern', 'width', 'height', 'fps', 'live', 'numBuffers'],
};

const TEST_PATTERNS = ['smpte', 'ball', 'snow', 'black', 'white', 'red', 'green', 'blue', 'checkers-8', 'gradient', 'solid-color', 'smpte100', 'bar'];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function int(v: unknown, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw expected(`an integer from ${min} to ${max}`, name, v);
  }
  return v;
}
function bool(v: unknown, name: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw expected('a boolean', name, v);
  return v;
}
function str(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.length === 0) throw expected('a non-empty string', name, v);
  return v;
}
function codec(v: unknown, name: string): Codec | undefined {
  if (v === undefined || v === 'auto') return undefined;
  if (typeof v !== 'string' || !(CODECS as readonly string[]).includes(v)) {
    throw expected(`one of ${CODECS.map((c) => `"${c}"`).join(', ')}, "auto"`, name, v);
  }
  return v as Codec;
}

/**
 * Accepts a string shorthand (`rtsp://...`, `file:///...`, a path, `test:smpte`) or an object with `kind`.
 * `name` is the config path used in error messages.
 */
export function parseSource(input: unknown, name = 'source'): CameraSource {
  if (typeof input === 'string') {
    if (/^rtsps?:\/\//i.test(input)) return parseSource({ kind: 'rtsp', url: input }, name);
    if (input.startsWith('test:')) return parseSource({ kind: 'test', pattern: input.slice(5) || 'smpte' }, name);
    const path = input.startsWith('file://') ? decodeURIComponent(new URL(input).pathname) : input;
    return parseSource({ kind: 'file', path }, name);
  }
  if (!isObject(input)) throw expected('a source URL or object', name, input);
  if (typeof input.kind === 'string' && Object.hasOwn(SOURCE_KEYS, input.kind)) onlyKeys(input, name, SOURCE_KEYS[input.kind]!);
  switch (input.kind) {
    case 'file':
      return {
        kind: 'file',
        path: str(input.path, `${name}.path`),
        codec: codec(input.codec, `${name}.codec`),
        loop: bool(input.loop, `${name}.loop`, false),
        realtime: bool(input.realtime, `${name}.realtime`, true),
        rawFps: int(input.rawFps, `${name}.rawFps`, 1, 240, 25),
      };
    case 'rtsp': {
      const url = str(input.url, `${name}.url`);
      if (!/^rtsps?:\/\//i.test(url)) throw expected('an rtsp:// URL', `${name}.url`, '(redacted)');
      const transport = input.transport ?? 'tcp';
      if (transport !== 'tcp' && transport !== 'udp' && transport !== 'auto') {
        throw expected('"tcp", "udp" or "auto"', `${name}.transport`, transport);
      }
      const src: RtspSource = {
        kind: 'rtsp',
        url,
        transport,
        latencyMs: int(input.latencyMs, `${name}.latencyMs`, 0, 10_000, 200),
        codec: codec(input.codec, `${name}.codec`) ?? 'h264',
        connectTimeoutMs: int(input.connectTimeoutMs, `${name}.connectTimeoutMs`, 100, 120_000, 5000),
      };
      if (input.username !== undefined) src.username = str(input.username, `${name}.username`);
      if (input.password !== undefined) {
        if (typeof input.password !== 'string') throw expected('a string', `${name}.password`, '(redacted)');
        src.password = input.password;
      }
      return src;
    }
    case 'test': {
      const pattern = input.pattern ?? 'smpte';
      if (typeof pattern !== 'string' || !TEST_PATTERNS.includes(pattern)) {
        throw expected(`one of ${TEST_PATTERNS.join(', ')}`, `${name}.pattern`, pattern);
      }
      return {
        kind: 'test',
        pattern,
        width: int(input.width, `${name}.width`, 16, 7680, 1280),
        height: int(input.height, `${name}.height`, 16, 4320, 720),
        fps: int(input.fps, `${name}.fps`, 1, 240, 15),
        live: bool(input.live, `${name}.live`, true),
        numBuffers: int(input.numBuffers, `${name}.numBuffers`, 0, 2 ** 31 - 1, 0),
      };
    }
    default:
      throw expected('"file", "rtsp" or "test"', `${name}.kind`, input.kind);
  }
}

/** Reads the start (and, for mp4 whose index is at the end, the tail) of a file. */
function readHead(path: string): { head: Buffer; tail: Buffer } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new VigilPipelineError(
      code === 'ENOENT' ? 'E_SOURCE_NOT_FOUND' : 'E_SOURCE_UNREADABLE',
      code === 'ENOENT' ? `Video file not found: ${path}` : `Video file cannot be read (${code}): ${path}`,
    );
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 1 << 20));
    readSync(fd, head, 0, head.length, 0);
    const tailLen = Math.min(Math.max(size - head.length, 0), 8 << 20);
    const tail = Buffer.alloc(tailLen);
    if (tailLen > 0) readSync(fd, tail, 0, tailLen, size - tailLen);
    return { head, tail };
  } finally {
    closeSync(fd);
  }
}

export interface FileProbe {
  container: Container;
  codec: Codec;
}

const AVI_FOURCC: Record<string, Codec> = {
  H264: 'h264', h264: 'h264', X264: 'h264', x264: 'h264', AVC1: 'h264', avc1: 'h264',
  HEVC: 'h265', hevc: 'h265', H265: 'h265', hev1: 'h265', hvc1: 'h265',
  DIV3: 'msmpeg4v3', div3: 'msmpeg4v3', MP43: 'msmpeg4v3', mp43: 'msmpeg4v3',
  XVID: 'mpeg4', xvid: 'mpeg4', DIVX: 'mpeg4', divx: 'mpeg4', DX50: 'mpeg4', FMP4: 'mpeg4', MP4V: 'mpeg4', mp4v: 'mpeg4',
  MJPG: 'mjpeg', mjpg: 'mjpeg',
};

function invalid(path: string, why: string): VigilPipelineError {
  return new VigilPipelineError('E_SOURCE_FORMAT', `Unsupported or damaged video file ${path}: ${why}`);
}

/** Container from the magic bytes, codec from the container's own codec tags. */
export function probeFile(path: string): FileProbe {
  const { head, tail } = readHead(path);
  if (head.length < 16) throw invalid(path, `only ${head.length} bytes`);
  const both = Buffer.concat([head, tail]);
  if (head.toString('latin1', 4, 8) === 'ftyp') {
    // Sample entries of every track: 'stsd' box, then version/flags, entry count, entry size, entry type.
    const MP4_CODECS: Record<string, Codec> = { avc1: 'h264', avc3: 'h264', hvc1: 'h265', hev1: 'h265', mp4v: 'mpeg4' };
    for (let at = both.indexOf('stsd'); at >= 0; at = both.indexOf('stsd', at + 4)) {
      const found = MP4_CODECS[both.toString('latin1', at + 16, at + 20)];
      if (found) return { container: 'mp4', codec: found };
    }
    throw invalid(path, 'no H.264, H.265 or MPEG-4 video track in the MP4 index (truncated or not a video file)');
  }
  if (head.readUInt32BE(0) === 0x1a45dfa3) {
    if (head.includes('V_MPEG4/ISO/AVC')) return { container: 'mkv', codec: 'h264' };
    if (head.includes('V_MPEGH/ISO/HEVC')) return { container: 'mkv', codec: 'h265' };
    if (head.includes('V_MPEG4/ISO/')) return { container: 'mkv', codec: 'mpeg4' };
    if (head.includes('V_MJPEG')) return { container: 'mkv', codec: 'mjpeg' };
    throw invalid(path, 'no supported video track found in the Matroska header');
  }
  if (head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'AVI ') {
    // BITMAPINFOHEADER.biCompression, 16 bytes into the video stream's 'strf' chunk payload.
    for (let at = head.indexOf('strf'); at >= 0 && at + 28 <= head.length; at = head.indexOf('strf', at + 4)) {
      const fourcc = head.toString('latin1', at + 24, at + 28);
      const found = AVI_FOURCC[fourcc];
      if (found) return { container: 'avi', codec: found };
    }
    throw invalid(path, 'no supported video stream found in the AVI header');
  }
  // Raw Annex-B: a start code, then an H.264 (SPS 7, AUD 9, SEI 6) or H.265 (VPS 32, AUD 35, SEI 39) NAL.
  const sc = head.indexOf(Buffer.from([0, 0, 1]));
  if (sc >= 0 && sc <= 4 && sc + 3 < head.length) {
    const nal = head[sc + 3]!;
    const ext = extname(path).toLowerCase();
    if (ext === '.h265' || ext === '.265' || ext === '.hevc' || [32, 35, 39].includes((nal >> 1) & 0x3f)) {
      if (ext !== '.h264' && ext !== '.264') return { container: 'raw', codec: 'h265' };
    }
    if ([7, 9, 6].includes(nal & 0x1f)) return { container: 'raw', codec: 'h264' };
  }
  throw invalid(path, 'not an MP4, Matroska, AVI or raw H.264/H.265 stream');
}

export type InputRole = 'detect' | 'record';
const ROLES: readonly InputRole[] = ['detect', 'record'];

/**
 * A camera's inputs by role. `source` is decoded for detection; `recordSource`, when set, is a second stream of the
 * same camera (typically the main stream beside a detect substream) recorded untouched by its own pipeline with no
 * decoder. null: recording, if on, copies `source` (a tee in the detect pipeline).
 */
export interface CameraInputs {
  source: CameraSource;
  recordSource: CameraSource | null;
}

function roles(v: unknown, name: string): InputRole[] {
  const list = Array.isArray(v) ? v : [v];
  const what = '"detect", "record" or a list of them';
  if (list.length === 0 || !list.every((r) => typeof r === 'string' && (ROLES as readonly string[]).includes(r))) {
    throw expected(what, name, v);
  }
  if (new Set(list).size !== list.length) throw expected(`${what} without repeats`, name, v);
  return list as InputRole[];
}

/**
 * Reads a camera's `source` (one stream for every role) or `inputs: [{ role, source }, ...]` (e.g. detect on a
 * substream, record the main stream). `raw` is the camera's settings object; `path` its config path
 * (e.g. "cameras[0]"), used in every message.
 */
export function parseCameraInputs(raw: unknown, path: string): CameraInputs {
  if (!isObject(raw)) throw expected('an object', path, raw);
  if (raw.inputs === undefined) return { source: parseSource(raw.source, `${path}.source`), recordSource: null };
  if (raw.source !== undefined) throw expected('either source or inputs, not both', `${path}.source`, raw.source);
  const inputs = raw.inputs;
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > ROLES.length) {
    throw expected(`a list of 1 to ${ROLES.length} { role, source } entries`, `${path}.inputs`, inputs);
  }
  const byRole = new Map<InputRole, { source: CameraSource; index: number }>();
  inputs.forEach((input: unknown, i) => {
    const at = `${path}.inputs[${i}]`;
    if (!isObject(input)) throw expected('an object with role and source', at, input);
    onlyKeys(input, at, ['role', 'source']);
    const source = parseSource(input.source, `${at}.source`);
    for (const role of roles(input.role, `${at}.role`)) {
      const other = byRole.get(role);
      if (other) throw expected(`one input per role ("${role}" is already the role of inputs[${other.index}])`, `${at}.role`, input.role);
      byRole.set(role, { source, index: i });
    }
  });
  const detect = byRole.get('detect');
  if (!detect) throw expected('one input with role "detect"', `${path}.inputs`, inputs);
  const record = byRole.get('record');
  if (record && record.index !== detect.index && record.source.kind === 'test') {
    throw expected('a file or RTSP source (a test pattern has no encoded stream to record)', `${path}.inputs[${record.index}].source.kind`, 'test');
  }
  return { source: detect.source, recordSource: record && record.index !== detect.index ? record.source : null };
}
