/**
 * The frame path (src/analytics/) on its real stages: tracker, RuleService (LMDB), DetectionStore (LMDB). A person
 * walks across a tripwire; what reaches the listeners, the store and the per-camera hooks is asserted exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FramePath, alertBox, type FrameHook } from '../../src/analytics/index.js';
import { RuleService, type AlertEvent } from '../../src/rules/index.js';
import { DetectionStore } from '../../src/store/index.js';
import type { TrackEventData } from '../../src/stream/events.js';
import type { Alert, DetectionBatch } from '../../src/types.js';

const T0 = 1_767_614_400_000_000_000n;
const FRAMES = 40;

/** Frame i: one person, an 80x160 box whose bottom-centre walks from x=120 to x=510 (10 px a frame, 5 fps). */
function batch(i: number): DetectionBatch {
  const x = 120 + 10 * i;
  return {
    cameraId: 'cam1',
    frameSequence: i,
    timestampNs: T0 + BigInt(i) * 200_000_000n,
    frameWidth: 640,
    frameHeight: 480,
    detections: [{ classId: 0, className: 'person', confidence: 0.9, box: { x1: x - 40, y1: 200, x2: x + 40, y2: 360 } }],
  };
}

test('frame path: tracker -> rules -> store -> listeners -> hooks, and a camera stop ends its tracks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-analytics-'));
  const store = DetectionStore.open({ path: join(dir, 'detections') });
  const rules = await RuleService.open({
    path: join(dir, 'rules'),
    configRules: [{ id: 'mid', name: 'Middle', kind: 'tripwire', classes: ['person'], line: { from: [320, 0], to: [320, 480] }, direction: 'both' }],
  });
  const path = new FramePath({ rules, store, tracker: { allocateId: () => 7 } });
  const alerts: Array<[AlertEvent['type'], string, number[], boolean]> = [];
  const tracks: TrackEventData[] = [];
  let streamed = 0;
  const hookCalls: string[] = [];
  const stopped: string[] = [];
  path.on('alert', (ev, rule, snapshot) => alerts.push([ev.type, rule?.id ?? '-', ev.alert.trackIds, snapshot === null]));
  path.on('track', (t) => tracks.push(t));
  const handedOn: Array<number | null> = [];
  path.on('detections', (b) => {
    streamed += b.detections.length;
    handedOn.push(...b.detections.map((d) => d.trackId ?? null));
  });
  const hook: FrameHook = {
    onFrameAnalysed: (cameraId, live, f) => hookCalls.push(`${cameraId}:${live}:${f.batch.frameSequence}`),
    onCameraStopped: (cameraId) => stopped.push(cameraId),
  };
  const removeHook = path.addHook(hook);
  // A hook that throws is reported, and the next hook still runs.
  const errors: string[] = [];
  const failing = new FramePath({ onError: (e) => errors.push((e as Error).message) });
  let after = 0;
  failing.addHook({ onFrameAnalysed: () => { throw new Error('boom'); } });
  failing.addHook({ onFrameAnalysed: () => after++ });
  try {
    let last = null;
    for (let i = 0; i < FRAMES; i++) last = path.process(batch(i), null);
    failing.process(batch(0), null);
    assert.deepEqual(errors, ['boom']);
    assert.equal(after, 1);

    // The last frame's detection carries the allocated track id, on the batch the store and the hooks saw.
    assert.deepEqual(last!.batch.detections.map((d) => d.trackId), [7]);
    assert.deepEqual(last!.tracked.objects.map((o) => o.trackId), [7]);
    // One crossing (x passes 320 between frames 19 and 21): one raise, by the rule, for track 7, without a picture.
    assert.deepEqual(alerts.filter((a) => a[0] === 'raised'), [['raised', 'mid', [7], true]]);
    assert.deepEqual(tracks.map((t) => [t.phase, t.track.trackId, t.track.endNs]), [['start', 7, null]]);
    assert.equal(streamed, FRAMES);
    assert.deepEqual(hookCalls, Array.from({ length: FRAMES }, (_, i) => `cam1:1:${i}`));
    assert.deepEqual(path.stats(), { framesAnalysed: FRAMES, detections: FRAMES, trackWriteErrors: 0 });

    await store.flush();
    const page = store.queryPage({ cameraIds: ['cam1'] }, { pageSize: 100 });
    assert.equal(page.total, FRAMES);
    // The store holds exactly what the path handed on, track ids included (confirmed from the second frame on).
    assert.deepEqual(page.detections.map((d) => d.trackId ?? null), handedOn);
    assert.equal(handedOn.filter((id) => id === 7).length, FRAMES - 1);

    // The camera stops: its track ends (summary stored), its rule state is dropped, the hooks forget it.
    path.cameraStopped('cam1', T0 + 10_000_000_000n);
    assert.deepEqual(tracks.map((t) => t.phase), ['start', 'end']);
    assert.equal(tracks[1]!.track.trackId, 7);
    assert.deepEqual(stopped, ['cam1']);
    await store.flush();
    await new Promise((r) => setTimeout(r, 50));
    const summary = store.tracks.get(['cam1', 7]);
    assert.equal(summary?.trackId, 7);
    assert.equal(summary?.className, 'person');

    removeHook();
    path.process(batch(0), null);
    assert.equal(hookCalls.length, FRAMES);
  } finally {
    path.close();
    failing.close();
    await rules.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('alertBox: the box around the alert tracks in the frame, null when none is in it', () => {
  const alert = { trackIds: [1, 3] } as Alert;
  const objects = [
    { trackId: 1, classId: 0, className: 'person', confidence: 0.9, box: { x1: 10, y1: 20, x2: 30, y2: 60 } },
    { trackId: 2, classId: 0, className: 'person', confidence: 0.9, box: { x1: 0, y1: 0, x2: 500, y2: 500 } },
    { trackId: 3, classId: 0, className: 'person', confidence: 0.9, box: { x1: 25, y1: 5, x2: 80, y2: 40 } },
  ];
  const tracked = { objects } as unknown as Parameters<typeof alertBox>[1];
  assert.deepEqual(alertBox(alert, tracked), { x1: 10, y1: 5, x2: 80, y2: 60 });
  assert.equal(alertBox({ trackIds: [9] } as Alert, tracked), null);
});
