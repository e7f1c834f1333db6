/**
 * `vigil bench density` path variants as server configuration: what --workers, --no-deblock and --ingest-nice turn
 * into (the optimized path), and the float32 baseline that ignores them, checked through the config parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { variantConfig } from '../../src/bench/command.js';
import { parseConfig } from '../../src/config/index.js';

const cameras = [{ id: 'busy0', source: 'test:ball' }];

test('the optimized variant: INT8 NanoDet, workers, decodeDeblock and ingestNice as given', () => {
  assert.deepEqual(variantConfig('optimized'), { detector: { model: 'nanodet', precision: 'int8', workers: 1, ingestNice: 0 }, analysis: { quietFps: 1 } });
  const raw = variantConfig('optimized', 2, false, 5);
  assert.deepEqual(raw, {
    detector: { model: 'nanodet', precision: 'int8', workers: 2, ingestNice: 5 },
    analysis: { quietFps: 1 },
    cameraDefaults: { decodeDeblock: false },
  });
  const c = parseConfig({ ...raw, cameras });
  assert.equal(c.detector!.workers, 2);
  assert.equal(c.detector!.ingestNice, 5);
  assert.deepEqual(c.cameras[0]!.decoder, { threads: 1, deblock: false });
});

test('the float32 baseline keeps the standard decoder whatever the flags', () => {
  const c = parseConfig({ ...variantConfig('fp32-baseline', 2, false, 5), cameras });
  assert.equal(c.detector!.precision, 'fp32');
  assert.deepEqual(c.cameras[0]!.decoder, { threads: 1, deblock: true });
});
