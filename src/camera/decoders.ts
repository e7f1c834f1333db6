/**
 * Decoder choice by probing the GStreamer registry, best first: NVDEC, V4L2 (Jetson), VA, VAAPI, then software.
 * Hardware plugins register their elements only when a device was found, so presence in the registry is the probe.
 */
import { loadAddon } from '../../bindings/index.js';
import { VigilPipelineError } from '../errors.js';

export type Codec = 'h264' | 'h265' | 'mpeg4' | 'msmpeg4v3' | 'mjpeg';
export const CODECS: readonly Codec[] = ['h264', 'h265', 'mpeg4', 'msmpeg4v3', 'mjpeg'];

interface CodecElements {
  /** Bitstream parser, or null when the decoder takes demuxed frames directly. */
  parser: string | null;
  depayloader: string | null;
  /** Decoders, best first. */
  decoders: readonly string[];
}

export const CODEC_ELEMENTS: Readonly<Record<Codec, CodecElements>> = {
  h264: {
    parser: 'h264parse',
    depayloader: 'rtph264depay',
    decoders: ['nvh264dec', 'nvv4l2decoder', 'vah264dec', 'vaapih264dec', 'avdec_h264'],
  },
  h265: {
    parser: 'h265parse',
    depayloader: 'rtph265depay',
    decoders: ['nvh265dec', 'nvv4l2decoder', 'vah265dec', 'vaapih265dec', 'avdec_h265'],
  },
  mpeg4: { parser: 'mpeg4videoparse', depayloader: 'rtpmp4vdepay', decoders: ['avdec_mpeg4'] },
  msmpeg4v3: { parser: null, depayloader: null, decoders: ['avdec_msmpeg4'] },
  mjpeg: { parser: 'jpegparse', depayloader: 'rtpjpegdepay', decoders: ['nvjpegdec', 'vajpegdec', 'jpegdec'] },
};

export type DecoderKind = 'nvdec' | 'v4l2' | 'va' | 'vaapi' | 'software';

export function decoderKind(element: string): DecoderKind {
  if (element.startsWith('nvv4l2')) return 'v4l2';
  if (element.startsWith('nv')) return 'nvdec';
  if (element.startsWith('vaapi')) return 'vaapi';
  if (element.startsWith('va')) return 'va';
  return 'software';
}

export interface DecoderChoice {
  codec: Codec;
  element: string;
  kind: DecoderKind;
  /** gst-launch property fragment for the element, e.g. "max-threads=1". */
  properties: string;
}

export interface DecoderPreferences {
  /** Threads for software decoders; 1 is cheapest per frame and in memory (FACTS.md). 0 = automatic. */
  threads: number;
  /** Restrict to these kinds (e.g. ['software'] for benchmarks); default: all, best first. */
  allow?: readonly DecoderKind[];
  /**
   * false: H.264 / H.265 in software skip the in-loop deblocking filter (vigildec, the addon's decoder on libavcodec):
   * about a quarter less decode CPU, slightly blockier pictures (measured on vtest: 48.6 dB PSNR against a standard
   * decode). Only the detector, the motion gate and snapshots see these frames; recordings and live view carry the
   * camera's own stream. Hardware decoders are still preferred. Default true.
   */
  deblock?: boolean;
}

/** Software decoders that take a thread count (libav's frame/slice threading). */
const THREADED = new Set(['avdec_h264', 'avdec_h265', 'avdec_mpeg4', 'vigildec']);

/** The addon's own libavcodec decoder (native/analysis_decoder.cc), for decodes that skip deblocking. */
const ANALYSIS_DECODER = 'vigildec';

const available = new Map<string, boolean>();

export function hasElement(name: string): boolean {
  let known = available.get(name);
  if (known === undefined) {
    known = loadAddon().elementInfo(name) !== null;
    available.set(name, known);
  }
  return known;
}

export function chooseDecoder(codec: Codec, prefs: DecoderPreferences): DecoderChoice {
  const candidates = CODEC_ELEMENTS[codec].decoders;
  for (const element of candidates) {
    const kind = decoderKind(element);
    if (prefs.allow && !prefs.allow.includes(kind)) continue;
    if (!hasElement(element)) continue;
    if (prefs.deblock === false && kind === 'software' && (codec === 'h264' || codec === 'h265') && hasElement(ANALYSIS_DECODER)) {
      return { codec, element: ANALYSIS_DECODER, kind, properties: `deblock=false max-threads=${prefs.threads}` };
    }
    const properties = THREADED.has(element) ? `max-threads=${prefs.threads}` : '';
    return { codec, element, kind, properties };
  }
  throw new VigilPipelineError(
    'E_DECODER_MISSING',
    `No decoder for ${codec} is installed (tried ${candidates.join(', ')}); install gstreamer1.0-libav`,
  );
}

/** What this machine can decode, for `vigil probe`. */
export function probeDecoders(): Array<{ codec: Codec; element: string; kind: DecoderKind; available: boolean }> {
  const rows: Array<{ codec: Codec; element: string; kind: DecoderKind; available: boolean }> = [];
  for (const codec of CODECS) {
    for (const element of CODEC_ELEMENTS[codec].decoders) {
      rows.push({ codec, element, kind: decoderKind(element), available: hasElement(element) });
    }
  }
  return rows;
}
