/**
 * Issue 5 on real footage: the vtest pedestrians through the native pipeline, NanoDet, the tracker and a
 * tripwire rule down the middle of the plaza. The rule's counts must equal the crossings of the tracks themselves
 * (each track's bottom-centre changing side of the line), and be plausible for the clip.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CameraPipeline } from '../../src/camera/pipeline.js';
import { parseSource } from '../../src/camera/source.js';
import { Detector } from '../../src/inference/detector.js';
import { nanodetPreset } from '../../src/inference/models.js';
import { InferenceScheduler } from '../../src/inference/scheduler.js';
import { FramePath } from '../../src/analytics/index.js';
import { RuleService } from '../../src/rules/index.js';
import type { AlertEvent } from '../../src/rules/index.js';
import { media } from '../helpers/media.js';
import { until } from '../helpers/wait.js';

const LINE_X = 384; // vertical line from (384, 0) to (384, 576)

test('a tripwire across the vtest path counts the people who cross it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tripwire-'));
  const detector = await Detector.create(nanodetPreset({ scoreThreshold: 0.35 }));
  const rules = await RuleService.open({
    path: join(dir, 'rules'),
    configRules: [
      { id: 'middle', name: 'Middle line', kind: 'tripwire', classes: ['person'], line: { from: [LINE_X, 0], to: [LINE_X, 576] }, direction: 'both' },
    ],
  });
  const alerts: AlertEvent[] = [];
  // The server's frame path, without store or snapshots: detections -> tracker -> rules.
  const path = new FramePath({ rules });
  path.on('alert', (ev) => alerts.push(ev));
  // Independent count: per track, the side of the line its bottom-centre was last seen on.
  const side = new Map<number, number>();
  let crossings = 0;
  let frames = 0;
  let ended = false;
  try {
    path.addHook({
      onFrameAnalysed: (_cameraId, _live, { tracked }) => {
        frames++;
        for (const o of tracked.objects) {
          if (o.className !== 'person') continue;
          const x = (o.box.x1 + o.box.x2) / 2;
          const s = Math.sign(x - LINE_X);
          const prev = side.get(o.trackId);
          if (prev !== undefined && s !== 0 && prev !== 0 && s !== prev) crossings++;
          if (s !== 0) side.set(o.trackId, s);
        }
      },
    });
    const scheduler = new InferenceScheduler(detector, { queuePerCamera: 64, onDetections: (r, frame) => path.process(r, frame) });
    const p: CameraPipeline = new CameraPipeline({
      cameraId: 'vtest',
      source: parseSource({ kind: 'file', path: media('vtest-h264.mp4'), realtime: false }),
      tensor: detector.tensorSpec(),
      detectFps: 5,
      decoder: { threads: 1 },
      poolSize: 64,
      queueSize: 4,
      onFrame: (f) => scheduler.submit(f),
      onError: (e) => assert.fail(e),
      onEos: () => (ended = true),
    });
    p.start();
    // A liveness bound, not a speed target: 398 frames take ~40 s on a slow CPU alone (float NanoDet ~100 ms), far
    // longer on a shared one.
    await until(() => ended && frames === p.stats().framesDelivered, 280_000, 'the whole clip analysed');
    p.close();
    assert.equal(frames, 398);
    const raised = alerts.filter((a) => a.type === 'raised' || a.type === 'updated');
    const counted = raised.reduce((n, a) => n + (Number(a.alert.details.count) > 0 ? 1 : 0), 0);
    // Every raise/update is one crossing (no cool-down): the rule saw exactly the tracks' own crossings.
    assert.equal(counted, crossings, `rule crossings ${counted}, track crossings ${crossings}`);
    // 30 when this was written (deterministic: lossless file read, fixed detect rate); people walk across all clip long.
    assert.ok(crossings >= 10 && crossings <= 50, `${crossings} crossings in 80 s of a busy plaza`);
  } finally {
    path.close();
    await rules.close();
    await detector.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
