#include "frame_sink.h"

#include "video_frame.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#if defined(__linux__)
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace vigil {

namespace {

std::atomic<int> g_ingestNice{0};
std::atomic<int> g_ingestNiceGeneration{0};

// On the calling (ingest) thread: its nice = its own at first sight + the configured offset. Cheap after the first
// call of each setting (one atomic load).
void ApplyIngestNice() {
#if defined(__linux__)
  thread_local int applied = 0;  // generation applied on this thread; 0: never
  thread_local int original = 0;
  const int generation = g_ingestNiceGeneration.load(std::memory_order_acquire);
  if (applied == generation) return;
  const pid_t tid = static_cast<pid_t>(syscall(SYS_gettid));
  if (applied == 0) {
    errno = 0;
    const int now = getpriority(PRIO_PROCESS, tid);  // per thread on Linux
    if (errno != 0) return;
    original = now;
  }
  applied = generation;
  setpriority(PRIO_PROCESS, tid, std::min(19, original + g_ingestNice.load(std::memory_order_relaxed)));
#endif
}

}  // namespace

void SetIngestNice(int nice) {
  g_ingestNice.store(std::clamp(nice, 0, 19), std::memory_order_relaxed);
  g_ingestNiceGeneration.fetch_add(1, std::memory_order_acq_rel);
}

int IngestNice() { return g_ingestNice.load(std::memory_order_relaxed); }

// ---------------------------------------------------------------------------------------------------------------
// FramePool

FramePool::FramePool(size_t slotBytes, int count)
    : slotBytes_(slotBytes), data_(count, nullptr), generation_(count, 0), busy_(count, false), samples_(count) {
  const size_t rounded = (slotBytes + 63) / 64 * 64;
  for (auto& p : data_) {
    p = static_cast<uint8_t*>(std::aligned_alloc(64, rounded));
    if (!p) throw std::bad_alloc();
  }
}

FramePool::~FramePool() {
  for (auto* p : data_) std::free(p);
}

int FramePool::Acquire(std::chrono::milliseconds wait, uint32_t* generation) {
  std::unique_lock<std::mutex> lock(mu_);
  int found = -1;
  auto anyFree = [&] {
    if (shutdown_) return true;
    for (size_t i = 0; i < busy_.size(); ++i)
      if (!busy_[i]) { found = static_cast<int>(i); return true; }
    return false;
  };
  if (!cv_.wait_for(lock, wait, anyFree) || shutdown_ || found < 0) return -1;
  busy_[found] = true;
  *generation = ++generation_[found];
  return found;
}

bool FramePool::Release(int slot, uint32_t generation) {
  SamplePtr sample;  // unreffed outside the lock: it may hand a buffer back to the decoder's pool
  std::lock_guard<std::mutex> lock(mu_);
  if (slot < 0 || slot >= static_cast<int>(busy_.size())) return false;
  if (!busy_[slot] || generation_[slot] != generation) return false;
  busy_[slot] = false;
  sample = std::move(samples_[slot]);
  cv_.notify_all();
  return true;
}

void FramePool::SetSample(int slot, uint32_t generation, GstSample* s) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_ || slot < 0 || slot >= static_cast<int>(busy_.size())) return;
  if (!busy_[slot] || generation_[slot] != generation) return;
  samples_[slot].reset(gst_sample_ref(s));
}

SamplePtr FramePool::Sample(int slot, uint32_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  if (shutdown_ || slot < 0 || slot >= static_cast<int>(busy_.size())) return nullptr;
  if (!busy_[slot] || generation_[slot] != generation || !samples_[slot]) return nullptr;
  return SamplePtr(gst_sample_ref(samples_[slot].get()));
}

void FramePool::Shutdown() {
  std::vector<SamplePtr> dropped;
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_ = true;
    for (auto& s : samples_) dropped.push_back(std::move(s));
    cv_.notify_all();
  }
}

void FramePool::Reopen() {
  std::lock_guard<std::mutex> lock(mu_);
  shutdown_ = false;
}

int FramePool::InUse() {
  std::lock_guard<std::mutex> lock(mu_);
  int n = 0;
  for (bool b : busy_) n += b ? 1 : 0;
  return n;
}

// ---------------------------------------------------------------------------------------------------------------
// Crop choice

Region ChooseCrop(const std::vector<MotionRegion>& regions, int frameWidth, int frameHeight, int tensorWidth,
                  int tensorHeight, int minSide) {
  int x0 = frameWidth, y0 = frameHeight, x1 = 0, y1 = 0;
  for (const MotionRegion& r : regions) {
    x0 = std::min(x0, r.x);
    y0 = std::min(y0, r.y);
    x1 = std::max(x1, r.x + r.width);
    y1 = std::max(y1, r.y + r.height);
  }
  if (x1 <= x0 || y1 <= y0) return Region{0, 0, frameWidth, frameHeight};
  // Grow to the minimum side, then to the tensor's aspect (the letterbox then wastes no tensor pixels on border).
  const double aspect = static_cast<double>(tensorWidth) / tensorHeight;
  int w = std::max(x1 - x0, minSide), h = std::max(y1 - y0, minSide);
  if (w < h * aspect) w = static_cast<int>(std::ceil(h * aspect));
  else h = std::max(h, static_cast<int>(std::ceil(w / aspect)));
  w = std::min(w + (w & 1), frameWidth);
  h = std::min(h + (h & 1), frameHeight);
  // Centred on the box (x0 - extra / 2 keeps the box inside whatever the rounding), then moved into the frame.
  auto place = [](int lo, int hi, int size, int limit) {
    int start = lo - (size - (hi - lo)) / 2;
    start -= start & 1;
    return std::clamp(start, 0, limit - size);
  };
  int x = place(x0, x1, w, frameWidth), y = place(y0, y1, h, frameHeight);
  // Rounding the start down to even can leave the far edge one pixel short: grow the size (never past the frame).
  if (x + w < x1) w = std::min(frameWidth - x, x1 - x + ((x1 - x) & 1));
  if (y + h < y1) h = std::min(frameHeight - y, y1 - y + ((y1 - y) & 1));
  return Region{x, y, w, h};
}

// ---------------------------------------------------------------------------------------------------------------
// FrameSink

FrameSink::FrameSink(GstElement* appsink, GstElement* decoder, const FrameSinkConfig& config, Deliver deliver,
                     std::function<void()> onEos)
    : appsink_(appsink),
      config_(config),
      deliver_(std::move(deliver)),
      onEos_(std::move(onEos)),
      preprocessor_(config.tensor),
      pool_(std::make_shared<FramePool>(
          std::max(TensorBytes(config.tensor), config.crop ? TensorBytes(config.crop->tensor) : size_t{0}),
          config.poolSize)) {
  if (config.motion) motion_ = std::make_unique<MotionDetector>(*config.motion);
  if (config.crop) cropPreprocessor_ = std::make_unique<Preprocessor>(config.crop->tensor);
  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink* sink, gpointer self) {
    return OnNewSample(GST_ELEMENT(sink), self);
  };
  gst_app_sink_set_callbacks(GST_APP_SINK(appsink_), &callbacks, this, nullptr);
  if (decoder) {
    decoderPad_.reset(gst_element_get_static_pad(decoder, "src"));
    if (decoderPad_)
      probeId_ = gst_pad_add_probe(decoderPad_.get(), GST_PAD_PROBE_TYPE_BUFFER, OnDecoded, this, nullptr);
  }
}

FrameSink::~FrameSink() {
  BeginStop();
  FinishStop();
  if (decoderPad_ && probeId_) gst_pad_remove_probe(decoderPad_.get(), probeId_);
  GstAppSinkCallbacks none{};
  gst_app_sink_set_callbacks(GST_APP_SINK(appsink_), &none, nullptr, nullptr);
}

namespace {
bool AtRestOrBelow(GstElement* e) {
  GST_OBJECT_LOCK(e);
  const bool idle = GST_STATE(e) <= GST_STATE_READY && GST_STATE_PENDING(e) == GST_STATE_VOID_PENDING;
  GST_OBJECT_UNLOCK(e);
  return idle;
}
}  // namespace

bool FrameSink::Unreachable() const {
  if (!AtRestOrBelow(appsink_)) return false;
  if (!decoderPad_) return true;
  ElementPtr decoder(gst_pad_get_parent_element(decoderPad_.get()));
  return !decoder || AtRestOrBelow(decoder.get());
}

void FrameSink::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!stopping_) return;
  stopping_ = false;
  draining_ = false;
  lastAcceptedNs_ = -1;  // no streaming thread runs before the worker starts
  pool_->Reopen();
  worker_ = std::thread([this] { Run(); });
}

void FrameSink::Drain() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    draining_ = true;
    queue_.clear();
    cv_.notify_all();
  }
  pool_->Shutdown();
}

void FrameSink::BeginStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  pool_->Shutdown();
}

void FrameSink::FinishStop() {
  if (worker_.joinable()) worker_.join();
  std::lock_guard<std::mutex> lock(mu_);
  queue_.clear();
}

int FrameSink::QueueDepth() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(queue_.size());
}

void FrameSink::PushEos() {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_ || draining_) return;
  queue_.push_back(Queued{nullptr, 0});  // beyond queueSize on purpose: the marker is never dropped
  cv_.notify_all();
}

GstPadProbeReturn FrameSink::OnDecoded(GstPad*, GstPadProbeInfo*, gpointer self) {
  ApplyIngestNice();  // the decoder's streaming thread
  static_cast<FrameSink*>(self)->stats_.framesDecoded.fetch_add(1, std::memory_order_relaxed);
  return GST_PAD_PROBE_OK;
}

GstFlowReturn FrameSink::OnNewSample(GstElement* appsink, gpointer self) {
  SamplePtr pulled(gst_app_sink_pull_sample(GST_APP_SINK(appsink)));
  if (!pulled) return GST_FLOW_FLUSHING;
  // appsink hands out one GstSample it keeps and reuses, and sets new caps on it in place (a file camera's loop
  // restart, a renegotiation): a reference held here past this call (queue, pool slot, capture) makes that a
  // GStreamer-CRITICAL "gst_sample_is_writable" failure. Our own sample of the same buffer and caps leaves
  // appsink's free; it costs one small allocation per frame, no copy.
  SamplePtr own(gst_sample_new(gst_sample_get_buffer(pulled.get()), gst_sample_get_caps(pulled.get()), nullptr, nullptr));
  pulled.reset();
  return static_cast<FrameSink*>(self)->Push(std::move(own));
}

// Streaming thread. The timeline is the buffer's PTS (so file runs are deterministic), else the arrival time; a
// timeline that goes back (a seek, a loop, a new source) restarts the count. Frames up to 2 ms early pass, so a
// 15 fps stream analysed at 5 fps keeps every third frame despite PTS rounding.
bool FrameSink::RateAllows(GstSample* sample) {
  const int64_t interval = analysisIntervalNs_.load(std::memory_order_relaxed);
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  const int64_t now = buffer && GST_BUFFER_PTS_IS_VALID(buffer) ? static_cast<int64_t>(GST_BUFFER_PTS(buffer))
                                                                 : g_get_monotonic_time() * 1000;
  constexpr int64_t kEarlyNs = 2000000;
  if (interval > 0 && lastAcceptedNs_ >= 0 && now >= lastAcceptedNs_ && now - lastAcceptedNs_ + kEarlyNs < interval)
    return false;
  lastAcceptedNs_ = now;
  return true;
}

GstFlowReturn FrameSink::Push(SamplePtr sample) {
  ApplyIngestNice();  // appsink's streaming thread
  stats_.framesIn.fetch_add(1, std::memory_order_relaxed);
  if (!decoderPad_) stats_.framesDecoded.fetch_add(1, std::memory_order_relaxed);
  stats_.lastFrameMonotonicUs.store(g_get_monotonic_time(), std::memory_order_relaxed);
  if (!RateAllows(sample.get())) {
    stats_.skippedRate.fetch_add(1, std::memory_order_relaxed);
    return GST_FLOW_OK;
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_) return GST_FLOW_FLUSHING;
  if (draining_) return GST_FLOW_OK;
  if (static_cast<int>(queue_.size()) >= config_.queueSize) {
    if (config_.block) {
      cv_.wait(lock, [&] { return stopping_ || draining_ || static_cast<int>(queue_.size()) < config_.queueSize; });
      if (stopping_) return GST_FLOW_FLUSHING;
      if (draining_) return GST_FLOW_OK;
    } else {
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->sample) {
          queue_.erase(it);
          stats_.droppedQueue.fetch_add(1, std::memory_order_relaxed);
          break;
        }
      }
    }
  }
  queue_.push_back(Queued{std::move(sample), g_get_real_time() * 1000});
  cv_.notify_all();
  return GST_FLOW_OK;
}

void FrameSink::Run() {
  for (;;) {
    Queued item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (draining_) continue;
      item = std::move(queue_.front());
      queue_.pop_front();
      cv_.notify_all();  // room for a blocked streaming thread
    }
    ApplyIngestNice();  // motion and preprocessing
    if (item.sample) Process(item.sample.get(), item.arrivalNs);
    else onEos_();
  }
}

void FrameSink::Process(GstSample* sample, int64_t arrivalNs) {
  GstCaps* caps = gst_sample_get_caps(sample);  // borrowed from the sample
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstVideoInfo info;
  PixelFormat format;
  if (!caps || !buffer || !gst_video_info_from_caps(&info, caps) || !PixelFormatFromGst(GST_VIDEO_INFO_FORMAT(&info), &format)) {
    stats_.droppedFormat.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  VideoFrameMap map(&info, buffer);
  if (!map.ok()) {
    stats_.droppedFormat.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  GstVideoFrame& vf = map.frame();
  // Motion gate on the luma plane, before any conversion work. Packed RGB sources have no luma plane: not gated.
  bool hasMotion = true;
  double changedFraction = -1;
  MotionResult m;
  bool gated = false;
  if (motion_ && (format == PixelFormat::I420 || format == PixelFormat::NV12)) {
    m = motion_->Update(static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, 0)), GST_VIDEO_INFO_WIDTH(&info),
                        GST_VIDEO_INFO_HEIGHT(&info), GST_VIDEO_FRAME_PLANE_STRIDE(&vf, 0));
    gated = true;
    hasMotion = m.motion;
    changedFraction = m.changedFraction;
    if (!hasMotion && !motionBypass_.load(std::memory_order_relaxed)) {
      stats_.skippedNoMotion.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  const int width = GST_VIDEO_INFO_WIDTH(&info), height = GST_VIDEO_INFO_HEIGHT(&info);
  // Whole frame or crop: a crop only for a frame with local motion, and not while JS asks for whole frames, on a
  // frame that (re)initialised the background, or when the periodic whole frame (static objects re-seen) is due.
  Region crop{0, 0, width, height};
  bool cropped = false;
  if (cropPreprocessor_ && gated && hasMotion && !m.initialized && !m.regions.empty() &&
      !fullFrame_.load(std::memory_order_relaxed) &&
      !(config_.crop->fullFrameEvery > 0 && sinceFull_ + 1 >= config_.crop->fullFrameEvery) &&
      m.regionShare < config_.crop->maxShare) {
    const TensorSpec& ct = cropPreprocessor_->spec();
    Region c = ChooseCrop(m.regions, width, height, ct.width, ct.height, config_.crop->minSide);
    if (static_cast<double>(c.width) * c.height < config_.crop->maxShare * width * height) {
      crop = c;
      cropped = true;
    }
  }
  uint32_t generation = 0;
  int slot = -1;
  if (config_.block) {
    for (;;) {
      slot = pool_->Acquire(std::chrono::milliseconds(50), &generation);
      if (slot >= 0) break;
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
  } else {
    slot = pool_->Acquire(std::chrono::milliseconds(0), &generation);
    if (slot < 0) {
      stats_.droppedPool.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }

  SourceImage src;
  src.format = format;
  src.width = GST_VIDEO_INFO_WIDTH(&info);
  src.height = GST_VIDEO_INFO_HEIGHT(&info);
  for (guint p = 0; p < GST_VIDEO_FRAME_N_PLANES(&vf) && p < 3; ++p) {
    src.planes[p] = static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, p));
    src.strides[p] = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
  }
  src.matrix = info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709 ? YuvMatrix::BT709 : YuvMatrix::BT601;
  src.fullRange = info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;

  FrameReady ready;
  ready.slot = slot;
  ready.generation = generation;
  ready.sequence = sequence_++;
  ready.ptsNs = GST_BUFFER_PTS_IS_VALID(buffer) ? static_cast<int64_t>(GST_BUFFER_PTS(buffer)) : -1;
  ready.wallClockNs = arrivalNs;
  ready.sourceWidth = src.width;
  ready.sourceHeight = src.height;
  Preprocessor& pre = cropped ? *cropPreprocessor_ : preprocessor_;
  ready.letterbox = pre.Run(src, crop, pool_->Data(slot));
  ready.tensorWidth = pre.spec().width;
  ready.tensorHeight = pre.spec().height;
  ready.tensorBytes = TensorBytes(pre.spec());
  ready.crop = crop;
  ready.cropped = cropped;
  ready.regionShare = gated ? m.regionShare : -1;
  ready.regionCount = gated ? static_cast<int>(m.regions.size()) : 0;
  sinceFull_ = cropped ? sinceFull_ + 1 : 0;
  // Before delivery: JS may ask for the source frame as soon as it sees the event.
  pool_->SetSample(slot, generation, sample);
  ready.motion = hasMotion;
  ready.changedFraction = changedFraction;
  stats_.width.store(src.width, std::memory_order_relaxed);
  stats_.height.store(src.height, std::memory_order_relaxed);

  if (deliver_(ready)) {
    stats_.framesDelivered.fetch_add(1, std::memory_order_relaxed);
    if (cropped) stats_.framesCropped.fetch_add(1, std::memory_order_relaxed);
  } else {
    pool_->Release(slot, generation);
    stats_.droppedDelivery.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace vigil
