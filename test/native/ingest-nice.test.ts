/**
 * Ingest threads yield to inference: after setIngestNice(n) every ingest thread of a running camera (the decoder's
 * streaming thread, appsink's, the frame worker) runs n nicer than it started, and back at 0; the JS thread is
 * never touched. Nice values are read from /proc (Linux, as everywhere Vigil's tests run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAddon } from '../../bindings/index.js';
import { CameraManager } from '../../src/camera/manager.js';
import { cameraSettings } from '../helpers/camera.js';
import { until } from '../helpers/wait.js';

const MEDIA = join(import.meta.dirname, '..', '..', '.cache', 'media');

/** nice of each thread of this process: tid -> [name, nice]. */
function threadNices(): Map<number, [string, number]> {
  const out = new Map<number, [string, number]>();
  for (const t of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      out.set(Number(t), [stat.slice(stat.indexOf('(') + 1, close), Number(stat.slice(close + 2).split(' ')[16])]);
    } catch {
      // ended meanwhile
    }
  }
  return out;
}

test('setIngestNice lowers and restores the priority of ingest threads only', async () => {
  const addon = loadAddon();
  assert.throws(() => addon.setIngestNice(20), { message: 'Expected an integer from 0 to 19 for nice but received 20' });
  const before = threadNices();
  const base = before.get(process.pid)![1];
  const manager = new CameraManager();
  let frames = 0;
  manager.on('frame', (f) => {
    frames++;
    f.release();
  });
  try {
    assert.equal(addon.setIngestNice(5), 5);
    manager.add(cameraSettings('nice', { kind: 'file', path: join(MEDIA, 'vtest-360p15.mp4'), loop: true }, {}));
    await until(() => frames >= 10, 20_000, 'frames');
    const nicer = [...threadNices()].filter(([tid, [, n]]) => !before.has(tid) && n === base + 5);
    // The decoder's streaming thread is named after its element by GStreamer; the frame worker inherits "node".
    assert.ok(nicer.some(([, [name]]) => name !== 'node'), `no GStreamer thread at nice ${base + 5}: ${JSON.stringify([...threadNices()])}`);
    assert.ok(nicer.some(([, [name]]) => name === 'node'), 'the frame worker thread is not nicer');
    assert.equal(threadNices().get(process.pid)![1], base, 'the JS thread keeps its priority');

    addon.setIngestNice(0);
    const seen = frames;
    await until(() => frames >= seen + 10, 20_000, 'more frames');
    for (const [tid] of nicer) {
      const now = threadNices().get(tid);
      if (now) assert.equal(now[1], base, `thread ${tid} (${now[0]}) back at the process's nice`);
    }
  } finally {
    addon.setIngestNice(0);
    manager.close();
  }
});
