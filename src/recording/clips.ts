/**
 * Clips: one MP4 of a requested span cut from the recorded segments by stream copy (no re-encode). The cut snaps
 * to the keyframe at or before the start (a clip starts within one GOP of the request). ffmpeg's concat demuxer
 * joins the segments; it is a Debian package the set-up installs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { VigilError } from '../errors.js';
import type { Segment } from './segment-index.js';

const execFileP = promisify(execFile);

export class VigilClipError extends VigilError {}

/** Writes the span [startNs, endNs) of `segments` (one camera, time order) to `outPath` (MP4). */
export async function cutClip(segments: Segment[], startNs: bigint, endNs: bigint, outPath: string): Promise<void> {
  const usable = segments.filter((s) => s.endNs !== null);
  if (usable.length === 0) throw new VigilClipError('E_CLIP_NO_FOOTAGE', 'No recorded footage in the requested span');
  if (endNs <= startNs) throw new VigilClipError('E_ARGUMENT', 'Expected end_time after start_time');
  const first = usable[0]!;
  const offsetS = Math.max(0, Number(startNs - first.startNs) / 1e9);
  const durationS = Number(endNs - (startNs > first.startNs ? startNs : first.startNs)) / 1e9;
  const dir = mkdtempSync(join(tmpdir(), 'vigil-clip-'));
  try {
    const list = join(dir, 'segments.txt');
    writeFileSync(list, usable.map((s) => `file '${s.path.replace(/'/g, "'\\''")}'\n`).join(''));
    await execFileP('ffmpeg', [
      '-nostdin', '-v', 'error', '-y',
      '-f', 'concat', '-safe', '0', '-ss', offsetS.toFixed(3), '-i', list,
      '-t', durationS.toFixed(3), '-c', 'copy', '-movflags', '+faststart', outPath,
    ]);
  } catch (err) {
    throw new VigilClipError('E_CLIP_FAILED', `Cutting the clip failed: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
