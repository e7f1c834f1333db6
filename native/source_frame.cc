#include "source_frame.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common.h"
#include "jpeg_decode.h"
#include "snapshot.h"
#include "video_frame.h"

namespace vigil {

TensorSpec ParseTensorSpec(const Napi::Object& t);  // pipeline.cc

namespace {

// Process-wide, shared by every env (worker threads included): the budget bounds the process's memory.
std::atomic<int64_t> gFrames{0};
std::atomic<int64_t> gBytes{0};
std::atomic<int64_t> gRefused{0};
std::atomic<int64_t> gStale{0};
std::atomic<int64_t> gBudget{256LL << 20};

constexpr double kDefaultMaxPixels = 16e6;

// Spare pixel buffers kept for reuse. A fresh multi-megabyte allocation is a new mapping whose every page faults
// on first write: measured here, that made a 720p copy 4x slower (0.8 ms instead of 0.2 ms). Frames of one camera
// are all the same size, so a buffer freed by one capture is exactly what the next one needs. Bounded in count
// and bytes; the oldest spare goes first.
class BufferCache {
 public:
  static constexpr size_t kMaxBytes = 32u << 20;
  static constexpr size_t kMaxCount = 8;

  uint8_t* Take(size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = spare_.rbegin(); it != spare_.rend(); ++it) {
      if (it->size != size) continue;
      uint8_t* p = it->data;
      spare_.erase(std::next(it).base());
      bytes_ -= size;
      return p;
    }
    return nullptr;
  }

  void Give(uint8_t* p, size_t size) {
    if (!p) return;
    std::vector<uint8_t*> evicted;  // freed outside the lock: unmapping a large block is a syscall
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (size > kMaxBytes) {
        evicted.push_back(p);
      } else {
        spare_.push_back(Spare{p, size});
        bytes_ += size;
        while (bytes_ > kMaxBytes || spare_.size() > kMaxCount) {
          evicted.push_back(spare_.front().data);
          bytes_ -= spare_.front().size;
          spare_.pop_front();
        }
      }
    }
    for (uint8_t* e : evicted) std::free(e);
  }

  size_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

  size_t Count(size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<size_t>(std::count_if(spare_.begin(), spare_.end(), [&](const Spare& s) { return s.size == size; }));
  }

 private:
  struct Spare {
    uint8_t* data;
    size_t size;
  };
  std::mutex mu_;
  std::deque<Spare> spare_;
  size_t bytes_ = 0;
};

// Never destroyed: frames freed during process teardown (finalizers, env cleanup) may still hand buffers back.
BufferCache& Cache() {
  static BufferCache* cache = new BufferCache();
  return *cache;
}

// Keeps a couple of spare buffers of the size live captures use ready, allocated and touched on its own thread, so
// a growing number of kept frames (new tracks) does not put page faults on the JS thread either. One thread for
// the process, started on first use; requests are bounded and deduplicated.
class SpareFiller {
 public:
  static constexpr size_t kTarget = 2;

  void Request(size_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    if (want_.size() >= 4 || std::find(want_.begin(), want_.end(), size) != want_.end()) return;
    want_.push_back(size);
    if (!started_) {
      started_ = true;
      std::thread([this] { Run(); }).detach();
    }
    cv_.notify_one();
  }

 private:
  void Run() {
    for (;;) {
      size_t size;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !want_.empty(); });
        size = want_.front();
        want_.pop_front();
      }
      while (Cache().Count(size) < kTarget) {
        auto* p = static_cast<uint8_t*>(std::aligned_alloc(64, size));
        if (!p) break;
        std::memset(p, 0, size);  // the page faults happen here, not on the JS thread
        Cache().Give(p, size);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<size_t> want_;
  bool started_ = false;
};

SpareFiller& Filler() {
  static SpareFiller* filler = new SpareFiller();
  return *filler;
}

size_t AllocationSize(size_t n) { return std::max<size_t>(64, (n + 63) / 64 * 64); }

int PackedBytesPerPixel(PixelFormat f) {
  switch (f) {
    case PixelFormat::RGB:
    case PixelFormat::BGR: return 3;
    case PixelFormat::RGBA:
    case PixelFormat::BGRA:
    case PixelFormat::RGBx:
    case PixelFormat::BGRx: return 4;
    default: return 0;
  }
}

bool IsYuvFormat(PixelFormat f) { return f == PixelFormat::I420 || f == PixelFormat::NV12; }

// Rows of plane p of a tight frame.
int PlaneRows(PixelFormat f, int p, int height) { return p == 0 || !IsYuvFormat(f) ? height : (height + 1) / 2; }

std::string ColorimetryString(YuvMatrix matrix, bool fullRange) {
  GstVideoColorimetry c{};
  c.range = fullRange ? GST_VIDEO_COLOR_RANGE_0_255 : GST_VIDEO_COLOR_RANGE_16_235;
  c.matrix = matrix == YuvMatrix::BT709 ? GST_VIDEO_COLOR_MATRIX_BT709 : GST_VIDEO_COLOR_MATRIX_BT601;
  c.transfer = matrix == YuvMatrix::BT709 ? GST_VIDEO_TRANSFER_BT709 : GST_VIDEO_TRANSFER_BT601;
  c.primaries = matrix == YuvMatrix::BT709 ? GST_VIDEO_COLOR_PRIMARIES_BT709 : GST_VIDEO_COLOR_PRIMARIES_SMPTE170M;
  GCharPtr s(gst_video_colorimetry_to_string(&c));
  return s ? s.get() : "";
}

// Copies rows of `rowBytes` from a strided plane into a tight one: a single memcpy when the source is tight too.
void CopyPlane(uint8_t* dst, size_t rowBytes, const uint8_t* src, size_t srcStride, int rows) {
  if (srcStride == rowBytes) {
    std::memcpy(dst, src, rowBytes * rows);
    return;
  }
  for (int y = 0; y < rows; ++y) std::memcpy(dst + rowBytes * y, src + srcStride * y, rowBytes);
}

// The decoded sample's planes into a new frame (no N-API: callable from any thread). Null with `why` set when the
// budget refuses it or memory runs out; null with why = Ok when the sample is not a frame this code reads.
SourceFramePtr CopySample(GstSample* sample, bool enforceBudget, SourceAlloc* why) {
  *why = SourceAlloc::Ok;
  GstCaps* caps = gst_sample_get_caps(sample);
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstVideoInfo info;
  PixelFormat format;
  if (!caps || !buffer || !gst_video_info_from_caps(&info, caps) || !PixelFormatFromGst(GST_VIDEO_INFO_FORMAT(&info), &format))
    return nullptr;
  VideoFrameMap map(&info, buffer);
  if (!map.ok()) return nullptr;
  SourceFramePtr d = AllocSourceFrame(format, GST_VIDEO_INFO_WIDTH(&info), GST_VIDEO_INFO_HEIGHT(&info), enforceBudget, why);
  if (!d) return nullptr;
  const GstVideoFrame& vf = map.frame();
  for (int p = 0; p < d->planeCount; ++p)
    CopyPlane(d->bytes + d->offsets[p], static_cast<size_t>(d->strides[p]),
              static_cast<const uint8_t*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, p)),
              static_cast<size_t>(GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p)), PlaneRows(format, p, d->height));
  if (IsYuvFormat(format)) {
    d->matrix = info.colorimetry.matrix == GST_VIDEO_COLOR_MATRIX_BT709 ? YuvMatrix::BT709 : YuvMatrix::BT601;
    d->fullRange = info.colorimetry.range == GST_VIDEO_COLOR_RANGE_0_255;
    GCharPtr c(gst_video_colorimetry_to_string(&info.colorimetry));
    d->colorimetry = c ? c.get() : ColorimetryString(d->matrix, d->fullRange);
  }
  return d;
}

Napi::Error ClosedError(Napi::Env env, const char* method) {
  return MakeError(env, "E_CLOSED", std::string("SourceFrame is closed: ") + method + "() called after close()");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------------
// SourceFrameData

SourceFrameData::~SourceFrameData() {
  Cache().Give(bytes, AllocationSize(byteLength));
  gBytes.fetch_sub(static_cast<int64_t>(byteLength), std::memory_order_relaxed);
  gFrames.fetch_sub(1, std::memory_order_relaxed);
}

SourceImage SourceFrameData::Image() const {
  SourceImage s;
  s.format = format;
  s.width = width;
  s.height = height;
  for (int p = 0; p < planeCount; ++p) {
    s.planes[p] = bytes + offsets[p];
    s.strides[p] = strides[p];
  }
  s.matrix = matrix;
  s.fullRange = fullRange;
  return s;
}

size_t TightLayout(PixelFormat format, int width, int height, size_t offsets[3], int strides[3], int* planeCount) {
  const int bpp = PackedBytesPerPixel(format);
  if (bpp) {
    strides[0] = width * bpp;
    offsets[0] = 0;
    *planeCount = 1;
    return static_cast<size_t>(strides[0]) * height;
  }
  const int cw = (width + 1) / 2, ch = (height + 1) / 2;
  const size_t luma = static_cast<size_t>(width) * height;
  strides[0] = width;
  offsets[0] = 0;
  offsets[1] = luma;
  if (format == PixelFormat::I420) {
    strides[1] = strides[2] = cw;
    offsets[2] = luma + static_cast<size_t>(cw) * ch;
    *planeCount = 3;
    return luma + 2 * static_cast<size_t>(cw) * ch;
  }
  if (format == PixelFormat::NV12) {
    strides[1] = cw * 2;
    *planeCount = 2;
    return luma + static_cast<size_t>(cw) * 2 * ch;
  }
  return 0;
}

bool PixelFormatFromName(const std::string& name, PixelFormat* out) {
  static const struct { const char* name; PixelFormat f; } kNames[] = {
      {"I420", PixelFormat::I420}, {"NV12", PixelFormat::NV12}, {"RGB", PixelFormat::RGB},   {"BGR", PixelFormat::BGR},
      {"RGBA", PixelFormat::RGBA}, {"BGRA", PixelFormat::BGRA}, {"RGBx", PixelFormat::RGBx}, {"BGRx", PixelFormat::BGRx}};
  for (const auto& n : kNames)
    if (name == n.name) {
      *out = n.f;
      return true;
    }
  return false;
}

const char* PixelFormatName(PixelFormat f) {
  switch (f) {
    case PixelFormat::I420: return "I420";
    case PixelFormat::NV12: return "NV12";
    case PixelFormat::RGB: return "RGB";
    case PixelFormat::BGR: return "BGR";
    case PixelFormat::RGBA: return "RGBA";
    case PixelFormat::BGRA: return "BGRA";
    case PixelFormat::RGBx: return "RGBx";
    case PixelFormat::BGRx: return "BGRx";
  }
  return "";
}

SourceFramePtr AllocSourceFrame(PixelFormat format, int width, int height, bool enforceBudget, SourceAlloc* why) {
  size_t offsets[3] = {0, 0, 0};
  int strides[3] = {0, 0, 0};
  int planes = 1;
  const size_t n = TightLayout(format, width, height, offsets, strides, &planes);
  const int64_t size = static_cast<int64_t>(n);
  if (enforceBudget) {
    int64_t cur = gBytes.load(std::memory_order_relaxed);
    do {
      if (cur + size > gBudget.load(std::memory_order_relaxed)) {
        gRefused.fetch_add(1, std::memory_order_relaxed);
        *why = SourceAlloc::OverBudget;
        return nullptr;
      }
    } while (!gBytes.compare_exchange_weak(cur, cur + size, std::memory_order_relaxed));
  } else {
    gBytes.fetch_add(size, std::memory_order_relaxed);
  }
  gFrames.fetch_add(1, std::memory_order_relaxed);
  // From here the destructor takes the bytes and the frame off the count, whatever happens next.
  auto d = std::make_shared<SourceFrameData>();
  d->byteLength = n;
  d->format = format;
  d->formatName = PixelFormatName(format);
  d->width = width;
  d->height = height;
  d->planeCount = planes;
  std::copy(offsets, offsets + 3, d->offsets);
  std::copy(strides, strides + 3, d->strides);
  const size_t allocation = AllocationSize(n);
  d->bytes = Cache().Take(allocation);
  if (!d->bytes) d->bytes = static_cast<uint8_t*>(std::aligned_alloc(64, allocation));
  // Live captures: have the next buffers of this size ready (bounded by the cache's own limits).
  if (enforceBudget && allocation <= BufferCache::kMaxBytes / SpareFiller::kTarget && Cache().Count(allocation) < SpareFiller::kTarget)
    Filler().Request(allocation);
  if (!d->bytes) {
    *why = SourceAlloc::NoMemory;
    return nullptr;
  }
  *why = SourceAlloc::Ok;
  return d;
}

void CountStaleCapture() { gStale.fetch_add(1, std::memory_order_relaxed); }

// ---------------------------------------------------------------------------------------------------------------
// SourceFrame (JS object)

namespace {

struct SourceFrameClass {
  Napi::FunctionReference constructor;
};

// Hands the data to the constructor: the class has no public constructor, only native code makes instances.
thread_local SourceFramePtr* tPending = nullptr;

class SourceFrame : public Napi::ObjectWrap<SourceFrame> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "SourceFrame",
                       {InstanceAccessor("format", &SourceFrame::Format, nullptr),
                        InstanceAccessor("width", &SourceFrame::Width, nullptr),
                        InstanceAccessor("height", &SourceFrame::Height, nullptr),
                        InstanceAccessor("byteLength", &SourceFrame::ByteLength, nullptr),
                        InstanceAccessor("closed", &SourceFrame::Closed, nullptr),
                        InstanceMethod("encodeJpeg", &SourceFrame::EncodeJpegJs),
                        InstanceMethod("cropTensor", &SourceFrame::CropTensor),
                        InstanceMethod("close", &SourceFrame::CloseJs)});
  }

  static Napi::Object New(Napi::Env env, SourceFramePtr data) {
    SourceFrameClass* cls = env.GetInstanceData<SourceFrameClass>();
    tPending = &data;
    Napi::Object o;
    try {
      o = cls->constructor.New({});
    } catch (...) {
      tPending = nullptr;
      throw;
    }
    tPending = nullptr;
    return o;
  }

  explicit SourceFrame(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SourceFrame>(info) {
    if (!tPending)
      throw MakeError(info.Env(), "E_ARGUMENT",
                      "SourceFrame has no public constructor: use Pipeline.captureSource(), sourceFrameFromPixels() or "
                      "decodeJpeg()");
    data_ = std::move(*tPending);
    tPending = nullptr;
    format_ = data_->formatName;
    width_ = data_->width;
    height_ = data_->height;
    byteLength_ = data_->byteLength;
    env_ = info.Env();
    Napi::MemoryManagement::AdjustExternalMemory(env_, static_cast<int64_t>(byteLength_));
  }

  ~SourceFrame() override { Close(); }

 private:
  // The one close path (close(), the finalizer): the bytes go when no worker holds them any more.
  void Close() {
    if (!data_) return;
    data_.reset();
    Napi::MemoryManagement::AdjustExternalMemory(env_, -static_cast<int64_t>(byteLength_));
  }

  Napi::Value Format(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), format_); }
  Napi::Value Width(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), width_); }
  Napi::Value Height(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), height_); }
  Napi::Value ByteLength(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(byteLength_)); }
  Napi::Value Closed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !data_); }

  Napi::Value CloseJs(const Napi::CallbackInfo& info) {
    Close();
    return info.Env().Undefined();
  }

  Napi::Value EncodeJpegJs(const Napi::CallbackInfo& info);
  Napi::Value CropTensor(const Napi::CallbackInfo& info);

  SourceFramePtr data_;
  std::string format_;
  int width_ = 0;
  int height_ = 0;
  size_t byteLength_ = 0;
  napi_env env_ = nullptr;
};

class EncodeWorker : public Napi::AsyncWorker {
 public:
  EncodeWorker(Napi::Env env, SourceFramePtr frame, SnapshotRequest req)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), frame_(std::move(frame)), req_(std::move(req)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    if (!EncodeJpeg(frame_->bytes, req_, jpeg_, error_)) SetError(error_);
  }
  void OnOK() override {
    frame_.reset();  // before the promise settles, so the stats a continuation reads are current
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(Env(), jpeg_.data(), jpeg_.size()));
  }
  void OnError(const Napi::Error& e) override {
    frame_.reset();
    deferred_.Reject(MakeError(Env(), "E_SNAPSHOT", "JPEG encoding failed: " + e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  SourceFramePtr frame_;
  SnapshotRequest req_;
  std::vector<uint8_t> jpeg_;
  std::string error_;
};

class CropWorker : public Napi::AsyncWorker {
 public:
  CropWorker(Napi::Env env, SourceFramePtr frame, Region region, const TensorSpec& spec)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), frame_(std::move(frame)), region_(region), spec_(spec) {
    // Allocated here (JS thread), written on the worker: a V8 backing store does not move while referenced.
    Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, TensorBytes(spec));
    out_ = Napi::Persistent(out);
    data_ = out.Data();
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    Preprocessor pre(spec_);
    pre.Run(frame_->Image(), region_, data_);
  }
  void OnOK() override {
    frame_.reset();
    Napi::Value v = out_.Value();
    out_.Reset();
    deferred_.Resolve(v);
  }
  void OnError(const Napi::Error& e) override {
    frame_.reset();
    out_.Reset();
    deferred_.Reject(MakeError(Env(), "E_SNAPSHOT", e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  SourceFramePtr frame_;
  Region region_;
  TensorSpec spec_;
  Napi::Reference<Napi::ArrayBuffer> out_;
  void* data_ = nullptr;
};

// { x, y, width, height } in whole source pixels, inside a frame of width x height.
Region ParseRegion(const Napi::Value& v, const std::string& name, int width, int height) {
  Napi::Object o = ExpectObject(v, name);
  Region r;
  r.x = ExpectInt(o.Get("x"), name + ".x", 0, width - 1);
  r.y = ExpectInt(o.Get("y"), name + ".y", 0, height - 1);
  r.width = ExpectInt(o.Get("width"), name + ".width", 1, width - r.x);
  r.height = ExpectInt(o.Get("height"), name + ".height", 1, height - r.y);
  return r;
}

// encodeJpeg({ quality?, crop?: { x, y, width, height }, size?: { width, height } }) -> Promise<Buffer>. YUV crops: x
// and y rounded down to even pixels, width and height down to even (at least 2, within the frame), as the module
// encodeJpeg does. `size`: the JPEG's size, at most the crop's (after that rounding): the picture is scaled down.
Napi::Value SourceFrame::EncodeJpegJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!data_) throw ClosedError(env, "encodeJpeg");
  SnapshotRequest r;
  r.format = data_->formatName;
  r.width = data_->width;
  r.height = data_->height;
  r.stride = data_->strides[0];
  r.colorimetry = data_->colorimetry;
  r.cropW = r.width;
  r.cropH = r.height;
  if (!info[0].IsUndefined()) {
    Napi::Object o = ExpectObject(info[0], "options");
    if (!o.Get("quality").IsUndefined()) r.quality = ExpectInt(o.Get("quality"), "options.quality", 1, 100);
    Napi::Value crop = o.Get("crop");
    if (!crop.IsUndefined()) {
      Region c = ParseRegion(crop, "options.crop", r.width, r.height);
      r.cropX = c.x;
      r.cropY = c.y;
      r.cropW = c.width;
      r.cropH = c.height;
      if (IsYuvFormat(data_->format)) {
        r.cropX &= ~1;
        r.cropY &= ~1;
        r.cropW = std::min(std::max(2, r.cropW & ~1), r.width - r.cropX);
        r.cropH = std::min(std::max(2, r.cropH & ~1), r.height - r.cropY);
      }
    }
    Napi::Value size = o.Get("size");
    if (!size.IsUndefined()) {
      Napi::Object sz = ExpectObject(size, "options.size");
      // Never larger than the crop: the caller computed the size from the crop it asked for, and upscaling would
      // only spend disk on pixels that are not there.
      r.outW = std::min(ExpectInt(sz.Get("width"), "options.size.width", 1, 16384), r.cropW);
      r.outH = std::min(ExpectInt(sz.Get("height"), "options.size.height", 1, 16384), r.cropH);
    }
  }
  auto* w = new EncodeWorker(env, data_, std::move(r));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// cropTensor({ x, y, width, height }, tensorSpec) -> Promise<ArrayBuffer>: the region letterboxed into a tensor.
Napi::Value SourceFrame::CropTensor(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!data_) throw ClosedError(env, "cropTensor");
  Region region = ParseRegion(info[0], "box", data_->width, data_->height);
  TensorSpec spec = ParseTensorSpec(ExpectObject(info[1], "tensor"));
  auto* w = new CropWorker(env, data_, region, spec);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// Decodes with libjpeg-turbo on the libuv worker (native/jpeg_decode.cc): bounded in time and scans, and nothing
// outlives the decode, so a hostile JPEG can neither hold the worker nor leave a thread behind.
class DecodeWorker : public Napi::AsyncWorker {
 public:
  DecodeWorker(Napi::Env env, const uint8_t* jpeg, size_t size, double maxPixels)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), input_(jpeg, jpeg + size) {
    limits_.maxPixels = maxPixels;
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    frame_ = DecodeJpegImage(input_.data(), input_.size(), limits_, &error_);
    input_.clear();
    input_.shrink_to_fit();
    if (!frame_) SetError(error_);
  }
  void OnOK() override { deferred_.Resolve(SourceFrame::New(Env(), std::move(frame_))); }
  void OnError(const Napi::Error& e) override {
    frame_.reset();
    deferred_.Reject(MakeError(Env(), "E_SNAPSHOT_DECODE", e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<uint8_t> input_;
  JpegLimits limits_;
  SourceFramePtr frame_;
  std::string error_;
};

// sourceFrameFromPixels(pixels, { format, width, height, stride?, matrix?, fullRange? }) -> SourceFrame (a copy).
// stride: bytes per row of the first plane (default tight); I420 / NV12 chroma rows follow the luma plane with a
// stride of ceil(stride / 2) (I420: U plane then V plane) or 2 * ceil(stride / 2) (NV12), ceil(height / 2) rows.
Napi::Value FromPixels(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowExpected(env, "a Uint8Array", "pixels", info[0]);
  Napi::Uint8Array px = info[0].As<Napi::Uint8Array>();
  Napi::Object img = ExpectObject(info[1], "image");
  PixelFormat format;
  std::string name = ExpectString(img.Get("format"), "image.format");
  if (!PixelFormatFromName(name, &format))
    ThrowExpected(env, "one of \"I420\", \"NV12\", \"RGB\", \"BGR\", \"RGBA\", \"BGRA\", \"RGBx\", \"BGRx\"", "image.format", img.Get("format"));
  const int width = ExpectInt(img.Get("width"), "image.width", 1, 16384);
  const int height = ExpectInt(img.Get("height"), "image.height", 1, 16384);
  const int bpp = PackedBytesPerPixel(format);
  const int tight = bpp ? width * bpp : width;
  const int stride = img.Get("stride").IsUndefined() ? tight : ExpectInt(img.Get("stride"), "image.stride", tight, 1 << 20);
  const int ch = (height + 1) / 2;
  const size_t cstride = format == PixelFormat::I420 ? (stride + 1) / 2 : format == PixelFormat::NV12 ? ((stride + 1) / 2) * 2 : 0;
  const size_t need = bpp ? static_cast<size_t>(stride) * (height - 1) + tight
                          : static_cast<size_t>(stride) * height + cstride * ch * (format == PixelFormat::I420 ? 2 : 1);
  if (px.ByteLength() < need)
    throw Napi::RangeError::New(env, "Expected at least " + std::to_string(need) + " bytes for pixels but received " +
                                         std::to_string(px.ByteLength()));
  YuvMatrix matrix = YuvMatrix::BT601;
  bool fullRange = false;
  if (!bpp) {
    Napi::Value m = img.Get("matrix");
    if (!m.IsUndefined()) {
      std::string s = ExpectString(m, "image.matrix");
      if (s != "bt601" && s != "bt709") ThrowExpected(env, "\"bt601\" or \"bt709\"", "image.matrix", m);
      matrix = s == "bt709" ? YuvMatrix::BT709 : YuvMatrix::BT601;
    }
    Napi::Value full = img.Get("fullRange");
    if (!full.IsUndefined()) fullRange = ExpectBool(full, "image.fullRange");
  }
  SourceAlloc why;
  SourceFramePtr d = AllocSourceFrame(format, width, height, false, &why);
  if (!d) throw MakeError(env, "E_NO_MEMORY", "Out of memory for a " + std::to_string(width) + "x" + std::to_string(height) + " source frame");
  const uint8_t* base = px.Data();
  CopyPlane(d->bytes, d->strides[0], base, stride, height);
  if (!bpp) {
    const uint8_t* c0 = base + static_cast<size_t>(stride) * height;
    CopyPlane(d->bytes + d->offsets[1], d->strides[1], c0, cstride, ch);
    if (format == PixelFormat::I420) CopyPlane(d->bytes + d->offsets[2], d->strides[2], c0 + cstride * ch, cstride, ch);
    d->matrix = matrix;
    d->fullRange = fullRange;
    d->colorimetry = ColorimetryString(matrix, fullRange);
  }
  return SourceFrame::New(env, std::move(d));
}

// decodeJpeg(jpeg, { maxPixels? }) -> Promise<SourceFrame>. The bytes are copied: the caller may reuse its buffer.
Napi::Value DecodeJpegJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowExpected(env, "a Uint8Array", "jpeg", info[0]);
  Napi::Uint8Array jpeg = info[0].As<Napi::Uint8Array>();
  double maxPixels = kDefaultMaxPixels;
  if (!info[1].IsUndefined()) {
    Napi::Object o = ExpectObject(info[1], "options");
    Napi::Value m = o.Get("maxPixels");
    if (!m.IsUndefined()) {
      double v = m.IsNumber() ? m.As<Napi::Number>().DoubleValue() : NAN;
      if (!(std::isfinite(v) && v >= 1 && std::floor(v) == v)) ThrowExpected(env, "a positive integer", "options.maxPixels", m);
      maxPixels = v;
    }
  }
  auto* w = new DecodeWorker(env, jpeg.Data(), jpeg.ByteLength(), maxPixels);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("frames", Napi::Number::New(env, static_cast<double>(gFrames.load())));
  o.Set("bytes", Napi::Number::New(env, static_cast<double>(gBytes.load())));
  o.Set("budgetBytes", Napi::Number::New(env, static_cast<double>(gBudget.load())));
  o.Set("refused", Napi::Number::New(env, static_cast<double>(gRefused.load())));
  o.Set("stale", Napi::Number::New(env, static_cast<double>(gStale.load())));
  o.Set("cachedBytes", Napi::Number::New(env, static_cast<double>(Cache().bytes())));
  return o;
}

Napi::Value SetBudget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = info[0];
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(d) && d >= 0 && std::floor(d) == d && d <= 9007199254740991.0))
    ThrowExpected(env, "a non-negative integer", "bytes", v);
  gBudget.store(static_cast<int64_t>(d));
  return env.Undefined();
}

}  // namespace

Napi::Value CaptureSample(Napi::Env env, GstSample* sample) {
  SourceAlloc why;
  SourceFramePtr d = CopySample(sample, true, &why);
  if (!d) {
    if (why == SourceAlloc::Ok) CountStaleCapture();  // not a readable frame: nothing to keep
    else if (why == SourceAlloc::NoMemory) gRefused.fetch_add(1, std::memory_order_relaxed);
    return env.Null();
  }
  return SourceFrame::New(env, std::move(d));
}

void InitSourceFrame(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = SourceFrame::Init(env);
  auto* cls = new SourceFrameClass();
  cls->constructor = Napi::Persistent(ctor);
  // The addon's one instance-data slot (napi has a single slot per env and addon).
  env.SetInstanceData<SourceFrameClass>(cls);
  exports.Set("SourceFrame", ctor);
  exports.Set("sourceFrameFromPixels", Napi::Function::New(env, FromPixels, "sourceFrameFromPixels"));
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpegJs, "decodeJpeg"));
  exports.Set("sourceFrameStats", Napi::Function::New(env, Stats, "sourceFrameStats"));
  exports.Set("setSourceFrameBudget", Napi::Function::New(env, SetBudget, "setSourceFrameBudget"));
}

}  // namespace vigil
