// The frame path after decode: appsink callbacks push samples into a bounded queue (drops counted), one native
// worker thread per camera turns each sample into a tensor inside a pooled buffer, and hands it on. Nothing here
// runs on the JS thread, and a GStreamer streaming thread only ever waits in the explicit "block" policy
// (lossless file processing), where waiting is the back-pressure asked for.
#pragma once

#include <gst/gst.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common.h"
#include "motion.h"
#include "preprocess.h"

namespace vigil {

// Ingest threads (the decoder's streaming thread, appsink's, each camera's frame worker) run this much nicer
// (0-19) than they started: under contention the inference thread, CPU-bound and alone, then keeps its core.
// CFS favours threads that sleep and wake (a decoder per camera, 15 times a second), so at equal priority they
// preempt inference on every wake-up and frames are shed while the process still has CPU to spare. Applied by
// each ingest thread itself at its next frame (Linux; a no-op elsewhere).
void SetIngestNice(int nice);
int IngestNice();

// Fixed set of equally sized, 64-byte aligned tensor buffers. A slot is leased with a generation number, so a late
// second release (explicit release, then the ArrayBuffer's finalizer) can never free a slot leased again since.
// While a slot is leased it also keeps a reference to the decoded sample its tensor was made from (a ref, not a
// copy), so JS can copy the source frame out (captureSource) until it releases the tensor. The reference goes
// with the release, a new lease of the slot, or Shutdown (the pipeline stopping), so decoder buffers are never
// held past the frame's use or the pipeline's run.
class FramePool {
 public:
  FramePool(size_t slotBytes, int count);
  ~FramePool();
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;

  // Returns a slot index, or -1 if none came free within `wait` (or the pool was shut down).
  int Acquire(std::chrono::milliseconds wait, uint32_t* generation);
  bool Release(int slot, uint32_t generation);
  // Keeps a ref to `sample` for the lease (slot, generation); ignored when the lease is gone or the pool is shut down.
  void SetSample(int slot, uint32_t generation, GstSample* sample);
  // A new ref to the sample of a live lease, or null when the slot is not leased under that generation (stale),
  // has no sample, or the pool was shut down.
  SamplePtr Sample(int slot, uint32_t generation);
  void Shutdown();
  void Reopen();
  uint8_t* Data(int slot) const { return data_[slot]; }
  size_t slotBytes() const { return slotBytes_; }
  int size() const { return static_cast<int>(data_.size()); }
  int InUse();

 private:
  size_t slotBytes_;
  std::vector<uint8_t*> data_;
  std::vector<uint32_t> generation_;
  std::vector<bool> busy_;
  std::vector<SamplePtr> samples_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool shutdown_ = false;
};

struct FrameReady {
  int slot = -1;
  uint32_t generation = 0;
  uint64_t sequence = 0;
  int64_t ptsNs = -1;         // buffer PTS in stream time, -1 when the buffer has none
  int64_t wallClockNs = 0;    // Unix-epoch ns when the decoded frame reached the sink
  int sourceWidth = 0;
  int sourceHeight = 0;
  // The tensor of THIS frame: the whole frame (config.tensor's size) or a crop (config.crop->tensor's size), in the
  // same layout; its bytes are the first tensorBytes of the slot.
  int tensorWidth = 0;
  int tensorHeight = 0;
  size_t tensorBytes = 0;
  // Source pixels letterboxed into the tensor: the whole frame unless `cropped`.
  // source_px = (tensor_px - pad) / scale + crop origin.
  Region crop;
  bool cropped = false;
  Letterbox letterbox;
  // Motion regions' share of the frame (0..1; 1 on a frame that initialised the background; -1 without a gate) and
  // how many disjoint regions there were.
  double regionShare = -1;
  int regionCount = 0;
  // Motion gate verdict for this frame (motion = true and changedFraction = -1 when no gate is configured).
  bool motion = true;
  double changedFraction = -1;
};

// Motion-region inference: when the motion is local, the frame's changed regions (one crop around all of them)
// are letterboxed into a smaller tensor instead of the whole frame.
struct CropConfig {
  TensorSpec tensor;       // the crop tensor: same layout, colour order and normalisation as the whole-frame one
  double maxShare = 0.35;  // crop only while the crop rectangle covers less than this share of the frame
  int fullFrameEvery = 0;  // at most this many analysed frames between whole frames (0: no periodic whole frame)
  int minSide = 160;       // source pixels: a crop is grown to at least this size on each side
};

// The crop rectangle for a set of motion regions: their bounding box grown to at least minSide per side and to the
// tensor's aspect ratio (around the box's centre, kept inside the frame), origin and size even (so YUV chroma
// samples line up). Always contains every region.
Region ChooseCrop(const std::vector<MotionRegion>& regions, int frameWidth, int frameHeight, int tensorWidth,
                  int tensorHeight, int minSide);

struct FrameSinkConfig {
  TensorSpec tensor;
  int queueSize = 2;
  int poolSize = 4;
  bool block = false;  // true: wait for room (lossless); false: drop the oldest queued frame (live cameras)
  // Frames without motion skip the tensor stage unless bypassed (e.g. while a tracked object is active).
  std::optional<MotionConfig> motion;
  // Needs the motion gate (regions come from it); absent: every tensor is the whole frame.
  std::optional<CropConfig> crop;
};

struct FrameSinkStats {
  std::atomic<uint64_t> framesDecoded{0};     // counted on the decoder's output pad (or the sink if no decoder)
  std::atomic<uint64_t> framesIn{0};          // reached the sink, after the detect-rate filter
  std::atomic<uint64_t> framesDelivered{0};   // tensor ready and handed on
  std::atomic<uint64_t> droppedQueue{0};      // queue full: oldest sample dropped
  std::atomic<uint64_t> droppedPool{0};       // every tensor buffer held by the consumer
  std::atomic<uint64_t> droppedDelivery{0};   // the consumer could not take it (closing)
  std::atomic<uint64_t> droppedFormat{0};     // a sample whose caps cannot be converted
  std::atomic<uint64_t> skippedNoMotion{0};   // motion gate: no change, nothing to infer
  std::atomic<uint64_t> skippedRate{0};       // arrived sooner than the analysis interval allows (before any work)
  std::atomic<uint64_t> framesCropped{0};     // delivered as a motion-region crop (the rest were whole frames)
  std::atomic<int64_t> lastFrameMonotonicUs{0};
  std::atomic<int> width{0};
  std::atomic<int> height{0};
};

class FrameSink {
 public:
  // Returns false if the frame could not be handed on; the sink then returns the slot to the pool itself.
  using Deliver = std::function<bool(const FrameReady&)>;

  FrameSink(GstElement* appsink, GstElement* decoder, const FrameSinkConfig& config, Deliver deliver,
            std::function<void()> onEos);
  ~FrameSink();
  FrameSink(const FrameSink&) = delete;
  FrameSink& operator=(const FrameSink&) = delete;

  void Start();
  // Wakes every waiter (streaming thread in block mode, the worker) so the pipeline can go to NULL.
  void BeginStop();
  // Joins the worker and drops what is still queued. Call after the pipeline reached NULL.
  void FinishStop();
  // From now on samples are accepted and discarded (nothing queued, nobody waits): used while a stopping
  // pipeline drains an EOS through its other branches (the recorder finalising its segment).
  void Drain();
  // End of stream reached the sink: reported through onEos after every frame queued before it.
  void PushEos();

  const std::shared_ptr<FramePool>& pool() const { return pool_; }
  // While set, frames go on to the tensor stage whatever the motion gate says.
  void SetMotionBypass(bool bypass) { motionBypass_.store(bypass, std::memory_order_relaxed); }
  // While set, every tensor is the whole frame (e.g. while tracks are live, so the tracker sees all of them).
  void SetFullFrame(bool full) { fullFrame_.store(full, std::memory_order_relaxed); }
  // Frames that arrive less than this long (ns, by buffer PTS, else monotonic arrival) after the last one let
  // through are skipped in the streaming thread before they are queued (counted in skippedRate). 0: no limit
  // beyond the pipeline's own detect rate.
  void SetAnalysisInterval(int64_t ns) { analysisIntervalNs_.store(ns < 0 ? 0 : ns, std::memory_order_relaxed); }
  int64_t AnalysisInterval() const { return analysisIntervalNs_.load(std::memory_order_relaxed); }
  FrameSinkStats& stats() { return stats_; }
  int QueueDepth();
  // No streaming thread can reach this sink any more: the appsink and the decoder (whose output pad it probes) are
  // at READY or below with no state change pending (their pads deactivated). Then it can be destroyed even though
  // the rest of the graph is still tearing down (an abandoned pipeline stuck upstream, e.g. in rtspsrc).
  bool Unreachable() const;

 private:
  static GstFlowReturn OnNewSample(GstElement* appsink, gpointer self);
  static GstPadProbeReturn OnDecoded(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  GstFlowReturn Push(SamplePtr sample);
  void Run();
  void Process(GstSample* sample, int64_t arrivalNs);

  GstElement* appsink_;  // borrowed: the pipeline owns it and outlives this object
  PadPtr decoderPad_;
  gulong probeId_ = 0;
  FrameSinkConfig config_;
  Deliver deliver_;
  std::function<void()> onEos_;
  bool RateAllows(GstSample* sample);
  Preprocessor preprocessor_;
  std::unique_ptr<Preprocessor> cropPreprocessor_;  // when config.crop is set
  std::unique_ptr<MotionDetector> motion_;  // used by the worker thread only
  std::atomic<bool> motionBypass_{false};
  std::atomic<bool> fullFrame_{false};
  std::atomic<int64_t> analysisIntervalNs_{0};
  int64_t lastAcceptedNs_ = -1;  // streaming thread only: time of the last frame the rate let through
  int sinceFull_ = 0;            // worker only: crops delivered since the last whole frame
  std::shared_ptr<FramePool> pool_;
  FrameSinkStats stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  struct Queued {
    SamplePtr sample;  // null: end-of-stream marker
    int64_t arrivalNs;  // Unix-epoch ns when the sample reached the sink
  };
  std::deque<Queued> queue_;
  bool stopping_ = true;
  bool draining_ = false;
  std::thread worker_;
  uint64_t sequence_ = 0;
};

}  // namespace vigil
