/**
 * Fragmented MP4 (CMAF-style, ISO/IEC 14496-12) from a camera's parsed H.264 or H.265 stream, for Media Source
 * Extensions: one init segment (ftyp + moov with the avcC / hvcC) and one fragment (moof + mdat) per access unit,
 * so a frame leaves the server as soon as the parser hands it on (no GOP-long buffering). Nothing is decoded or
 * re-encoded: samples are the encoder's own NAL units, length-prefixed.
 *
 * Input is what GStreamer's h264parse / h265parse give a decoder: `stream-format=avc` / `hvc1` / `hev1`
 * (codec_data = avcC / hvcC, samples already length-prefixed) or `stream-format=byte-stream` (Annex B start codes;
 * the parameter sets, SPS/PPS or VPS/SPS/PPS, are collected into an avcC / hvcC and taken out of the samples).
 * Only `alignment=au` (one access unit per buffer), which is what the parsers emit. H.265 is carried as `hvc1`
 * (parameter sets only in the hvcC) when they were taken out of the samples, else as the caps say (hvc1 / hev1);
 * whether the browser can decode it is for MSE to say (MediaSource.isTypeSupported on the MIME type sent).
 *
 * Timeline: the fragments' decode times are the muxer's own monotonic count of sample durations (timescale 90 kHz),
 * so a looping file or a pipeline restart never makes time run backwards for the browser; a new init segment is
 * made only when the caps change.
 */
import { VigilError } from '../../errors.js';

export const TIMESCALE = 90_000;

export class LiveFormatError extends VigilError {
  constructor(message: string) {
    super('E_LIVE_FORMAT', message);
    this.name = 'LiveFormatError';
  }
}

/** What the caps say, parsed. */
export interface H264Caps {
  streamFormat: 'avc' | 'byte-stream';
  width: number;
  height: number;
  /** Frames per second from the caps; 0 when unknown (variable). */
  fps: number;
}

export function parseH264Caps(caps: string): H264Caps {
  if (!/^video\/x-h264\b/.test(caps)) throw new LiveFormatError(`Expected video/x-h264 caps for live view but received ${JSON.stringify(caps.split(',')[0])}`);
  const field = (name: string): string | undefined => new RegExp(`\\b${name}=\\([a-z]+\\)"?([^,;"]+)`).exec(caps)?.[1];
  const format = field('stream-format') ?? 'byte-stream';
  if (format !== 'avc' && format !== 'byte-stream') throw new LiveFormatError(`Expected stream-format avc or byte-stream for live view but received ${JSON.stringify(format)}`);
  const alignment = field('alignment') ?? 'au';
  if (alignment !== 'au') throw new LiveFormatError(`Expected alignment au for live view but received ${JSON.stringify(alignment)}`);
  const fr = /\bframerate=\(fraction\)(\d+)\/(\d+)/.exec(caps);
  const fps = fr && Number(fr[2]) > 0 ? Number(fr[1]) / Number(fr[2]) : 0;
  return { streamFormat: format, width: Number(field('width') ?? 0), height: Number(field('height') ?? 0), fps };
}

/** What H.265 caps say, parsed. */
export interface H265Caps {
  streamFormat: 'hvc1' | 'hev1' | 'byte-stream';
  width: number;
  height: number;
  fps: number;
}

export function parseH265Caps(caps: string): H265Caps {
  if (!/^video\/x-h265\b/.test(caps)) throw new LiveFormatError(`Expected video/x-h265 caps for live view but received ${JSON.stringify(caps.split(',')[0])}`);
  const field = (name: string): string | undefined => new RegExp(`\\b${name}=\\([a-z]+\\)"?([^,;"]+)`).exec(caps)?.[1];
  const format = field('stream-format') ?? 'byte-stream';
  if (format !== 'hvc1' && format !== 'hev1' && format !== 'byte-stream') throw new LiveFormatError(`Expected stream-format hvc1, hev1 or byte-stream for live view but received ${JSON.stringify(format)}`);
  const alignment = field('alignment') ?? 'au';
  if (alignment !== 'au') throw new LiveFormatError(`Expected alignment au for live view but received ${JSON.stringify(alignment)}`);
  const fr = /\bframerate=\(fraction\)(\d+)\/(\d+)/.exec(caps);
  const fps = fr && Number(fr[2]) > 0 ? Number(fr[1]) / Number(fr[2]) : 0;
  return { streamFormat: format, width: Number(field('width') ?? 0), height: Number(field('height') ?? 0), fps };
}

/** Annex B byte stream -> NAL units (without start codes). */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  let start = -1;
  const n = data.length;
  while (i + 2 < n) {
    if (data[i] === 0 && data[i + 1] === 0 && (data[i + 2] === 1 || (data[i + 2] === 0 && i + 3 < n && data[i + 3] === 1))) {
      const codeLen = data[i + 2] === 1 ? 3 : 4;
      if (start >= 0) out.push(data.subarray(start, trimZeros(data, start, i)));
      start = i + codeLen;
      i += codeLen;
    } else i++;
  }
  if (start >= 0 && start < n) out.push(data.subarray(start, n));
  return out.filter((nal) => nal.length > 0);
}

function trimZeros(data: Uint8Array, start: number, end: number): number {
  while (end > start && data[end - 1] === 0) end--;
  return end;
}

/** Length-prefixed (avc) sample -> NAL units. */
export function splitLengthPrefixed(data: Uint8Array, lengthSize: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i + lengthSize <= data.length) {
    let len = 0;
    for (let k = 0; k < lengthSize; k++) len = len * 256 + data[i + k]!;
    i += lengthSize;
    if (i + len > data.length) throw new LiveFormatError(`NAL unit of ${len} bytes runs past its ${data.length}-byte sample`);
    out.push(data.subarray(i, i + len));
    i += len;
  }
  return out;
}

/** An AVCDecoderConfigurationRecord from one SPS and its PPSs. */
export function makeAvcC(sps: Uint8Array[], pps: Uint8Array[]): Uint8Array {
  const first = sps[0];
  if (!first || first.length < 4) throw new LiveFormatError('No SPS before the first keyframe');
  const size = 7 + sps.reduce((s, x) => s + 2 + x.length, 0) + pps.reduce((s, x) => s + 2 + x.length, 0);
  const out = new Uint8Array(size);
  out.set([1, first[1]!, first[2]!, first[3]!, 0xff, 0xe0 | sps.length]);
  let o = 6;
  for (const s of sps) {
    out[o++] = s.length >> 8;
    out[o++] = s.length & 0xff;
    out.set(s, o);
    o += s.length;
  }
  out[o++] = pps.length;
  for (const p of pps) {
    out[o++] = p.length >> 8;
    out[o++] = p.length & 0xff;
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** RFC 6381 codec string for MSE (`avc1.64001f`). */
export function avcCodecString(avcC: Uint8Array): string {
  const hex = (b: number): string => b.toString(16).padStart(2, '0');
  return `avc1.${hex(avcC[1]!)}${hex(avcC[2]!)}${hex(avcC[3]!)}`;
}

// ---------------------------------------------------------------- H.265 parameter sets

/** NAL unit types of H.265 (ITU-T H.265 table 7-1) the muxer handles. */
export const HEVC_NAL = { VPS: 32, SPS: 33, PPS: 34, AUD: 35 } as const;

export function hevcNalType(nal: Uint8Array): number {
  return (nal[0]! >> 1) & 0x3f;
}

/** NAL payload without emulation-prevention bytes (00 00 03 -> 00 00). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out: number[] = [];
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Uint8Array.from(out);
}

class BitReader {
  #bit = 0;
  constructor(private readonly data: Uint8Array) {}
  u(n: number): number {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const byte = this.data[this.#bit >> 3];
      if (byte === undefined) throw new LiveFormatError('H.265 SPS ends early');
      v = v * 2 + ((byte >> (7 - (this.#bit & 7))) & 1);
      this.#bit++;
    }
    return v;
  }
  ue(): number {
    let zeros = 0;
    while (this.u(1) === 0) if (++zeros > 31) throw new LiveFormatError('H.265 SPS has a malformed Exp-Golomb code');
    return zeros === 0 ? 0 : 2 ** zeros - 1 + this.u(zeros);
  }
}

/** The fields of an H.265 SPS that the hvcC and the codec string carry. */
export interface HevcSpsInfo {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  /** general_profile_compatibility_flags, bit 31 = flag 0. */
  compatibilityFlags: number;
  /** general constraint indicator flags, 6 bytes. */
  constraintFlags: Uint8Array;
  levelIdc: number;
  maxSubLayersMinus1: number;
  temporalIdNesting: number;
  chromaFormatIdc: number;
  bitDepthLumaMinus8: number;
  bitDepthChromaMinus8: number;
  width: number;
  height: number;
}

/** Reads profile, tier, level, chroma format, bit depths and size from an H.265 SPS NAL unit (with its header). */
export function parseHevcSps(nal: Uint8Array): HevcSpsInfo {
  if (nal.length < 15 || hevcNalType(nal) !== HEVC_NAL.SPS) throw new LiveFormatError(`Expected an H.265 SPS NAL unit for sps but received ${nal.length} bytes of type ${nal.length ? hevcNalType(nal) : 'none'}`);
  const rbsp = unescapeRbsp(nal.subarray(2));
  const r = new BitReader(rbsp);
  r.u(4); // sps_video_parameter_set_id
  const maxSubLayersMinus1 = r.u(3);
  const temporalIdNesting = r.u(1);
  const profileSpace = r.u(2);
  const tierFlag = r.u(1);
  const profileIdc = r.u(5);
  const compatibilityFlags = r.u(32) >>> 0;
  const constraintFlags = rbsp.slice(6, 12);
  r.u(24);
  r.u(24);
  const levelIdc = r.u(8);
  const subProfile: number[] = [];
  const subLevel: number[] = [];
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    subProfile.push(r.u(1));
    subLevel.push(r.u(1));
  }
  if (maxSubLayersMinus1 > 0) for (let i = maxSubLayersMinus1; i < 8; i++) r.u(2);
  for (let i = 0; i < maxSubLayersMinus1; i++) {
    if (subProfile[i]) {
      r.u(32);
      r.u(32);
      r.u(24);
    }
    if (subLevel[i]) r.u(8);
  }
  r.ue(); // sps_seq_parameter_set_id
  const chromaFormatIdc = r.ue();
  if (chromaFormatIdc === 3) r.u(1);
  const width = r.ue();
  const height = r.ue();
  if (r.u(1)) for (let i = 0; i < 4; i++) r.ue();
  const bitDepthLumaMinus8 = r.ue();
  const bitDepthChromaMinus8 = r.ue();
  return { profileSpace, tierFlag, profileIdc, compatibilityFlags, constraintFlags, levelIdc, maxSubLayersMinus1, temporalIdNesting, chromaFormatIdc, bitDepthLumaMinus8, bitDepthChromaMinus8, width, height };
}

/** An HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1) from VPS, SPS and PPS NAL units; 4-byte lengths. */
export function makeHvcC(vps: Uint8Array[], sps: Uint8Array[], pps: Uint8Array[]): Uint8Array {
  if (!sps[0] || !vps[0] || !pps[0]) throw new LiveFormatError('No VPS, SPS and PPS before the first keyframe');
  const info = parseHevcSps(sps[0]);
  const arrays: Array<[number, Uint8Array[]]> = [
    [HEVC_NAL.VPS, vps],
    [HEVC_NAL.SPS, sps],
    [HEVC_NAL.PPS, pps],
  ];
  const size = 23 + arrays.reduce((s, [, nals]) => s + 3 + nals.reduce((t, n) => t + 2 + n.length, 0), 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = 1;
  out[1] = (info.profileSpace << 6) | (info.tierFlag << 5) | info.profileIdc;
  dv.setUint32(2, info.compatibilityFlags);
  out.set(info.constraintFlags, 6);
  out[12] = info.levelIdc;
  dv.setUint16(13, 0xf000); // min_spatial_segmentation_idc 0
  out[15] = 0xfc; // parallelismType 0 (unknown)
  out[16] = 0xfc | info.chromaFormatIdc;
  out[17] = 0xf8 | info.bitDepthLumaMinus8;
  out[18] = 0xf8 | info.bitDepthChromaMinus8;
  dv.setUint16(19, 0); // avgFrameRate unknown
  out[21] = ((info.maxSubLayersMinus1 + 1) << 3) | (info.temporalIdNesting << 2) | 3; // constantFrameRate 0, lengthSizeMinusOne 3
  out[22] = arrays.length;
  let o = 23;
  for (const [type, nals] of arrays) {
    out[o++] = 0x80 | type; // array_completeness: all of this type are here
    dv.setUint16(o, nals.length);
    o += 2;
    for (const n of nals) {
      dv.setUint16(o, n.length);
      out.set(n, o + 2);
      o += 2 + n.length;
    }
  }
  return out;
}

/** The hvcC's fields read back (tests, tooling). */
export interface HvcCInfo {
  profileSpace: number;
  tierFlag: number;
  profileIdc: number;
  compatibilityFlags: number;
  constraintFlags: number[];
  levelIdc: number;
  chromaFormatIdc: number;
  bitDepthLumaMinus8: number;
  bitDepthChromaMinus8: number;
  numTemporalLayers: number;
  temporalIdNested: number;
  lengthSize: number;
  arrays: Array<{ type: number; complete: boolean; nalus: Uint8Array[] }>;
}

export function parseHvcC(hvcC: Uint8Array): HvcCInfo {
  if (hvcC.length < 23 || hvcC[0] !== 1) throw new LiveFormatError(`Expected an hvcC (version 1, 23+ bytes) for codec_data but received ${hvcC.length} bytes`);
  const dv = new DataView(hvcC.buffer, hvcC.byteOffset, hvcC.length);
  const arrays: HvcCInfo['arrays'] = [];
  let o = 23;
  for (let i = 0; i < hvcC[22]!; i++) {
    if (o + 3 > hvcC.length) throw new LiveFormatError('hvcC NAL arrays run past the record');
    const type = hvcC[o]! & 0x3f;
    const complete = (hvcC[o]! & 0x80) !== 0;
    const n = dv.getUint16(o + 1);
    o += 3;
    const nalus: Uint8Array[] = [];
    for (let k = 0; k < n; k++) {
      const len = dv.getUint16(o);
      if (o + 2 + len > hvcC.length) throw new LiveFormatError('hvcC NAL unit runs past the record');
      nalus.push(hvcC.subarray(o + 2, o + 2 + len));
      o += 2 + len;
    }
    arrays.push({ type, complete, nalus });
  }
  return {
    profileSpace: hvcC[1]! >> 6,
    tierFlag: (hvcC[1]! >> 5) & 1,
    profileIdc: hvcC[1]! & 0x1f,
    compatibilityFlags: dv.getUint32(2),
    constraintFlags: [...hvcC.subarray(6, 12)],
    levelIdc: hvcC[12]!,
    chromaFormatIdc: hvcC[16]! & 3,
    bitDepthLumaMinus8: hvcC[17]! & 7,
    bitDepthChromaMinus8: hvcC[18]! & 7,
    numTemporalLayers: (hvcC[21]! >> 3) & 7,
    temporalIdNested: (hvcC[21]! >> 2) & 1,
    lengthSize: (hvcC[21]! & 3) + 1,
    arrays,
  };
}

/** RFC 6381 / ISO/IEC 14496-15 Annex E codec string (`hvc1.1.6.L93.B0`) for a sample entry of `entry` type. */
export function hevcCodecString(hvcC: Uint8Array, entry: 'hvc1' | 'hev1' = 'hvc1'): string {
  const h = parseHvcC(hvcC);
  let reversed = 0;
  for (let i = 0; i < 32; i++) if (h.compatibilityFlags & (1 << i)) reversed |= 1 << (31 - i);
  const constraints = [...h.constraintFlags];
  while (constraints.length > 0 && constraints[constraints.length - 1] === 0) constraints.pop();
  return [
    entry,
    `${['', 'A', 'B', 'C'][h.profileSpace]}${h.profileIdc}`,
    (reversed >>> 0).toString(16).toUpperCase(),
    `${h.tierFlag ? 'H' : 'L'}${h.levelIdc}`,
    ...constraints.map((b) => b.toString(16).toUpperCase()),
  ].join('.');
}

// ---------------------------------------------------------------- box writing

function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + payload.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, size);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  let o = 8;
  for (const p of payload) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function fullBox(type: string, version: number, flags: number, ...payload: Uint8Array[]): Uint8Array {
  return box(type, new Uint8Array([version, (flags >> 16) & 0xff, (flags >> 8) & 0xff, flags & 0xff]), ...payload);
}

function u32(...values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint32(i * 4, v >>> 0));
  return out;
}

function u64(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

const MATRIX = u32(0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000);

/** ftyp + moov for one H.264 video track (track id 1, 90 kHz). */
export function initSegment(avcC: Uint8Array, width: number, height: number): Uint8Array {
  return videoInitSegment('avc1', 'avcC', avcC, width, height);
}

/** ftyp + moov for one H.265 video track: sample entry `hvc1` (parameter sets only in the hvcC) or `hev1`. */
export function hevcInitSegment(hvcC: Uint8Array, width: number, height: number, entry: 'hvc1' | 'hev1' = 'hvc1'): Uint8Array {
  return videoInitSegment(entry, 'hvcC', hvcC, width, height);
}

function videoInitSegment(entry: 'avc1' | 'hvc1' | 'hev1', configType: 'avcC' | 'hvcC', config: Uint8Array, width: number, height: number): Uint8Array {
  const ftyp = box('ftyp', new Uint8Array([...'iso5'].map((c) => c.charCodeAt(0))), u32(512), new Uint8Array([...`iso5iso6${entry}mp41`].map((c) => c.charCodeAt(0))));
  const mvhd = fullBox('mvhd', 0, 0, u32(0, 0, 1000, 0, 0x00010000), new Uint8Array([1, 0, 0, 0]), u32(0, 0), MATRIX, u32(0, 0, 0, 0, 0, 0), u32(2));
  const tkhd = fullBox('tkhd', 0, 3, u32(0, 0, 1, 0, 0), u32(0, 0), new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0]), MATRIX, u32(width << 16, height << 16));
  const mdhd = fullBox('mdhd', 0, 0, u32(0, 0, TIMESCALE, 0), new Uint8Array([0x55, 0xc4, 0, 0]));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), new Uint8Array([...'vide'].map((c) => c.charCodeAt(0))), u32(0, 0, 0), new Uint8Array([...'Vigil live\0'].map((c) => c.charCodeAt(0))));
  const vmhd = fullBox('vmhd', 0, 1, new Uint8Array(8));
  const dinf = box('dinf', fullBox('dref', 0, 0, u32(1), fullBox('url ', 0, 1)));
  const avc1Header = new Uint8Array(78);
  const dv = new DataView(avc1Header.buffer);
  dv.setUint16(6, 1); // data_reference_index
  dv.setUint16(24, width);
  dv.setUint16(26, height);
  dv.setUint32(28, 0x00480000); // 72 dpi
  dv.setUint32(32, 0x00480000);
  dv.setUint16(40, 1); // frame_count
  dv.setUint16(74, 0x0018); // depth
  dv.setInt16(76, -1); // pre_defined
  const avc1 = box(entry, avc1Header, box(configType, config));
  const stbl = box(
    'stbl',
    fullBox('stsd', 0, 0, u32(1), avc1),
    fullBox('stts', 0, 0, u32(0)),
    fullBox('stsc', 0, 0, u32(0)),
    fullBox('stsz', 0, 0, u32(0, 0)),
    fullBox('stco', 0, 0, u32(0)),
  );
  const minf = box('minf', vmhd, dinf, stbl);
  const trak = box('trak', tkhd, box('mdia', mdhd, hdlr, minf));
  const mvex = box('mvex', fullBox('trex', 0, 0, u32(1, 1, 0, 0, 0)));
  return concat([ftyp, box('moov', mvhd, trak, mvex)]);
}

export const SAMPLE_FLAGS_SYNC = 0x02000000;
export const SAMPLE_FLAGS_DELTA = 0x01010000;

/** moof + mdat holding one sample. */
export function mediaSegment(sequence: number, decodeTime: bigint, duration: number, compositionOffset: number, keyframe: boolean, sample: Uint8Array): Uint8Array {
  const mfhd = fullBox('mfhd', 0, 0, u32(sequence));
  const tfhd = fullBox('tfhd', 0, 0x020000, u32(1)); // default-base-is-moof
  const tfdt = fullBox('tfdt', 1, 0, u64(decodeTime));
  // trun v1: data offset, duration, size, flags, signed composition offset.
  const trunBody = new Uint8Array(4 + 4 + 16);
  const dv = new DataView(trunBody.buffer);
  dv.setUint32(0, 1);
  dv.setUint32(8, duration);
  dv.setUint32(12, sample.length);
  dv.setUint32(16, keyframe ? SAMPLE_FLAGS_SYNC : SAMPLE_FLAGS_DELTA);
  dv.setInt32(20, compositionOffset);
  const trunSize = 12 + trunBody.length;
  const trafSize = 8 + tfhd.length + tfdt.length + trunSize;
  const moofSize = 8 + mfhd.length + trafSize;
  dv.setInt32(4, moofSize + 8); // data offset: from the moof's start to the mdat payload
  const trun = fullBox('trun', 1, 0x000f01, trunBody);
  const moof = box('moof', mfhd, box('traf', tfhd, tfdt, trun));
  return concat([moof, box('mdat', sample)]);
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ---------------------------------------------------------------- the muxer

export interface LiveSample {
  data: Uint8Array;
  /** ns, -1 when unknown. */
  ptsNs: number;
  dtsNs: number;
  durationNs: number;
  keyframe: boolean;
}

export interface LiveInit {
  /** ftyp + moov. */
  segment: Uint8Array;
  /** For MediaSource.isTypeSupported / addSourceBuffer: `video/mp4; codecs="avc1.64001f"` or `"hvc1.1.6.L93.B0"`. */
  mimeType: string;
  width: number;
  height: number;
}

export class Fmp4Muxer {
  #codec: 'h264' | 'h265' = 'h264';
  #caps: H264Caps | H265Caps | null = null;
  #lengthSize = 4;
  #init: LiveInit | null = null;
  #vps: Uint8Array[] = [];
  #sps: Uint8Array[] = [];
  #pps: Uint8Array[] = [];
  #sequence = 0;
  #decodeTime = 0n;
  #lastDtsNs = -1;
  #lastDuration = 0;

  /** The current init segment; null until a keyframe was seen after setCaps. */
  get init(): LiveInit | null {
    return this.#init;
  }

  /**
   * New caps (the first sample after the tap was enabled, or a format change). `codecData` is the caps'
   * codec_data (the avcC for stream-format=avc, the hvcC for hvc1 / hev1). The init segment is rebuilt; decode
   * time keeps running.
   */
  setCaps(caps: string, codecData: Uint8Array | null): void {
    const h265 = /^video\/x-h265\b/.test(caps);
    if (!h265 && !/^video\/x-h264\b/.test(caps)) throw new LiveFormatError(`Expected video/x-h264 or video/x-h265 caps for live view but received ${JSON.stringify(caps.split(',')[0])}`);
    const c = h265 ? parseH265Caps(caps) : parseH264Caps(caps);
    this.#codec = h265 ? 'h265' : 'h264';
    this.#caps = c;
    this.#init = null;
    this.#vps = [];
    this.#sps = [];
    this.#pps = [];
    if (c.streamFormat === 'avc') {
      if (!codecData || codecData.length < 7 || codecData[0] !== 1) throw new LiveFormatError('Expected an avcC codec_data for stream-format avc');
      this.#lengthSize = (codecData[4]! & 3) + 1;
      this.#init = { segment: initSegment(codecData, c.width, c.height), mimeType: `video/mp4; codecs="${avcCodecString(codecData)}"`, width: c.width, height: c.height };
    } else if (c.streamFormat === 'hvc1' || c.streamFormat === 'hev1') {
      if (!codecData || codecData.length < 23 || codecData[0] !== 1) throw new LiveFormatError(`Expected an hvcC codec_data for stream-format ${c.streamFormat}`);
      this.#lengthSize = parseHvcC(codecData).lengthSize;
      this.#init = {
        segment: hevcInitSegment(codecData, c.width, c.height, c.streamFormat),
        mimeType: `video/mp4; codecs="${hevcCodecString(codecData, c.streamFormat)}"`,
        width: c.width,
        height: c.height,
      };
    }
    this.#lastDtsNs = -1;
  }

  /**
   * One access unit -> a media segment (moof + mdat), or null while no init segment can be made yet (byte-stream
   * before its first parameter sets). `initChanged` is true when this sample produced a new init segment
   * (byte-stream parameter sets changed), which must reach the player before the fragment.
   */
  push(s: LiveSample): { fragment: Uint8Array; initChanged: boolean } | null {
    const caps = this.#caps;
    if (!caps) throw new LiveFormatError('Live sample before caps');
    let sample = s.data;
    let initChanged = false;
    if (caps.streamFormat === 'byte-stream') {
      const nals = splitAnnexB(s.data);
      const keep: Uint8Array[] = [];
      const vps: Uint8Array[] = [];
      const sps: Uint8Array[] = [];
      const pps: Uint8Array[] = [];
      const h265 = this.#codec === 'h265';
      for (const nal of nals) {
        if (h265) {
          const type = hevcNalType(nal);
          if (type === HEVC_NAL.VPS) vps.push(nal);
          else if (type === HEVC_NAL.SPS) sps.push(nal);
          else if (type === HEVC_NAL.PPS) pps.push(nal);
          else if (type !== HEVC_NAL.AUD) keep.push(nal);
        } else {
          const type = nal[0]! & 0x1f;
          if (type === 7) sps.push(nal);
          else if (type === 8) pps.push(nal);
          else if (type !== 9) keep.push(nal); // access unit delimiters are not carried in MP4
        }
      }
      const complete = sps.length > 0 && pps.length > 0 && (!h265 || vps.length > 0);
      if (complete && (!this.#init || !sameSets(sps, this.#sps) || !sameSets(pps, this.#pps) || !sameSets(vps, this.#vps))) {
        this.#vps = vps;
        this.#sps = sps;
        this.#pps = pps;
        if (h265) {
          const hvcC = makeHvcC(vps, sps, pps);
          this.#init = { segment: hevcInitSegment(hvcC, caps.width, caps.height), mimeType: `video/mp4; codecs="${hevcCodecString(hvcC)}"`, width: caps.width, height: caps.height };
        } else {
          const avcC = makeAvcC(sps, pps);
          this.#init = { segment: initSegment(avcC, caps.width, caps.height), mimeType: `video/mp4; codecs="${avcCodecString(avcC)}"`, width: caps.width, height: caps.height };
        }
        initChanged = true;
      }
      if (!this.#init) return null;
      sample = concat(keep.flatMap((nal) => [u32(nal.length), nal]));
    } else if (this.#lengthSize !== 4) {
      // MSE accepts any NAL length size the avcC / hvcC declares; this only checks the sample is well formed.
      splitLengthPrefixed(sample, this.#lengthSize);
    }
    const dts = s.dtsNs >= 0 ? s.dtsNs : s.ptsNs;
    let duration: number;
    if (s.durationNs > 0) duration = Math.round((s.durationNs * TIMESCALE) / 1e9);
    else if (this.#lastDtsNs >= 0 && dts > this.#lastDtsNs) duration = Math.round(((dts - this.#lastDtsNs) * TIMESCALE) / 1e9);
    else if (this.#lastDuration > 0) duration = this.#lastDuration;
    else duration = Math.round(TIMESCALE / (caps.fps > 0 ? caps.fps : 25));
    duration = Math.max(1, duration);
    this.#lastDtsNs = dts;
    this.#lastDuration = duration;
    const cto = s.ptsNs >= 0 && s.dtsNs >= 0 ? Math.round(((s.ptsNs - s.dtsNs) * TIMESCALE) / 1e9) : 0;
    const fragment = mediaSegment(++this.#sequence, this.#decodeTime, duration, cto, s.keyframe, sample);
    this.#decodeTime += BigInt(duration);
    return { fragment, initChanged };
  }

  /** Decode time (90 kHz) the next fragment starts at. */
  get decodeTime(): bigint {
    return this.#decodeTime;
  }
}

function sameSets(a: Uint8Array[], b: Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(x, b[i]!) === 0);
}
