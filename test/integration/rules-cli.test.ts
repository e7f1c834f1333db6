/** `vigil rules test`: stored tracks replayed from a real detection store through a rules file. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionStore } from '../../src/store/index.js';
import { rulesTest } from '../../src/cli.js';

const S = 1_000_000_000n;
const T0 = 1_800_000_000n * S;

test('replays stored tracks and prints what would have fired', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-cli-'));
  try {
    const store = DetectionStore.open({ path: join(dir, 'detections') });
    // Track 7 walks left to right across x = 300, one frame a second; track 8 stays on the left.
    for (let i = 0; i < 6; i++) {
      const x = 100 + i * 80;
      await store.append({
        cameraId: 'gate',
        frameSequence: i,
        timestampNs: T0 + BigInt(i) * S,
        frameWidth: 640,
        frameHeight: 480,
        detections: [
          { classId: 0, className: 'person', confidence: 0.9, box: { x1: x - 20, y1: 200, x2: x + 20, y2: 300 }, trackId: 7 },
          { classId: 0, className: 'person', confidence: 0.8, box: { x1: 20, y1: 200, x2: 60, y2: 300 }, trackId: 8 },
        ],
      });
    }
    await store.close();
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - id: line\n    name: Line\n    kind: tripwire\n    line: { from: [300, 0], to: [300, 480] }\n');
    const out = await rulesTest(['--rules', rules, '--data', dir, '--camera', 'gate']);
    const fired = out.filter((l) => / raised line gate: /.test(l));
    assert.equal(fired.length, 1, out.join('\n'));
    assert.ok(fired[0]!.startsWith(new Date(Number((T0 + 3n * S) / 1_000_000n)).toISOString()), fired[0]);
    assert.ok(out.includes('rule line: 1 alert(s) raised'), out.join('\n'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a rules file with an invalid rule names the field', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-rules-cli-'));
  try {
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - id: bad\n    name: Bad\n    kind: tripwire\n');
    const input = join(dir, 'in.ndjson');
    writeFileSync(input, '');
    await assert.rejects(rulesTest(['--rules', rules, '--input', input]), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_RULE_INVALID');
      assert.match(e.message, /rules\[0\]\.line/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
