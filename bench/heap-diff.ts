/**
 * What grew between two V8 heap snapshots of one process (bench/soak.ts --heap-snapshots-at): objects by
 * constructor (or node type) in both, and the objects of B that were not in A (V8 keeps node ids stable within a
 * process), with a retainer path of a few of them — which structure holds what accumulates.
 *
 *   node --max-old-space-size=6144 --import tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top 25] [--paths 3] [--group NAME]...
 *
 * --group (repeatable): print retainer paths for the new objects of these groups (e.g. Promise, Map) instead of the
 * eight largest.
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`Expected a positive integer for --${name} but received ${process.argv[i + 1]}`);
  return v;
}

const [fileA, fileB] = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
if (!fileA || !fileB) throw new Error('Expected two .heapsnapshot files: node --import tsx bench/heap-diff.ts A B');
const TOP = arg('top', 25);
const GROUPS = process.argv.flatMap((a, i) => (a === '--group' && process.argv[i + 1] ? [process.argv[i + 1]!] : []));
const PATHS = arg('paths', 3);

class Heap {
  readonly s: Snapshot;
  readonly nf: number;
  readonly ef: number;
  readonly count: number;
  private readonly iType: number;
  private readonly iName: number;
  private readonly iId: number;
  private readonly iSize: number;
  private readonly iEdges: number;
  /** First edge (index into edges / ef) of each node. */
  readonly firstEdge: Int32Array;

  constructor(file: string) {
    this.s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
    const f = this.s.snapshot.meta.node_fields;
    this.nf = f.length;
    this.ef = this.s.snapshot.meta.edge_fields.length;
    this.iType = f.indexOf('type');
    this.iName = f.indexOf('name');
    this.iId = f.indexOf('id');
    this.iSize = f.indexOf('self_size');
    this.iEdges = f.indexOf('edge_count');
    this.count = this.s.nodes.length / this.nf;
    this.firstEdge = new Int32Array(this.count + 1);
    for (let n = 0, e = 0; n < this.count; n++) {
      this.firstEdge[n] = e;
      e += this.s.nodes[n * this.nf + this.iEdges]!;
      this.firstEdge[n + 1] = e;
    }
  }
  type(n: number): string {
    return this.s.snapshot.meta.node_types[0][this.s.nodes[n * this.nf + this.iType]!]!;
  }
  name(n: number): string {
    return this.s.strings[this.s.nodes[n * this.nf + this.iName]!]!;
  }
  id(n: number): number {
    return this.s.nodes[n * this.nf + this.iId]!;
  }
  size(n: number): number {
    return this.s.nodes[n * this.nf + this.iSize]!;
  }
  /** Objects by constructor name; strings, code and the rest by node type. */
  group(n: number): string {
    const t = this.type(n);
    if (t === 'object' || t === 'closure' || t === 'native') return `${t === 'object' ? '' : `(${t}) `}${this.name(n)}`;
    if (t === 'array' || t === 'hidden' || t === 'object shape') return `(${t}) ${this.name(n)}`.slice(0, 80);
    return `(${t})`;
  }
}

function totals(h: Heap, only?: (n: number) => boolean): Map<string, { n: number; bytes: number }> {
  const m = new Map<string, { n: number; bytes: number }>();
  for (let i = 0; i < h.count; i++) {
    if (only && !only(i)) continue;
    const g = h.group(i);
    const e = m.get(g) ?? { n: 0, bytes: 0 };
    e.n++;
    e.bytes += h.size(i);
    m.set(g, e);
  }
  return m;
}

console.log(`reading ${fileA}`);
const a = new Heap(fileA);
const idsA = new Set<number>();
for (let i = 0; i < a.count; i++) idsA.add(a.id(i));
const totA = totals(a);
const sizeA = [...totA.values()].reduce((x, y) => x + y.bytes, 0);
// Only the ids and totals of A are needed from here on.
(a as { s: unknown }).s = null;
console.log(`reading ${fileB}`);
const b = new Heap(fileB);
const totB = totals(b);
const sizeB = [...totB.values()].reduce((x, y) => x + y.bytes, 0);
const isNew = (n: number) => !idsA.has(b.id(n));
const fresh = totals(b, isNew);

const mb = (x: number) => (x / 2 ** 20).toFixed(2);
console.log(`\nheap: A ${mb(sizeA)} MB (${a.count} nodes), B ${mb(sizeB)} MB (${b.count} nodes), B - A ${mb(sizeB - sizeA)} MB`);

const delta = [...new Set([...totA.keys(), ...totB.keys()])]
  .map((g) => ({ g, a: totA.get(g) ?? { n: 0, bytes: 0 }, b: totB.get(g) ?? { n: 0, bytes: 0 } }))
  .map((x) => ({ ...x, dBytes: x.b.bytes - x.a.bytes, dN: x.b.n - x.a.n }))
  .sort((x, y) => y.dBytes - x.dBytes);
console.log(`\ngrowth by constructor / type (self size), top ${TOP}:`);
console.log('   delta MB    delta n        n(A)       n(B)  group');
for (const x of delta.slice(0, TOP)) {
  console.log(`${mb(x.dBytes).padStart(11)} ${String(x.dN).padStart(10)} ${String(x.a.n).padStart(11)} ${String(x.b.n).padStart(10)}  ${x.g}`);
}

// Retainer paths for a few of B's new objects in the groups that grew most.
const edges = b.s.edges;
const eType = b.s.snapshot.meta.edge_fields.indexOf('type');
const eName = b.s.snapshot.meta.edge_fields.indexOf('name_or_index');
const eTo = b.s.snapshot.meta.edge_fields.indexOf('to_node');
const edgeTypes = b.s.snapshot.meta.edge_types[0];
const retainerCount = new Int32Array(b.count + 1);
for (let e = 0; e < edges.length; e += b.ef) retainerCount[edges[e + eTo]! / b.nf + 1]!++;
for (let i = 1; i <= b.count; i++) retainerCount[i]! += retainerCount[i - 1]!;
const retainerEdge = new Int32Array(edges.length / b.ef);
const retainerFrom = new Int32Array(edges.length / b.ef);
const fill = retainerCount.slice();
for (let n = 0; n < b.count; n++) {
  for (let e = b.firstEdge[n]!; e < b.firstEdge[n + 1]!; e++) {
    const to = edges[e * b.ef + eTo]! / b.nf;
    const k = fill[to]!++;
    retainerEdge[k] = e;
    retainerFrom[k] = n;
  }
}
function edgeLabel(e: number): string {
  const t = edgeTypes[edges[e * b.ef + eType]!]!;
  const v = edges[e * b.ef + eName]!;
  return t === 'element' || t === 'hidden' ? `[${v}]` : `.${b.s.strings[v]}`;
}
function retainerPath(n: number): string {
  const seen = new Set<number>([n]);
  const parts: string[] = [];
  let cur = n;
  for (let depth = 0; depth < 12; depth++) {
    let best = -1;
    let bestEdge = -1;
    for (let k = retainerCount[cur]!; k < retainerCount[cur + 1]!; k++) {
      const e = retainerEdge[k]!;
      const t = edgeTypes[edges[e * b.ef + eType]!]!;
      const from = retainerFrom[k]!;
      if (t === 'weak' || t === 'shortcut' || seen.has(from)) continue;
      // Prefer a retainer that is an object of the program over V8's internals.
      if (best < 0 || (b.type(best) !== 'object' && b.type(from) === 'object')) {
        best = from;
        bestEdge = e;
      }
    }
    if (best < 0) break;
    parts.push(`${b.group(best)}${edgeLabel(bestEdge)}`);
    seen.add(best);
    cur = best;
    if (b.type(best) === 'synthetic') break;
  }
  return parts.join(' <- ');
}
const freshSorted = [...fresh.entries()].sort((x, y) => y[1].bytes - x[1].bytes).slice(0, TOP);
console.log(`\nobjects in B that were not in A, top ${TOP} by size:`);
console.log('         MB          n  group');
for (const [g, x] of freshSorted) console.log(`${mb(x.bytes).padStart(11)} ${String(x.n).padStart(10)}  ${g}`);
const shownGroups = GROUPS.length > 0 ? GROUPS : freshSorted.slice(0, 8).map(([g]) => g);
console.log(`\nretainers of new objects (${PATHS} per group, ${GROUPS.length > 0 ? 'groups asked for' : 'first 8 groups'}):`);
for (const g of shownGroups) {
  if (!fresh.has(g)) {
    console.log(`- ${g}: no new objects`);
    continue;
  }
  console.log(`- ${g}`);
  let shown = 0;
  for (let i = 0; i < b.count && shown < PATHS; i++) {
    if (b.group(i) !== g || !isNew(i)) continue;
    // Every ~97th match, so the samples spread over the group rather than its first allocations.
    if (fresh.get(g)!.n > 200 && i % 97 !== 0) continue;
    console.log(`    ${b.group(i)} <- ${retainerPath(i)}`);
    shown++;
  }
}
