/**
 * Re-fits the series of a finished soak (the `samples` of bench/soak.ts's --out JSON) from another start and over
 * windows. Single samples of resident memory move by ±15 MB with the frames and tensors in flight, and since the
 * server's V8 heap gets a memory-reducing collection every server.v8HeapReduceIntervalS (300 s) its committed heap
 * is a sawtooth of that period: the least-squares slope of every sample, of each window's mean and of each window's
 * smallest sample are printed side by side, each with its standard error (of the window values for the last two,
 * whose residuals are far less correlated than those of 10-second samples).
 *
 * With --write, the window means' RSS slope and its standard error go into FILE as rss_window_mean_slope_mb_per_h,
 * rss_window_mean_slope_stderr_mb_per_h, with window_s and window_from_s.
 *
 * --to ends the fit before a disturbance (a heap snapshot requested near the end of an attribution run).
 *
 *   node --import tsx bench/soak-refit.ts FILE [--from SECONDS] [--to SECONDS] [--window SECONDS] [--write]
 */
import { readFileSync, writeFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('Expected a soak result JSON for FILE but received nothing');
const opt = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? dflt : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`Expected a non-negative number for --${name} but received ${process.argv[i + 1]}`);
  return v;
};

interface Sample { t: number; rssMb: number; anonMb: number; heapMb: number; heapTotalMb: number; externalMb: number; mallocHeapMb?: number; mallocMmapMb?: number; v8SpacesMb?: Record<string, number> | null }
const result = JSON.parse(readFileSync(file, 'utf8')) as { samples?: Sample[]; warmup_s?: number } & Record<string, unknown>;
if (!Array.isArray(result.samples)) throw new Error(`Expected a soak result with samples for FILE but received ${file}`);
const FROM = opt('from', result.warmup_s ?? 900);
const WINDOW = opt('window', 300);
const TO = process.argv.includes('--to') ? opt('to', 0) : Infinity;

/** Least-squares slope (y per hour) and its standard error. */
function fit(points: Array<[number, number]>): { slope: number; stderr: number; n: number } {
  const n = points.length;
  if (n < 3) return { slope: NaN, stderr: NaN, n };
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const [x, y] of points) {
    sxx += (x - mx) ** 2;
    sxy += (x - mx) * (y - my);
  }
  const b = sxy / sxx;
  const sse = points.reduce((a, [x, y]) => a + (y - my - b * (x - mx)) ** 2, 0);
  return { slope: b * 3600, stderr: Math.sqrt(sse / (n - 2) / sxx) * 3600, n };
}

/** Complete windows of WINDOW seconds from FROM: [window middle, aggregate of its values]. */
function windows(points: Array<[number, number]>, aggregate: (v: number[]) => number): Array<[number, number]> {
  const byWindow = new Map<number, number[]>();
  for (const [t, v] of points) {
    const w = Math.floor((t - FROM) / WINDOW);
    byWindow.set(w, [...(byWindow.get(w) ?? []), v]);
  }
  const last = Math.floor(((points.at(-1)?.[0] ?? FROM) - FROM) / WINDOW);
  return [...byWindow.entries()].filter(([w]) => w < last).map(([w, v]) => [FROM + (w + 0.5) * WINDOW, aggregate(v)]);
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const after = result.samples.filter((s) => s.t >= FROM && s.t < TO);
const series: Array<[string, (s: Sample) => number | undefined]> = [
  ['rss', (s) => s.rssMb],
  ['anonymous', (s) => s.anonMb],
  ['V8 committed', (s) => s.heapTotalMb],
  ['V8 used', (s) => s.heapMb],
  ['external', (s) => s.externalMb],
  ['malloc heap', (s) => s.mallocHeapMb],
  ['malloc mmap', (s) => s.mallocMmapMb],
  ...Object.keys(after.find((s) => s.v8SpacesMb)?.v8SpacesMb ?? {}).map(
    (k): [string, (s: Sample) => number | undefined] => [`V8 ${k}`, (s) => s.v8SpacesMb?.[k]],
  ),
];
const f = (r: { slope: number; stderr: number }) => `${r.slope.toFixed(2).padStart(7)} ± ${r.stderr.toFixed(2).padEnd(5)}`;
console.log(`${file}: from ${FROM} s to ${after.at(-1)?.t ?? '-'} s, ${after.length} samples, windows of ${WINDOW} s; MB/h ± standard error`);
console.log(`${'series'.padEnd(22)}${'every sample'.padEnd(18)}${'window means'.padEnd(18)}window minima`);
for (const [name, get] of series) {
  const points = after.flatMap((s): Array<[number, number]> => {
    const v = get(s);
    return typeof v === 'number' ? [[s.t, v]] : [];
  });
  if (points.length < 3 || points.every(([, v]) => v === 0)) continue;
  console.log(`${name.padEnd(22)}${f(fit(points)).padEnd(18)}${f(fit(windows(points, mean))).padEnd(18)}${f(fit(windows(points, (v) => Math.min(...v))))}`);
}

if (process.argv.includes('--write')) {
  const rss = fit(windows(after.map((s): [number, number] => [s.t, s.rssMb]), mean));
  const round = (v: number) => Math.round(v * 100) / 100;
  Object.assign(result, {
    rss_window_mean_slope_mb_per_h: round(rss.slope),
    rss_window_mean_slope_stderr_mb_per_h: round(rss.stderr),
    window_s: WINDOW,
    window_from_s: FROM,
    ...(Number.isFinite(TO) ? { window_to_s: TO } : {}),
  });
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`${file}: rss_window_mean_slope_mb_per_h ${round(rss.slope)} ± ${round(rss.stderr)} written`);
}
