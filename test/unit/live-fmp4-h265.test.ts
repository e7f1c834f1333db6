/**
 * H.265 in the live fMP4 fragmenting (src/media/live/fmp4.ts), on a real stream: GStreamer's x265enc encodes a
 * test pattern, h265parse cuts it into access units (multifilesink: one file per buffer) in Annex B, and the same
 * stream through h265parse as stream-format=hvc1 gives GStreamer's own hvcC. The init segment's box structure is
 * checked, its hvcC parsed back field by field against the SPS and against GStreamer's, the codec string for MSE,
 * and ffprobe reads the muxed fMP4 back as H.265, frame for frame.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Fmp4Muxer, HEVC_NAL, LiveFormatError, concat, hevcCodecString, hevcNalType, parseH265Caps, parseHevcSps, parseHvcC, splitAnnexB } from '../../src/media/live/fmp4.js';
import { boxes, find } from '../helpers/mp4-boxes.js';

const FRAMES = 12;
let dir: string;
let aus: Uint8Array[];
let gstHvcC: Uint8Array;
let byteStreamCaps: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-h265-'));
  const out = execFileSync(
    'gst-launch-1.0',
    [
      '-v',
      'videotestsrc', `num-buffers=${FRAMES}`, 'pattern=ball', '!',
      'video/x-raw,format=I420,width=320,height=240,framerate=15/1', '!',
      'x265enc', 'key-int-max=5', 'speed-preset=ultrafast', '!',
      'h265parse', '!', 'video/x-h265,stream-format=byte-stream,alignment=au', '!',
      'multifilesink', `location=${join(dir, 'au-%03d.h265')}`,
    ],
    { encoding: 'utf8' },
  );
  byteStreamCaps = /h265parse0\.GstPad:src: caps = (video\/x-h265, stream-format=\(string\)byte-stream[^\n]*)/.exec(out)![1]!;
  aus = readdirSync(dir)
    .filter((f) => f.startsWith('au-'))
    .sort()
    .map((f) => new Uint8Array(readFileSync(join(dir, f))));
  writeFileSync(join(dir, 'all.h265'), concat(aus));
  const hvc1 = execFileSync('gst-launch-1.0', ['-v', 'filesrc', `location=${join(dir, 'all.h265')}`, '!', 'h265parse', '!', 'video/x-h265,stream-format=hvc1,alignment=au', '!', 'fakesink'], { encoding: 'utf8' });
  gstHvcC = Uint8Array.from(Buffer.from(/codec_data=\(buffer\)([0-9a-f]+)/.exec(hvc1)![1]!, 'hex'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('caps: H.265 stream formats parsed; other formats and NAL alignment refused', () => {
  assert.deepEqual(parseH265Caps(byteStreamCaps), { streamFormat: 'byte-stream', width: 320, height: 240, fps: 15 });
  assert.deepEqual(parseH265Caps('video/x-h265, stream-format=(string)hev1, alignment=(string)au, width=(int)1920, height=(int)1080'), { streamFormat: 'hev1', width: 1920, height: 1080, fps: 0 });
  assert.throws(() => parseH265Caps('video/x-h264, stream-format=(string)avc'), (e: unknown) => e instanceof LiveFormatError && e.code === 'E_LIVE_FORMAT' && e.message === 'Expected video/x-h265 caps for live view but received "video/x-h264"');
  assert.throws(() => parseH265Caps('video/x-h265, stream-format=(string)hvc1, alignment=(string)nal'), { message: 'Expected alignment au for live view but received "nal"' });
  assert.throws(() => new Fmp4Muxer().setCaps('video/x-h265, stream-format=(string)hvc1, alignment=(string)au, width=(int)64, height=(int)64', null), { message: 'Expected an hvcC codec_data for stream-format hvc1' });
  assert.throws(() => new Fmp4Muxer().setCaps('video/mpeg, mpegversion=(int)4', null), (e: unknown) => e instanceof LiveFormatError && e.message === 'Expected video/x-h264 or video/x-h265 caps for live view but received "video/mpeg"');
});

test('SPS of the x265 stream: Main profile, level 2.1, 4:2:0 8-bit, 320x240', () => {
  const sps = splitAnnexB(aus[0]!).find((n) => hevcNalType(n) === HEVC_NAL.SPS)!;
  const info = parseHevcSps(sps);
  assert.deepEqual(
    { ...info, constraintFlags: [...info.constraintFlags] },
    {
      profileSpace: 0,
      tierFlag: 0,
      profileIdc: 1,
      compatibilityFlags: 0x60000000,
      constraintFlags: [0x90, 0, 0, 0, 0, 0],
      levelIdc: 63,
      maxSubLayersMinus1: 0,
      temporalIdNesting: 1,
      chromaFormatIdc: 1,
      bitDepthLumaMinus8: 0,
      bitDepthChromaMinus8: 0,
      width: 320,
      height: 240,
    },
  );
});

test('byte-stream H.265: init segment ftyp + moov with hvc1/hvcC, hvcC fields parsed back equal GStreamer\'s; samples length-prefixed without VPS/SPS/PPS; ffprobe reads every frame', () => {
  const mux = new Fmp4Muxer();
  mux.setCaps(byteStreamCaps, null);
  const fragments: Uint8Array[] = [];
  let inits = 0;
  for (const [i, au] of aus.entries()) {
    const r = mux.push({ data: au, ptsNs: Math.round((i * 1e9) / 15), dtsNs: Math.round((i * 1e9) / 15), durationNs: -1, keyframe: i % 5 === 0 })!;
    assert.ok(r, `access unit ${i} made a fragment`);
    if (r.initChanged) inits++;
    fragments.push(r.fragment);
  }
  assert.equal(aus.length, FRAMES);
  assert.equal(inits, 1); // the parameter sets repeat at every keyframe, unchanged
  const init = mux.init!;
  assert.equal(init.mimeType, 'video/mp4; codecs="hvc1.1.6.L63.90"');
  assert.deepEqual([init.width, init.height], [320, 240]);
  const seg = init.segment;
  assert.deepEqual(boxes(seg).map((b) => b[0]), ['ftyp', 'moov']);
  const [ftyp, ftypEnd] = find(seg, ['ftyp']);
  assert.equal(Buffer.from(seg.subarray(ftyp, ftypEnd)).toString('latin1'), 'iso5\0\0\x02\0iso5iso6hvc1mp41');
  assert.deepEqual(boxes(seg, ...find(seg, ['moov'])).map((b) => b[0]), ['mvhd', 'trak', 'mvex']);
  // stsd: version/flags + entry count, then the hvc1 sample entry: 78-byte visual header, then its hvcC box.
  const [stsd, stsdEnd] = find(seg, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd'], { stsd: 8 });
  const entries = boxes(seg, stsd, stsdEnd);
  assert.deepEqual(entries.map((b) => b[0]), ['hvc1']);
  const dv = new DataView(seg.buffer, seg.byteOffset);
  assert.deepEqual([dv.getUint16(stsd + 8 + 24), dv.getUint16(stsd + 8 + 26)], [320, 240]);
  const inner = boxes(seg, stsd + 8 + 78, entries[0]![1] + entries[0]![2]);
  assert.deepEqual(inner.map((b) => b[0]), ['hvcC']);
  const hvcC = seg.subarray(inner[0]![1] + 8, inner[0]![1] + inner[0]![2]);
  const mine = parseHvcC(hvcC);
  const theirs = parseHvcC(gstHvcC);
  const nals = splitAnnexB(aus[0]!);
  const ofType = (t: number): number[][] => nals.filter((n) => hevcNalType(n) === t).map((n) => [...n]);
  assert.deepEqual(
    mine.arrays.map((a) => ({ type: a.type, complete: a.complete, nalus: a.nalus.map((n) => [...n]) })),
    [
      { type: HEVC_NAL.VPS, complete: true, nalus: ofType(HEVC_NAL.VPS) },
      { type: HEVC_NAL.SPS, complete: true, nalus: ofType(HEVC_NAL.SPS) },
      { type: HEVC_NAL.PPS, complete: true, nalus: ofType(HEVC_NAL.PPS) },
    ],
  );
  // Everything but array_completeness (h265parse leaves it 0) is what GStreamer's own hvcC says.
  const strip = (h: typeof mine) => ({ ...h, arrays: h.arrays.map((a) => ({ type: a.type, nalus: a.nalus.map((n) => [...n]) })) });
  assert.deepEqual(strip(mine), strip(theirs));
  assert.deepEqual(
    { ...mine, arrays: mine.arrays.length },
    { profileSpace: 0, tierFlag: 0, profileIdc: 1, compatibilityFlags: 0x60000000, constraintFlags: [0x90, 0, 0, 0, 0, 0], levelIdc: 63, chromaFormatIdc: 1, bitDepthLumaMinus8: 0, bitDepthChromaMinus8: 0, numTemporalLayers: 1, temporalIdNested: 1, lengthSize: 4, arrays: 3 },
  );
  assert.equal(hevcCodecString(gstHvcC), 'hvc1.1.6.L63.90');
  // Samples: the access unit's other NAL units, each behind a 4-byte length; no parameter set, no AUD.
  const f0 = fragments[0]!;
  const mdat = boxes(f0).find((b) => b[0] === 'mdat')!;
  const kept = nals.filter((n) => ![HEVC_NAL.VPS, HEVC_NAL.SPS, HEVC_NAL.PPS, HEVC_NAL.AUD].includes(hevcNalType(n) as 32));
  assert.ok(kept.length >= 1);
  assert.deepEqual([...f0.subarray(mdat[1] + 8, mdat[1] + mdat[2])], [...concat(kept.flatMap((n) => [new Uint8Array([n.length >>> 24, (n.length >> 16) & 255, (n.length >> 8) & 255, n.length & 255]), n]))]);
  // The whole thing as one file: ffprobe decodes it as HEVC, 320x240, every frame.
  const file = join(dir, 'live.mp4');
  writeFileSync(file, concat([seg, ...fragments]));
  const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,codec_tag_string,profile,width,height,nb_read_frames', '-of', 'json', file], { encoding: 'utf8' })) as {
    streams: Array<Record<string, unknown>>;
  };
  assert.deepEqual(probe.streams, [{ codec_name: 'hevc', codec_tag_string: 'hvc1', profile: 'Main', width: 320, height: 240, nb_read_frames: String(FRAMES) }]);
});

test('hvc1 caps with codec_data: the hvcC is carried as given, samples pass as they are', () => {
  const mux = new Fmp4Muxer();
  mux.setCaps('video/x-h265, stream-format=(string)hvc1, alignment=(string)au, width=(int)320, height=(int)240, framerate=(fraction)15/1', gstHvcC);
  assert.equal(mux.init!.mimeType, 'video/mp4; codecs="hvc1.1.6.L63.90"');
  const seg = mux.init!.segment;
  const [stsd, stsdEnd] = find(seg, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd'], { stsd: 8 });
  const entry = boxes(seg, stsd, stsdEnd)[0]!;
  const inner = boxes(seg, stsd + 8 + 78, entry[1] + entry[2])[0]!;
  assert.deepEqual([...seg.subarray(inner[1] + 8, inner[1] + inner[2])], [...gstHvcC]);
  const sample = new Uint8Array([0, 0, 0, 3, 0x02, 0x01, 0xd0]);
  const r = mux.push({ data: sample, ptsNs: 0, dtsNs: 0, durationNs: -1, keyframe: false })!;
  assert.equal(r.initChanged, false);
  const mdat = boxes(r.fragment).find((b) => b[0] === 'mdat')!;
  assert.deepEqual([...r.fragment.subarray(mdat[1] + 8, mdat[1] + mdat[2])], [...sample]);
  // hev1 (parameter sets may also be in band) keeps its sample entry type.
  mux.setCaps('video/x-h265, stream-format=(string)hev1, alignment=(string)au, width=(int)320, height=(int)240', gstHvcC);
  assert.equal(mux.init!.mimeType, 'video/mp4; codecs="hev1.1.6.L63.90"');
  const [s2, e2] = find(mux.init!.segment, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd'], { stsd: 8 });
  assert.deepEqual(boxes(mux.init!.segment, s2, e2).map((b) => b[0]), ['hev1']);
});
