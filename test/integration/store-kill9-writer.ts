/**
 * Child process for store-kill9.test.ts: appends frames as fast as the store commits them and prints one line per
 * acknowledged frame (`ack <camera> <frameSequence> <firstSeq> <count>`) after its commit resolved. The parent
 * kills it with SIGKILL at a random moment. Usage: node --import tsx store-kill9-writer.ts <dir> <firstFrame>
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DetectionStore } from '../../src/store/detection-store.js';
import type { DetectionBatch } from '../../src/types.js';

const WRITER = fileURLToPath(import.meta.url);

export const KILL9_T0 = 1_800_000_000_000_000_000n;

/** The frame the writer produces for (camera, frame): the parent recomputes it to check every acknowledged row. */
export function kill9Frame(cameraId: string, frameSequence: number): DetectionBatch {
  const n = 1 + (frameSequence % 3);
  return {
    cameraId,
    frameSequence,
    timestampNs: KILL9_T0 + BigInt(frameSequence) * 1_000_000n,
    frameWidth: 1280,
    frameHeight: 720,
    detections: Array.from({ length: n }, (_, i) => ({
      classId: i,
      className: ['person', 'car', 'dog'][i]!,
      confidence: ((frameSequence * 7 + i * 13) % 100) / 100,
      box: { x1: i * 10, y1: frameSequence % 500, x2: i * 10 + 64, y2: (frameSequence % 500) + 128 },
      trackId: frameSequence % 50,
    })),
  };
}

export interface Ack {
  cameraId: string;
  frame: number;
  firstSeq: bigint;
  count: number;
}

/** Runs the writer, kills it with SIGKILL after `acksBeforeKill` acknowledgements (+ a few ms), returns its acks. */
export function runWriter(dir: string, firstFrame: number, acksBeforeKill: number, extraMs: number): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, String(firstFrame)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acks: Ack[] = [];
    let buf = '';
    let stderr = '';
    let killing = false;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ack (\S+) (\d+) (\d+) (\d+)$/.exec(line);
        if (m) acks.push({ cameraId: m[1]!, frame: Number(m[2]), firstSeq: BigInt(m[3]!), count: Number(m[4]) });
        else if (line !== 'ready') stderr += `${line}\n`;
      }
      if (!killing && acks.length >= acksBeforeKill) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (signal !== 'SIGKILL') reject(new Error(`writer exited with ${code} ${signal}: ${stderr}`));
      else if (stderr !== '') reject(new Error(`writer reported: ${stderr}`));
      else resolve(acks);
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = process.argv[2]!;
  let frame = Number(process.argv[3]);
  const store = DetectionStore.open({ path: dir });
  process.stdout.write('ready\n');
  const tick = (): void => {
    for (let i = 0; i < 8; i++) {
      const cam = frame % 2 === 0 ? 'cam-even' : 'cam-odd';
      store.append(kill9Frame(cam, frame)).then(
        (c) => process.stdout.write(`ack ${c.cameraId} ${c.frameSequence} ${c.firstSeq} ${c.count}\n`),
        (e: Error) => process.stdout.write(`err ${e.message}\n`),
      );
      frame++;
    }
    setTimeout(tick, 1);
  };
  tick();
}
