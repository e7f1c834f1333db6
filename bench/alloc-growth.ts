/**
 * Which allocation sites grow over a run: reads jemalloc heap profiles (heap_v2, written by a process started with
 * LD_PRELOAD=libjemalloc.so.2 and MALLOC_CONF=prof:true,lg_prof_interval:N,prof_prefix:P — `bench/soak.ts
 * --jemalloc-profile DIR` does that for the server), estimates each stack's live bytes in each profile (jemalloc
 * samples one allocation per 2^lg_prof_sample bytes on average; the estimate is jeprof's), groups stacks by their
 * first --depth frames outside jemalloc, and prints the groups by least-squares slope over the profiles' times
 * (file modification times), with their series. Symbols from addr2line on the mapped files (binutils).
 *
 *   node --import tsx bench/alloc-growth.ts [--depth 8] [--top 12] [--lg-sample 17] PROFILE...
 *
 * A site that holds memory in flight (frames, tensors) moves by megabytes between profiles; what leaks rises
 * steadily in every profile: read the series, not only the slope.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { spawnSync } from 'node:child_process';

function option(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`Expected a positive integer for --${name} but received ${process.argv[i + 1]}`);
  return v;
}
const DEPTH = option('depth', 8);
const TOP = option('top', 12);
const PERIOD = 2 ** option('lg-sample', 19);
const files = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !all[i - 1]?.startsWith('--'));
if (files.length < 2) throw new Error(`Expected two or more heap profiles but received ${files.length}`);

interface Mapping { start: bigint; end: bigint; offset: bigint; path: string }
interface Profile { t: number; stacks: Map<string, number>; maps: Mapping[] }

function parse(file: string): Profile {
  const stacks = new Map<string, number>();
  const maps: Mapping[] = [];
  let stack: string | null = null;
  let inMaps = false;
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    if (inMaps) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ \S+\s+(.*)$/.exec(line);
      if (m && m[3]!.includes('x')) maps.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`), offset: BigInt(`0x${m[4]}`), path: m[5]!.trim() });
    } else if (line.startsWith('MAPPED_LIBRARIES')) {
      inMaps = true;
    } else if (line.startsWith('@')) {
      stack = line.slice(1).trim();
    } else if (stack !== null) {
      const m = /^\s+t\*: (\d+): (\d+)/.exec(line);
      if (!m) continue;
      const count = Number(m[1]);
      let bytes = Number(m[2]);
      // A sampled allocation of size s stands for 1 / (1 - e^(-s/period)) of its kind (jeprof's estimate).
      if (count > 0) bytes /= 1 - Math.exp(-bytes / count / PERIOD);
      stacks.set(stack, (stacks.get(stack) ?? 0) + bytes);
      stack = null;
    }
  }
  return { t: statSync(file).mtimeMs / 3_600_000, stacks, maps };
}

const profiles = files.map(parse).sort((a, b) => a.t - b.t);
const maps = profiles.at(-1)!.maps;
const where = (a: bigint): Mapping | undefined => maps.find((m) => a >= m.start && a < m.end);

const groups = new Map<string, number[]>();
profiles.forEach((p, i) => {
  for (const [stack, bytes] of p.stacks) {
    const frames = stack.split(/\s+/).filter((a) => !where(BigInt(a))?.path.includes('jemalloc')).slice(0, DEPTH);
    const key = frames.join(' ');
    if (!groups.has(key)) groups.set(key, new Array<number>(profiles.length).fill(0));
    groups.get(key)![i]! += bytes;
  }
});

const ts = profiles.map((p) => p.t - profiles[0]!.t);
function slope(y: number[]): number {
  const mx = ts.reduce((a, b) => a + b, 0) / ts.length;
  const my = y.reduce((a, b) => a + b, 0) / y.length;
  let sxy = 0;
  let sxx = 0;
  ts.forEach((x, i) => {
    sxy += (x - mx) * (y[i]! - my);
    sxx += (x - mx) ** 2;
  });
  return sxx === 0 ? 0 : sxy / sxx;
}

const symbols = new Map<string, string>();
function symbol(addr: string): string {
  const a = BigInt(addr);
  if (symbols.has(addr)) return symbols.get(addr)!;
  const m = where(a);
  // The executable is mapped at its link address (no PIE): its addresses need no offset.
  const [path, offset] = m ? [m.path, a - m.start + m.offset] : [process.execPath, a];
  const r = spawnSync('addr2line', ['-f', '-C', '-e', path, `0x${(offset - 1n).toString(16)}`], { encoding: 'utf8' });
  const name = `${basename(path)}: ${(r.stdout ?? '').split('\n')[0] || '?'}`;
  symbols.set(addr, name);
  return name;
}

const mb = (x: number) => (x / 2 ** 20).toFixed(2);
const totals = profiles.map((_, i) => [...groups.values()].reduce((a, g) => a + g[i]!, 0));
console.log(`${profiles.length} profiles over ${(ts.at(-1)! * 60).toFixed(0)} min; live bytes (MB): ${totals.map(mb).join(' ')}; slope ${mb(slope(totals))} MB/h`);
const ranked = [...groups.entries()].map(([k, y]) => ({ k, y, s: slope(y) })).sort((a, b) => b.s - a.s);
for (const { k, y, s } of ranked.slice(0, TOP)) {
  console.log(`\n${s >= 0 ? '+' : ''}${mb(s)} MB/h   series (MB): ${y.map(mb).join(' ')}`);
  for (const a of k.split(' ')) console.log(`    ${symbol(a).slice(0, 140)}`);
}
