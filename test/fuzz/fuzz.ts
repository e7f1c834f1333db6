/**
 * Shared settings of the property-based fuzz tests (issue 17). In CI each target runs a few seconds' worth of
 * inputs; `scripts/fuzz.sh js RUNS` sets VIGIL_FUZZ_RUNS (default 1000000) for the long run. VIGIL_FUZZ_SEED replays a run.
 * A target passes when every input is either accepted or refused with a VigilError (a named, coded error): any
 * other exception (TypeError, RangeError...) is a crash.
 */
import fc from 'fast-check';
import { VigilError } from '../../src/errors.js';

export function runs(ciDefault: number): number {
  const v = process.env.VIGIL_FUZZ_RUNS;
  return v ? Math.max(1, Number(v)) : ciDefault;
}

export function params<T>(ciDefault: number): fc.Parameters<T> {
  const seed = process.env.VIGIL_FUZZ_SEED;
  return { numRuns: runs(ciDefault), ...(seed ? { seed: Number(seed) } : {}), endOnFailure: true };
}

/** Runs fn: a VigilError is a refusal (fine), anything else propagates as a failure. Returns the result or null. */
export function acceptOrRefuse<T>(fn: () => T): T | null {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VigilError) return null;
    throw err;
  }
}

const ticks = new Map<string, number>();

/**
 * Counts one input of a long run and logs every 10,000th (`[fuzz] target: N inputs so far, 0 failures`), so a run
 * stopped before its end still says how far it got: a failure ends the run with the test's error instead. Silent
 * in CI (VIGIL_FUZZ_RUNS unset).
 */
export function tick(target: string): void {
  if (!process.env.VIGIL_FUZZ_RUNS) return;
  const n = (ticks.get(target) ?? 0) + 1;
  ticks.set(target, n);
  if (n % 10_000 === 0) console.log(`[fuzz] ${target}: ${n} inputs so far, 0 failures (${new Date().toISOString()})`);
}

/** For the long-run report: how many inputs a target ran. */
export function report(target: string, n: number): void {
  if (process.env.VIGIL_FUZZ_RUNS) console.log(`[fuzz] ${target}: ${n} inputs, 0 failures`);
}

/** JSON values with the odd shapes hostile clients send: deep nesting, huge numbers, unicode, long strings. */
export const hostileJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.constantFrom(null, true, -1, 0, 1e308, -1e308, 2 ** 53, 2 ** 64, -0, 0.5, '', ' ', '\u0000', 'x'.repeat(5000), [], {}, { __proto__: 1 }),
);
