// Process upkeep and introspection for long-running servers: handing glibc's free heap pages back to the kernel, and
// counting GStreamer's live objects by type when VIGIL_GST_OBJECT_COUNTS=1 (the soak benchmark samples both).
#include "diagnostics.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <dlfcn.h>
#include <unistd.h>
#include <v8.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common.h"

namespace vigil {

namespace {

int64_t ResidentBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<int64_t>(resident) * sysconf(_SC_PAGESIZE) : -1;
}

// jemalloc, when the process runs on it (LD_PRELOAD=libjemalloc.so.2, as `npm run serve` and the systemd unit start
// the server): its mallctl() interface, looked up at run time so that the addon neither links nor needs it.
using MallctlFn = int (*)(const char*, void*, size_t*, void*, size_t);
MallctlFn Mallctl() {
  static const MallctlFn fn = reinterpret_cast<MallctlFn>(dlsym(RTLD_DEFAULT, "mallctl"));
  return fn;
}

size_t MallctlSize(MallctlFn mallctl, const char* name) {
  size_t v = 0;
  size_t len = sizeof v;
  return mallctl(name, &v, &len, nullptr, 0) == 0 ? v : 0;
}

// malloc_trim(0) walks every arena under its lock and madvise()s the whole free pages away: milliseconds on a
// heap of a few hundred MB, so it runs on a libuv worker, never on the JS thread.
class TrimWorker : public Napi::AsyncWorker {
 public:
  explicit TrimWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    const auto t0 = std::chrono::steady_clock::now();
    before_ = ResidentBytes();
    if (MallctlFn mallctl = Mallctl()) {
      // jemalloc gives back unused dirty pages on its own after dirty_decay_ms; a purge of every arena
      // (MALLCTL_ARENAS_ALL = 4096) does it now.
      supported_ = true;
      released_ = mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0) == 0;
    } else {
#if defined(__GLIBC__)
      supported_ = true;
      released_ = malloc_trim(0) == 1;
#endif
    }
    after_ = ResidentBytes();
    ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  void OnOK() override {
    Napi::Env env = Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("supported", supported_);
    o.Set("released", released_);
    o.Set("rssBeforeBytes", static_cast<double>(before_));
    o.Set("rssAfterBytes", static_cast<double>(after_));
    o.Set("ms", ms_);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  bool supported_ = false;
  bool released_ = false;
  int64_t before_ = -1;
  int64_t after_ = -1;
  double ms_ = 0;
};

// The allocator's view of its heaps. glibc (mallinfo2): bytes in the heaps (main + arenas), of which free, and the
// blocks served by their own mappings. jemalloc: its resident pages (data and metadata), of which not allocated
// (dirty pages not yet given back, fragmentation, metadata); it has no separate mappings for large blocks. null
// elsewhere.
Napi::Value HeapStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (MallctlFn mallctl = Mallctl()) {
    uint64_t epoch = 1;
    size_t len = sizeof epoch;
    mallctl("epoch", &epoch, &len, &epoch, len);  // jemalloc's statistics are a snapshot taken at each new epoch
    const size_t resident = MallctlSize(mallctl, "stats.resident");
    const size_t allocated = MallctlSize(mallctl, "stats.allocated");
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocator", "jemalloc");
    o.Set("heapBytes", static_cast<double>(resident));
    o.Set("freeBytes", static_cast<double>(resident > allocated ? resident - allocated : 0));
    o.Set("mmapBytes", 0.0);
    o.Set("mmapBlocks", 0.0);
    return o;
  }
#if defined(__GLIBC__)
  const struct mallinfo2 m = mallinfo2();
  Napi::Object o = Napi::Object::New(env);
  o.Set("allocator", "glibc");
  o.Set("heapBytes", static_cast<double>(m.arena));
  o.Set("freeBytes", static_cast<double>(m.fordblks));
  o.Set("mmapBytes", static_cast<double>(m.hblkhd));
  o.Set("mmapBlocks", static_cast<double>(m.hblks));
  return o;
#else
  return env.Null();
#endif
}

Napi::Value TrimHeap(const Napi::CallbackInfo& info) {
  auto* w = new TrimWorker(info.Env());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// V8 keeps the pages an old-space collection leaves sparsely used, and compacts only the most fragmented few: in a
// server that is never idle (V8's memory reducer waits for idle time) its committed heap creeps up ~2.5 MB/h with the
// live objects flat (bench/soak.ts). A memory-pressure notification makes the next collection one that reduces
// memory: it evacuates fragmented pages, releases pooled ones and clears the compilation cache. 'moderate' starts
// it as incremental marking (concurrent, short pauses); 'critical' collects now, on the calling (JS) thread.
Napi::Value ReduceV8Heap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string level = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (level != "moderate" && level != "critical") {
    Napi::TypeError::New(env, "Expected 'moderate' or 'critical' for level").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  isolate->MemoryPressureNotification(level == "critical" ? v8::MemoryPressureLevel::kCritical
                                                          : v8::MemoryPressureLevel::kModerate);
  // The level stays set until V8 checks it; set it back so that allocation does not keep reading it as pressure.
  isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kNone);
  return env.Undefined();
}

// GStreamer objects alive by type, counted by a tracer of the addon's own (hooks on object and mini-object creation
// and destruction). GStreamer's leaks tracer cannot be asked at runtime: its "get-live-objects" hands back objects
// it does not own. Only objects created after the counter starts are counted, so it starts at addon load (right
// after gst_init, before any pipeline) and only when VIGIL_GST_OBJECT_COUNTS=1: every object's creation and
// destruction then takes a mutex.
struct VigilCounterTracer {
  GstTracer parent;
};
struct VigilCounterTracerClass {
  GstTracerClass parent_class;
};

std::mutex countsMutex;
std::unordered_map<GType, int64_t>* liveCounts = nullptr;  // set once; never freed (hooks may run until exit)

void Count(GType type, int64_t delta) {
  std::lock_guard<std::mutex> lock(countsMutex);
  (*liveCounts)[type] += delta;
}
void OnObjectCreated(GObject*, GstClockTime, GstObject* o) { Count(G_OBJECT_TYPE(o), 1); }
void OnObjectDestroyed(GObject*, GstClockTime, GstObject* o) { Count(G_OBJECT_TYPE(o), -1); }
void OnMiniObjectCreated(GObject*, GstClockTime, GstMiniObject* o) { Count(GST_MINI_OBJECT_TYPE(o), 1); }
void OnMiniObjectDestroyed(GObject*, GstClockTime, GstMiniObject* o) { Count(GST_MINI_OBJECT_TYPE(o), -1); }

G_DEFINE_TYPE(VigilCounterTracer, vigil_counter_tracer, GST_TYPE_TRACER)

void vigil_counter_tracer_class_init(VigilCounterTracerClass*) {}

void vigil_counter_tracer_init(VigilCounterTracer* self) {
  GstTracer* t = GST_TRACER(self);
  gst_tracing_register_hook(t, "object-created", G_CALLBACK(OnObjectCreated));
  gst_tracing_register_hook(t, "object-destroyed", G_CALLBACK(OnObjectDestroyed));
  gst_tracing_register_hook(t, "mini-object-created", G_CALLBACK(OnMiniObjectCreated));
  gst_tracing_register_hook(t, "mini-object-destroyed", G_CALLBACK(OnMiniObjectDestroyed));
}

Napi::Value GstLiveObjects(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (liveCounts == nullptr) return env.Null();
  std::map<std::string, int64_t> byName;
  {
    std::lock_guard<std::mutex> lock(countsMutex);
    for (const auto& [type, n] : *liveCounts)
      if (n != 0) byName[g_type_name(type)] = n;
  }
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [name, n] : byName) o.Set(name, static_cast<double>(n));
  return o;
}

}  // namespace

// glibc serves a block from its heap unless it is at least the mmap threshold, and raises that threshold to the
// size of each mmap'd block freed (up to 32 MiB): after the first frames, every frame-sized block (decoded frames
// outside GStreamer's pools, tensors, JPEGs) comes from the main heap, where long-lived small blocks between them
// keep it from shrinking — the soak's resident memory grew ~95 MB/h that way, in steps. A fixed threshold (which
// also turns the adjustment off) keeps large blocks in their own mappings, returned to the kernel at free.
// MALLOC_MMAP_THRESHOLD_ in the environment wins (glibc has already applied it).
constexpr int kMmapThresholdBytes = 128 * 1024;

static void FixMmapThreshold() {
#if defined(__GLIBC__)
  if (g_getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
#endif
}

void InitDiagnostics(Napi::Env env, Napi::Object exports) {
  static std::once_flag thresholdFixed;
  std::call_once(thresholdFixed, FixMmapThreshold);
  static std::once_flag counterStarted;
  if (g_strcmp0(g_getenv("VIGIL_GST_OBJECT_COUNTS"), "1") == 0) {
    std::call_once(counterStarted, [] {
      liveCounts = new std::unordered_map<GType, int64_t>();
      g_object_new(vigil_counter_tracer_get_type(), nullptr);  // kept for the process's life: its hooks stay registered
    });
  }
  exports.Set("trimHeap", Napi::Function::New(env, TrimHeap, "trimHeap"));
  exports.Set("heapStats", Napi::Function::New(env, HeapStats, "heapStats"));
  exports.Set("reduceV8Heap", Napi::Function::New(env, ReduceV8Heap, "reduceV8Heap"));
  exports.Set("gstLiveObjects", Napi::Function::New(env, GstLiveObjects, "gstLiveObjects"));
}

}  // namespace vigil
