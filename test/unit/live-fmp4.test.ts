/**
 * The fMP4 fragmenting for live view (src/media/live/fmp4.ts): box layout of the init and media segments byte for
 * byte where it matters (sizes, data offset, decode times, sample flags), Annex B input turned into avcC +
 * length-prefixed samples, a monotonic time line across caps changes, and the refusals.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Fmp4Muxer, LiveFormatError, SAMPLE_FLAGS_DELTA, SAMPLE_FLAGS_SYNC, TIMESCALE, avcCodecString, makeAvcC, mediaSegment, parseH264Caps, splitAnnexB } from '../../src/media/live/fmp4.js';
import { boxes, find } from '../helpers/mp4-boxes.js';

const SPS = new Uint8Array([0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9, 0x40]);
const PPS = new Uint8Array([0x68, 0xeb, 0xe3, 0xcb]);
const IDR = new Uint8Array([0x65, 0x88, 0x84, 0x00, 0x33]);
const P = new Uint8Array([0x41, 0x9a, 0x22]);
const annexB = (...nals: Uint8Array[]): Uint8Array => {
  const parts: number[] = [];
  for (const n of nals) parts.push(0, 0, 0, 1, ...n);
  return new Uint8Array(parts);
};

test('caps: stream format, size and rate parsed; other codecs and NAL alignment refused', () => {
  assert.deepEqual(parseH264Caps('video/x-h264, stream-format=(string)avc, alignment=(string)au, width=(int)768, height=(int)576, framerate=(fraction)10/1, codec_data=(buffer)01640'), {
    streamFormat: 'avc',
    width: 768,
    height: 576,
    fps: 10,
  });
  assert.throws(() => parseH264Caps('video/x-h265, stream-format=(string)hvc1'), (e: unknown) => e instanceof LiveFormatError && e.code === 'E_LIVE_FORMAT' && e.message === 'Expected video/x-h264 caps for live view but received "video/x-h265"');
  assert.throws(() => parseH264Caps('video/x-h264, stream-format=(string)byte-stream, alignment=(string)nal'), { message: 'Expected alignment au for live view but received "nal"' });
});

test('Annex B: 3- and 4-byte start codes split, avcC and codec string from SPS/PPS', () => {
  const data = new Uint8Array([0, 0, 0, 1, ...SPS, 0, 0, 1, ...PPS, 0, 0, 0, 1, ...IDR]);
  assert.deepEqual(splitAnnexB(data).map((n) => [...n]), [[...SPS], [...PPS], [...IDR]]);
  const avcC = makeAvcC([SPS], [PPS]);
  assert.deepEqual([...avcC], [1, 0x64, 0x00, 0x1f, 0xff, 0xe1, 0, 7, ...SPS, 1, 0, 4, ...PPS]);
  assert.equal(avcCodecString(avcC), 'avc1.64001f');
});

test('media segment: moof/mdat sizes, data offset to the sample, tfdt, trun duration/size/flags/composition offset', () => {
  const sample = new Uint8Array([0, 0, 0, 3, 0x41, 0x9a, 0x22]);
  const seg = mediaSegment(5, 123_456_789_012n, 9000, -3000, false, sample);
  const top = boxes(seg);
  assert.deepEqual(top.map((b) => b[0]), ['moof', 'mdat']);
  const dv = new DataView(seg.buffer, seg.byteOffset);
  const [mfhd] = find(seg, ['moof', 'mfhd']);
  assert.equal(dv.getUint32(mfhd + 4), 5);
  const [tfdt] = find(seg, ['moof', 'traf', 'tfdt']);
  assert.equal(seg[tfdt], 1); // version 1: 64-bit time
  assert.equal(dv.getBigUint64(tfdt + 4), 123_456_789_012n);
  const [trun] = find(seg, ['moof', 'traf', 'trun']);
  assert.equal(dv.getUint32(trun) & 0xffffff, 0x000f01);
  assert.equal(dv.getUint32(trun + 4), 1);
  const dataOffset = dv.getInt32(trun + 8);
  assert.deepEqual([...seg.subarray(dataOffset, dataOffset + sample.length)], [...sample]);
  assert.equal(dataOffset, top[1]![1] + 8);
  assert.deepEqual([dv.getUint32(trun + 12), dv.getUint32(trun + 16), dv.getUint32(trun + 20), dv.getInt32(trun + 24)], [9000, 7, SAMPLE_FLAGS_DELTA, -3000]);
});

test('muxer, byte-stream: no init before SPS/PPS; keyframe makes the init (avcC), samples length-prefixed without SPS/PPS/AUD; time line monotonic', () => {
  const mux = new Fmp4Muxer();
  mux.setCaps('video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)640, height=(int)360, framerate=(fraction)15/1', null);
  assert.equal(mux.push({ data: annexB(P), ptsNs: 0, dtsNs: 0, durationNs: -1, keyframe: false }), null);
  const first = mux.push({ data: annexB(new Uint8Array([0x09, 0xf0]), SPS, PPS, IDR), ptsNs: 1_000_000_000, dtsNs: 1_000_000_000, durationNs: -1, keyframe: true })!;
  assert.equal(first.initChanged, true);
  assert.equal(mux.init!.mimeType, 'video/mp4; codecs="avc1.64001f"');
  const init = mux.init!.segment;
  assert.deepEqual(boxes(init).map((b) => b[0]), ['ftyp', 'moov']);
  const [avcC, avcCEnd] = find(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  // stsd payload: version/flags, count, then avc1 (78-byte header) holding avcC.
  const avcCStart = avcC + 8 + 8 + 78 + 8;
  assert.deepEqual([...init.subarray(avcCStart, avcCEnd)], [...makeAvcC([SPS], [PPS])]);
  const [mdhd] = find(init, ['moov', 'trak', 'mdia', 'mdhd']);
  assert.equal(new DataView(init.buffer, init.byteOffset).getUint32(mdhd + 12), TIMESCALE);
  const f1 = first.fragment;
  const mdat = boxes(f1).find((b) => b[0] === 'mdat')!;
  assert.deepEqual([...f1.subarray(mdat[1] + 8, mdat[1] + mdat[2])], [0, 0, 0, IDR.length, ...IDR]);
  const [trun1] = find(f1, ['moof', 'traf', 'trun']);
  const dv1 = new DataView(f1.buffer, f1.byteOffset);
  assert.equal(dv1.getUint32(trun1 + 12), TIMESCALE / 15); // no duration, no previous sample: the caps' rate
  assert.equal(dv1.getUint32(trun1 + 20), SAMPLE_FLAGS_SYNC);
  const second = mux.push({ data: annexB(P), ptsNs: 1_100_000_000, dtsNs: 1_100_000_000, durationNs: -1, keyframe: false })!;
  assert.equal(second.initChanged, false);
  const [tfdt2] = find(second.fragment, ['moof', 'traf', 'tfdt']);
  assert.equal(new DataView(second.fragment.buffer, second.fragment.byteOffset).getBigUint64(tfdt2 + 4), 6000n);
  // A restart (new caps, stream time back at 0): decode time keeps going forward.
  mux.setCaps('video/x-h264, stream-format=(string)byte-stream, alignment=(string)au, width=(int)640, height=(int)360', null);
  const third = mux.push({ data: annexB(SPS, PPS, IDR), ptsNs: 0, dtsNs: 0, durationNs: 40_000_000, keyframe: true })!;
  assert.equal(third.initChanged, true);
  const [tfdt3] = find(third.fragment, ['moof', 'traf', 'tfdt']);
  assert.equal(new DataView(third.fragment.buffer, third.fragment.byteOffset).getBigUint64(tfdt3 + 4), 6000n + 9000n);
  assert.equal(mux.decodeTime, 6000n + 9000n + 3600n);
});

test('muxer, avc: the caps codec_data is the avcC; a missing one is refused', () => {
  const mux = new Fmp4Muxer();
  assert.throws(() => mux.setCaps('video/x-h264, stream-format=(string)avc, alignment=(string)au, width=(int)64, height=(int)64', null), { message: 'Expected an avcC codec_data for stream-format avc' });
  mux.setCaps('video/x-h264, stream-format=(string)avc, alignment=(string)au, width=(int)64, height=(int)64', makeAvcC([SPS], [PPS]));
  assert.equal(mux.init!.width, 64);
  const r = mux.push({ data: new Uint8Array([0, 0, 0, 5, ...IDR]), ptsNs: 80_000_000, dtsNs: 40_000_000, durationNs: 40_000_000, keyframe: true })!;
  const [trun] = find(r.fragment, ['moof', 'traf', 'trun']);
  const dv = new DataView(r.fragment.buffer, r.fragment.byteOffset);
  assert.deepEqual([dv.getUint32(trun + 12), dv.getInt32(trun + 24)], [3600, 3600]); // 40 ms; pts - dts = 40 ms
  assert.throws(() => new Fmp4Muxer().push({ data: IDR, ptsNs: 0, dtsNs: 0, durationNs: -1, keyframe: true }), { message: 'Live sample before caps' });
});
