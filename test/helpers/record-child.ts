/** Child process for the kill -9 recording test: records a clip-backed camera until killed. */
import { Camera } from '../../src/camera/camera.js';
import { Recorder } from '../../src/recording/recorder.js';
import { cameraSettings } from './camera.js';

const [clip, dir] = process.argv.slice(2) as [string, string];
const recorder = new Recorder({ indexPath: `${dir}/index`, recordingsDir: `${dir}/rec`, minFreeBytes: 0, maxBytes: 0 });
await recorder.start();
recorder.setPolicy('cam', { mode: 'continuous', maxAgeS: 0, preRollS: 0, postRollS: 0 });
const camera = new Camera(
  cameraSettings('cam', { kind: 'file', path: clip, loop: true, realtime: true }, {
    recording: { directory: `${dir}/rec/cam`, prefix: 'cam', format: 'mp4', segmentSeconds: 1 },
  }),
);
camera.on('segment', (e) => {
  void recorder.onSegment(e).then(() => {
    if (e.phase === 'closed') process.stdout.write(`closed ${e.location}\n`);
  });
});
camera.start();
