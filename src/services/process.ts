/**
 * The server process's own upkeep. glibc keeps the pages of freed blocks inside its heaps (the main heap fragments
 * under frame-sized allocations that come and go), so a long-running server's resident memory creeps up with no
 * live object behind it (bench/soak.ts measured ~95 MB/h). Every `server.heapTrimIntervalS` the free pages go back
 * to the kernel (malloc_trim on a libuv worker), and blocks of 128 KiB and more get mappings of their own
 * (native/diagnostics.cc fixes glibc's mmap threshold at addon load). V8 has the same habit with its own pages: it
 * compacts only its most fragmented pages and gives memory back when the process is idle, which a server never is;
 * every `server.v8HeapReduceIntervalS` a moderate memory-pressure notification makes one collection a memory-reducing
 * one (incremental, so the JS thread sees short pauses, not a full one). Also: GStreamer's live objects by type, when the process was
 * started with VIGIL_GST_OBJECT_COUNTS=1, for soak runs and leak hunts.
 */
import { Counter, Gauge } from 'prom-client';
import { loadAddon } from '../../bindings/index.js';
import type { Service, ServiceContext } from './service.js';

export class ProcessService implements Service {
  readonly name = 'process';
  private timer: NodeJS.Timeout | null = null;
  private v8Timer: NodeJS.Timeout | null = null;
  private trimming: Promise<void> | null = null;

  async start(ctx: ServiceContext): Promise<void> {
    const addon = loadAddon();
    const trims = new Counter({
      name: 'vigil_heap_trims_total',
      help: 'Hand-backs of free heap pages to the kernel (server.heapTrimIntervalS)',
      registers: [ctx.metrics],
    });
    const released = new Counter({
      name: 'vigil_heap_trim_released_bytes_total',
      help: 'Resident memory the heap trims gave back (resident set before minus after each trim, bytes)',
      registers: [ctx.metrics],
    });
    new Gauge({
      name: 'vigil_malloc_bytes',
      help:
        "The allocator's heaps (allocator=glibc: mallinfo2; jemalloc: its statistics): in the heaps (heap; jemalloc: resident), " +
        'free inside them (free; jemalloc: resident but not allocated), blocks in mappings of their own (mmap; glibc only)',
      labelNames: ['allocator', 'kind'],
      registers: [ctx.metrics],
      collect() {
        const h = addon.heapStats();
        if (!h) return;
        this.set({ allocator: h.allocator, kind: 'heap' }, h.heapBytes);
        this.set({ allocator: h.allocator, kind: 'free' }, h.freeBytes);
        this.set({ allocator: h.allocator, kind: 'mmap' }, h.mmapBytes);
      },
    });
    new Gauge({
      name: 'vigil_gst_live_objects',
      help: "GStreamer objects and mini objects alive, by type (only when started with VIGIL_GST_OBJECT_COUNTS=1)",
      labelNames: ['type'],
      registers: [ctx.metrics],
      collect() {
        this.reset();
        const live = addon.gstLiveObjects();
        if (live) for (const [type, n] of Object.entries(live)) this.set({ type }, n);
      },
    });
    const v8Reductions = new Counter({
      name: 'vigil_v8_heap_reductions_total',
      help: 'Memory-reducing collections of the V8 heap requested (server.v8HeapReduceIntervalS)',
      registers: [ctx.metrics],
    });
    const reduceS = ctx.config.server.v8HeapReduceIntervalS;
    if (reduceS > 0) {
      this.v8Timer = setInterval(() => {
        addon.reduceV8Heap('moderate');
        v8Reductions.inc();
      }, reduceS * 1000);
      this.v8Timer.unref();
    }
    const intervalS = ctx.config.server.heapTrimIntervalS;
    if (intervalS === 0) return;
    const log = ctx.log.child('process');
    this.timer = setInterval(() => {
      if (this.trimming) return; // one at a time: a slow trim is not queued behind itself
      this.trimming = addon
        .trimHeap()
        .then((r) => {
          if (!r.supported) {
            this.stopTimer(); // not glibc: nothing to trim
            return;
          }
          trims.inc();
          released.inc(Math.max(0, r.rssBeforeBytes - r.rssAfterBytes));
        })
        .catch((err: unknown) => log.warn(`heap trim failed: ${(err as Error).message}`))
        .finally(() => (this.trimming = null));
    }, intervalS * 1000);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async stop(): Promise<void> {
    this.stopTimer();
    if (this.v8Timer) clearInterval(this.v8Timer);
    this.v8Timer = null;
    await this.trimming;
  }
}
