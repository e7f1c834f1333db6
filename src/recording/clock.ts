/**
 * Wall-clock times for segments. Within one pipeline run, segment boundaries are running times on the pipeline's
 * monotonic clock; they are mapped to wall time once per segment. A wall-clock step (NTP) neither loses nor
 * duplicates footage in the index: a forward step re-anchors at the next segment (the index shows the real gap
 * in wall time, every segment still indexed); a backward step is absorbed (the next segment starts where the
 * previous one ended, never overlapping it) until the wall clock catches up.
 */
export interface ClockedSegment {
  startNs: bigint;
  /** End from the running-time difference: a step during the segment does not stretch or shrink it. */
  endNs: bigint | null;
}

export class SegmentClock {
  /** Steps smaller than this are scheduling jitter, not clock steps. */
  readonly stepThresholdNs: bigint;
  #run = -1;
  #anchorWallNs = 0n;
  #anchorRunningNs = 0n;
  #lastEndNs = 0n;
  // Segments open by file: with asynchronous finalisation the next segment opens before the previous closes.
  #open = new Map<string, { startNs: bigint; runningNs: bigint }>();

  constructor(stepThresholdNs = 2_000_000_000n) {
    this.stepThresholdNs = stepThresholdNs;
  }

  /** Segment `id` opened at `runningNs` (pipeline `run`), seen at wall time `wallNs`. Returns its start. */
  opened(run: number, runningNs: bigint, wallNs: bigint, id = ''): bigint {
    let start: bigint;
    if (run !== this.#run) {
      // New pipeline run: running time restarted. Anchor on the wall clock, never before footage already indexed.
      start = wallNs > this.#lastEndNs ? wallNs : this.#lastEndNs;
      this.#run = run;
      this.#anchorWallNs = start;
      this.#anchorRunningNs = runningNs;
    } else {
      const continuous = this.#anchorWallNs + (runningNs - this.#anchorRunningNs);
      const drift = wallNs - continuous;
      if (drift > this.stepThresholdNs) {
        start = wallNs; // forward step: follow the wall clock from here on
        this.#anchorWallNs = wallNs;
        this.#anchorRunningNs = runningNs;
      } else {
        start = continuous; // no step, or a backward step: keep the timeline continuous
      }
    }
    this.#open.set(id, { startNs: start, runningNs });
    return start;
  }

  /** Segment `id` closed at `runningNs`. Returns its [start, end], or null for a segment never seen open. */
  closed(runningNs: bigint, id = ''): ClockedSegment | null {
    const open = this.#open.get(id);
    if (!open) return null;
    this.#open.delete(id);
    const end = open.startNs + (runningNs > open.runningNs ? runningNs - open.runningNs : 0n);
    if (end > this.#lastEndNs) this.#lastEndNs = end;
    return { startNs: open.startNs, endNs: end };
  }
}
