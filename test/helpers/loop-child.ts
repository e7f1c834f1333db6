/**
 * Child process for the loop-restart test: a looping file camera whose frames are held 300 ms each (as the
 * inference queue holds them), so pool slots and queued frames still reference samples when the file restarts.
 * Prints "frames N loops L" when done; GStreamer's own warnings go to this process's stderr.
 */
import { CameraManager } from '../../src/camera/manager.js';
import { cameraSettings } from './camera.js';

const [clip, seconds] = process.argv.slice(2) as [string, string];
const manager = new CameraManager();
let frames = 0;
manager.on('frame', (f) => {
  frames++;
  setTimeout(() => f.release(), 300);
});
const camera = manager.add(cameraSettings('loop', { kind: 'file', path: clip, loop: true }, {}));
await new Promise((r) => setTimeout(r, Number(seconds) * 1000));
process.stdout.write(`frames ${frames} loops ${camera.counters().loops}\n`);
manager.close();
