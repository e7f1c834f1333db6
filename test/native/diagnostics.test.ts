/**
 * Process upkeep and introspection (native/diagnostics.cc): heap trimming on a worker thread, glibc's mmap
 * threshold fixed at addon load (heap statistics), memory-reducing V8 collections on request, jemalloc's statistics when it is preloaded, and GStreamer's live
 * objects by type with VIGIL_GST_OBJECT_COUNTS=1 (bench/soak.ts samples them through /metrics). The counter starts at
 * addon load, so its test runs in a child process started with that variable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';
import { loadAddon } from '../../bindings/index.js';

const addon = loadAddon();

test('trimHeap() gives free heap pages back on a worker thread and reports resident sizes', async () => {
  // Free a few MB in small blocks (below the mmap threshold: they stay in the heap until trimmed).
  let blocks: Buffer[] | null = Array.from({ length: 4000 }, () => Buffer.allocUnsafeSlow(1000));
  blocks = null;
  void blocks;
  const r = await addon.trimHeap();
  assert.equal(r.supported, true, 'glibc on this machine');
  assert.equal(typeof r.released, 'boolean');
  assert.ok(r.rssBeforeBytes > 10 * 1024 * 1024, `resident before: ${r.rssBeforeBytes}`);
  assert.ok(r.rssAfterBytes > 10 * 1024 * 1024, `resident after: ${r.rssAfterBytes}`);
  assert.ok(r.ms >= 0);
});

/** Runs `body` (an ES module text) in a child node with `env` added; returns its last stdout line as JSON. */
function child<T>(body: string, env: Record<string, string>, nodeArgs: string[] = []): T {
  const bindings = pathToFileURL(resolve('bindings/index.ts')).href;
  const script = `const { loadAddon } = await import(${JSON.stringify(bindings)});\nconst addon = loadAddon();\n${body}`;
  const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}

// After a large block is freed (a 25 MB JPEG here), glibc's dynamic threshold would serve every block up to that
// size from the heap; the addon fixes it at 128 KiB, so 256 KiB blocks still get mappings of their own.
const MMAP_PROBE = `
  const w = 3000, h = 2000;
  const px = Buffer.alloc(w * h * 3);
  for (let i = 0; i < px.length; i += 7) px[i] = (i * 2654435761) >>> 24;
  const jpeg = await addon.encodeJpeg(px, { format: 'RGB', width: w, height: h }, { quality: 100 });
  const s0 = addon.heapStats();
  const keep = Array.from({ length: 20 }, () => Buffer.allocUnsafeSlow(256 * 1024));
  const s1 = addon.heapStats();
  console.log(JSON.stringify({ bigFreed: jpeg.length > 4 * 1024 * 1024, mapped: s1.mmapBlocks - s0.mmapBlocks, kept: keep.length }));
`;

test('blocks of 128 KiB and more get mappings of their own, also after a large block was freed; MALLOC_MMAP_THRESHOLD_ wins', () => {
  const stats = addon.heapStats()!;
  assert.ok(stats.heapBytes > 0 && stats.freeBytes >= 0 && stats.mmapBytes > 0 && stats.mmapBlocks > 0, JSON.stringify(stats));
  assert.deepEqual(child(MMAP_PROBE, {}), { bigFreed: true, mapped: 20, kept: 20 });
  assert.deepEqual(child(MMAP_PROBE, { MALLOC_MMAP_THRESHOLD_: String(4 * 1024 * 1024) }), { bigFreed: true, mapped: 0, kept: 20 });
});

test('on jemalloc (preloaded) heapStats() reports its statistics and trimHeap() purges its arenas', () => {
  const lib = spawnSync('sh', ['-c', 'ldconfig -p | grep -c "libjemalloc.so.2 "'], { encoding: 'utf8' }).stdout.trim();
  assert.notEqual(lib, '0', 'libjemalloc.so.2 is not installed (scripts/setup.sh installs libjemalloc2)');
  const got = child<{ allocator: string; grewMb: number; freeOk: boolean; trim: { supported: boolean; released: boolean } }>(`
    const s0 = addon.heapStats();
    const keep = Array.from({ length: 32 }, () => Buffer.allocUnsafeSlow(1024 * 1024).fill(1));
    const s1 = addon.heapStats();
    const trim = await addon.trimHeap();
    console.log(JSON.stringify({
      allocator: s1.allocator,
      grewMb: Math.round(((s1.heapBytes - s1.freeBytes) - (s0.heapBytes - s0.freeBytes)) / 2 ** 20),
      freeOk: s1.freeBytes >= 0 && s1.freeBytes < s1.heapBytes && s1.mmapBytes === 0 && keep.length === 32,
      trim: { supported: trim.supported, released: trim.released },
    }));
  `, { LD_PRELOAD: 'libjemalloc.so.2' });
  assert.equal(addon.heapStats()!.allocator, 'glibc');
  assert.equal(got.allocator, 'jemalloc');
  assert.ok(got.grewMb >= 32 && got.grewMb <= 34, `allocated bytes grew by ${got.grewMb} MB for 32 MB of buffers`);
  assert.equal(got.freeOk, true);
  assert.deepEqual(got.trim, { supported: true, released: true });
});

test('gstLiveObjects() is null unless VIGIL_GST_OBJECT_COUNTS=1', () => {
  assert.equal(addon.gstLiveObjects(), null);
});

test('gstLiveObjects() counts live GStreamer objects by type with VIGIL_GST_OBJECT_COUNTS=1: a pipeline\'s objects while open, none after close', () => {
  const tensor = pathToFileURL(resolve('src/camera/tensor.ts')).href;
  const got = child<{ before: Record<string, number>; open: Record<string, number>; closed: Record<string, number> }>(`
    const { DEFAULT_TENSOR } = await import(${JSON.stringify(tensor)});
    const count = (t) => addon.gstLiveObjects()[t] ?? 0;
    const before = { pipeline: count('GstPipeline'), src: count('GstVideoTestSrc') };
    const p = new addon.Pipeline({ cameraId: 'leaks', description: 'videotestsrc is-live=true ! video/x-raw,format=I420,width=64,height=48,framerate=30/1 ! appsink name=sink',
      tensor: DEFAULT_TENSOR, queueSize: 1, poolSize: 1, block: false, onEvent: () => {} });
    p.start();
    await new Promise((r) => setTimeout(r, 300));
    const open = { pipeline: count('GstPipeline'), src: count('GstVideoTestSrc'), buffers: count('GstBuffer') };
    p.close();
    const closed = { pipeline: count('GstPipeline'), src: count('GstVideoTestSrc'), sink: count('GstAppSink'), pads: count('GstPad'), buffers: count('GstBuffer'), samples: count('GstSample') };
    console.log(JSON.stringify({ before, open, closed }));
  `, { VIGIL_GST_OBJECT_COUNTS: '1' });
  assert.deepEqual(got.before, { pipeline: 0, src: 0 });
  assert.equal(got.open.pipeline, 1);
  assert.equal(got.open.src, 1);
  assert.ok(got.open.buffers! >= 1, `buffers alive while running: ${got.open.buffers}`);
  assert.deepEqual(got.closed, { pipeline: 0, src: 0, sink: 0, pads: 0, buffers: 0, samples: 0 });
});

// V8's heap, fragmented: 1,000,000 small objects promoted to old space, then every other one dropped. A plain full
// collection leaves the half-empty pages as they are; a memory-reducing one evacuates them and gives them back.
const V8_PROBE = (mode: string) => `
  const v8 = await import('node:v8');
  const old = () => v8.getHeapSpaceStatistics().find((s) => s.space_name === 'old_space');
  const keep = [];
  for (let i = 0; i < 1_000_000; i++) keep.push({ i, s: 'x' + i });
  gc(); gc();
  for (let i = 0; i < keep.length; i += 2) keep[i] = null;
  // Collections until the sweeping of the freed objects is over: what is measured next is the action's alone.
  gc(); gc(); gc();
  await new Promise((r) => setTimeout(r, 200));
  gc();
  const before = old();
  const mode = ${JSON.stringify(mode)};
  if (mode === 'gc') gc(); else addon.reduceV8Heap(mode);
  // 'moderate' marks incrementally, on V8's tasks in the event loop: give it up to 10 s.
  for (let t = 0; mode === 'moderate' && old().space_size > before.space_size - 8 * 2 ** 20 && t < 1000; t++) await new Promise((r) => setTimeout(r, 10));
  const after = old();
  const MB = 2 ** 20;
  console.log(JSON.stringify({ freedMb: Math.round((before.space_size - after.space_size) / MB), usedMb: Math.round((after.space_used_size - before.space_used_size) / MB), kept: keep.length }));
`;

test("reduceV8Heap() evacuates V8's fragmented pages, where a plain full collection keeps them; bad levels are refused", () => {
  const run = (mode: string) => child<{ freedMb: number; usedMb: number; kept: number }>(V8_PROBE(mode), {}, ['--expose-gc']);
  const plain = run('gc');
  assert.ok(plain.freedMb <= 1, `plain collection: ${JSON.stringify(plain)}`);
  assert.deepEqual({ usedMb: plain.usedMb, kept: plain.kept }, { usedMb: 0, kept: 1_000_000 });
  for (const mode of ['critical', 'moderate']) {
    const r = run(mode);
    assert.ok(r.freedMb >= 8, `${mode}: ${JSON.stringify(r)}`);
    assert.equal(r.usedMb, 0, mode);
  }
  for (const bad of ['high', undefined, 2]) {
    assert.throws(() => (addon.reduceV8Heap as (l: unknown) => void)(bad), { name: 'TypeError', message: "Expected 'moderate' or 'critical' for level" });
  }
});
