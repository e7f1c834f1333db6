/**
 * Issue 16, item 4, on real footage: OpenCV's vtest clip through the native pipeline at 5 fps, the real NanoDet at
 * its default score threshold (0.4) and the tracker with thresholds relative to it. NanoDet scores the parked car
 * 0.4-0.64 and the van 0.42-0.53 (as "truck", with a "car" box on top of it in most frames): a fixed 0.6
 * new-track score never tracked the van. Here each vehicle must get exactly one track that stays on it for the
 * whole clip, and the pedestrians about one id each.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource } from '../../src/camera/source.js';
import { Detector } from '../../src/inference/detector.js';
import { nanodetPreset } from '../../src/inference/models.js';
import { InferenceScheduler, type FrameDetections } from '../../src/inference/scheduler.js';
import { TrackerRegistry, iou } from '../../src/tracking/index.js';
import type { Box } from '../../src/types.js';
import { media } from '../helpers/media.js';
import { until } from '../helpers/wait.js';

// Where the vehicles stand in vtest (768x576), read off NanoDet's boxes: both are parked for the whole clip.
const CAR: Box = { x1: 735, y1: 50, x2: 768, y2: 95 };
const VAN: Box = { x1: 650, y1: 45, x2: 722, y2: 100 };
const VEHICLES = new Set(['car', 'truck', 'bus']);

test('vtest: the parked car and the van each get one stable track; pedestrians about one id each', async () => {
  const detector = await Detector.create(nanodetPreset());
  assert.equal(detector.config.scoreThreshold, 0.4);
  const trackers = new TrackerRegistry({ detectorThreshold: detector.config.scoreThreshold });
  // Per track id: class, frames it was matched in (index of analysed frame), and its boxes.
  const tracks = new Map<number, { className: string; frames: number[]; boxes: Box[] }>();
  const ended = new Set<number>();
  let frames = 0;
  let eos = false;
  try {
    const scheduler = new InferenceScheduler(detector, {
      queuePerCamera: 64,
      onDetections: (r: FrameDetections) => {
        const k = frames++;
        const tracked = trackers.update({ ...r });
        for (const id of tracked.endedTrackIds) ended.add(id);
        for (const o of tracked.objects) {
          let t = tracks.get(o.trackId);
          if (!t) tracks.set(o.trackId, (t = { className: o.className, frames: [], boxes: [] }));
          t.className = o.className;
          t.frames.push(k);
          t.boxes.push(o.box);
        }
      },
    });
    const p = new CameraPipeline({
      cameraId: 'vtest',
      source: parseSource({ kind: 'file', path: media('vtest-h264.mp4'), realtime: false }),
      tensor: detector.tensorSpec(),
      detectFps: 5,
      decoder: { threads: 1 },
      poolSize: 64,
      queueSize: 4,
      onFrame: (f) => scheduler.submit(f),
      onError: (e) => assert.fail(e),
      onEos: () => (eos = true),
    });
    p.start();
    // A liveness bound, not a speed target (a slow CPU shared with other work took 110 s).
    await until(() => eos && frames === p.stats().framesDelivered, 280_000, 'the whole clip analysed');
    p.close();
    await scheduler.close();
    assert.equal(frames, 398);
    const live = new Set(trackers.get('vtest')!.liveTracks().map((t) => t.trackId));

    const vehicleIds = [...tracks].filter(([, t]) => VEHICLES.has(t.className)).map(([id]) => id);
    for (const [name, ref] of [['car', CAR], ['van', VAN]] as const) {
      const ids = vehicleIds.filter((id) => tracks.get(id)!.boxes.some((b) => iou(b, ref) >= 0.5));
      assert.equal(ids.length, 1, `${name}: one track, got ids ${ids.join(',')}`);
      const t = tracks.get(ids[0]!)!;
      // Confirmed within the first 2 s (persistence: 5 consecutive matches), never ended, still live at the end.
      assert.ok(t.frames[0]! <= 10, `${name} confirmed at analysed frame ${t.frames[0]}`);
      assert.ok(!ended.has(ids[0]!) && live.has(ids[0]!), `${name}'s track lasts the whole clip`);
      // The box stays on the vehicle in every frame it was matched, and it was matched in nearly all of them
      // (NanoDet drops the car below 0.4 in most of the last 12 frames: the track is lost there, not ended).
      const worst = Math.min(...t.boxes.map((b) => iou(b, ref)));
      assert.ok(worst >= 0.7, `${name}'s box left the vehicle (IoU ${worst.toFixed(3)})`);
      const share = t.frames.length / (frames - t.frames[0]!);
      console.log(`${name}: track ${ids[0]} (${t.className}), from analysed frame ${t.frames[0]}, matched in ${t.frames.length} frames (${(share * 100).toFixed(1)}%), worst IoU ${worst.toFixed(3)}`);
      assert.ok(share >= 0.95, `${name} matched in ${(share * 100).toFixed(1)}% of the frames since its start`);
    }
    assert.equal(vehicleIds.length, 2, `vehicle tracks: ${vehicleIds.map((id) => `${id}:${tracks.get(id)!.className}`).join(', ')}`);

    const personIds = [...tracks].filter(([, t]) => t.className === 'person').map(([id]) => id);
    const others = [...tracks].filter(([, t]) => t.className !== 'person' && !VEHICLES.has(t.className)).map(([id, t]) => `${id}:${t.className}`);
    console.log(`person track ids: ${personIds.length}; other classes: ${others.join(', ') || 'none'}`);
    // Counted on the clip: about 19 appearances of people (entries into view, people who walk out and come back
    // counted again), and a traffic cone on the left that NanoDet calls a person at 0.40-0.50 now and then (1-2
    // ids). 23 when this was written (the fixed 0.6 threshold gave 32); the floor catches a tracker that merges
    // people.
    assert.ok(personIds.length >= 17 && personIds.length <= 25, `${personIds.length} person ids`);
  } finally {
    await detector.close();
  }
});
