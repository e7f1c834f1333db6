/**
 * Which anonymous mappings of a process grew, from the dumps `bench/soak.ts --smaps-dir DIR` writes (one
 * tNNNNNN.tsv per minute: `start-end perms anonKb name`). Mappings are classed by what glibc and V8 make them:
 * glibc's main heap ([heap]), glibc arena heaps (start on a 64 MiB boundary), V8 heap pages (256 KiB, 256 KiB
 * aligned), thread stacks (8 MiB), other named, other anonymous.
 * Prints each class's total per dump, then the mappings whose anonymous memory rose most between --from and the
 * last dump (a mapping that is new counts from 0), with the dump where each one rose most.
 *
 *   node --import tsx bench/smaps-diff.ts DIR [--from SECONDS] [--top N]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('Expected a directory of smaps dumps for DIR but received nothing');
const opt = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? dflt : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`Expected a non-negative number for --${name} but received ${process.argv[i + 1]}`);
  return v;
};
const FROM = opt('from', 0);
const TOP = opt('top', 15);

interface Mapping { start: bigint; end: bigint; perms: string; anonKb: number; name: string }
const MIB = 1n << 20n;
// Guard pages hold no anonymous memory and are not in the dumps: a thread stack is recognised by its size.
function classOf(m: Mapping): string {
  if (m.name === '[heap]') return 'brk';
  if (m.name.startsWith('[stack')) return 'main stack';
  if (m.name !== '') return 'named';
  const size = m.end - m.start;
  if (m.start % (64n * MIB) === 0n && size <= 64n * MIB) return 'arena';
  if (m.start % (256n * 1024n) === 0n && size === 256n * 1024n) return 'v8 page';
  if (size >= 8n * MIB - 4096n && size <= 8n * MIB + 4096n) return 'thread stack';
  return 'other';
}

const files = readdirSync(dir).filter((f) => /^t\d+\.tsv$/.test(f)).sort();
const dumps = files.map((f) => {
  const t = Number(f.slice(1, -4));
  const maps: Mapping[] = readFileSync(join(dir, f), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [range, perms, kb, name] = l.split('\t');
      const [a, b] = range!.split('-');
      return { start: BigInt(`0x${a}`), end: BigInt(`0x${b}`), perms: perms!, anonKb: Number(kb), name: name ?? '' };
    });
  return { t, maps };
});
if (dumps.length < 2) throw new Error(`Expected at least 2 dumps in ${dir} but received ${dumps.length}`);

const classes = (maps: Mapping[]) => {
  const out: Record<string, number> = {};
  for (const m of maps) out[classOf(m)] = (out[classOf(m)] ?? 0) + m.anonKb / 1024;
  return out;
};
const names = [...new Set(dumps.flatMap((d) => Object.keys(classes(d.maps))))].sort();
console.log(['t(s)', ...names, 'total'].join('\t'));
for (const d of dumps) {
  const c = classes(d.maps);
  console.log([d.t, ...names.map((n) => (c[n] ?? 0).toFixed(1)), Object.values(c).reduce((a, b) => a + b, 0).toFixed(1)].join('\t'));
}

const base = dumps.find((d) => d.t >= FROM) ?? dumps[0]!;
const last = dumps.at(-1)!;
// By start address: glibc's heaps and V8's spaces grow a mapping at its end (and the kernel merges neighbours).
const key = (m: Mapping) => m.start.toString(16);
const at = (d: (typeof dumps)[number]) => new Map(d.maps.map((m) => [key(m), m]));
const baseMap = at(base);
const rows = last.maps.map((m) => {
  const before = baseMap.get(key(m))?.anonKb ?? 0;
  let biggest = { t: base.t, kb: 0 };
  let prev = before;
  for (const d of dumps.filter((x) => x.t > base.t)) {
    const kb = at(d).get(key(m))?.anonKb ?? 0;
    if (kb - prev > biggest.kb) biggest = { t: d.t, kb: kb - prev };
    prev = kb;
  }
  return { m, grewKb: m.anonKb - before, biggest };
});
const gone = base.maps.filter((m) => !at(last).has(key(m))).reduce((a, m) => a + m.anonKb, 0);
rows.sort((a, b) => b.grewKb - a.grewKb);
console.log(`\nfrom t=${base.t}s to t=${last.t}s: mappings gone since ${(gone / 1024).toFixed(1)} MB; grew most:`);
for (const r of rows.slice(0, TOP)) {
  console.log(
    `${key(r.m)}-${r.m.end.toString(16)}\t${r.m.perms}\t${((Number(r.m.end - r.m.start)) / 2 ** 20).toFixed(2)} MiB\t${classOf(r.m)}\t+${(r.grewKb / 1024).toFixed(2)} MB\t(most +${(r.biggest.kb / 1024).toFixed(2)} MB by t=${r.biggest.t}s)\t${r.m.name}`,
  );
}
