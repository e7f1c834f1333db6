#include "snapshot.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "common.h"

namespace vigil {

namespace {

int PackedBpp(const std::string& f) {
  if (f == "RGB" || f == "BGR") return 3;
  if (f == "RGBA" || f == "BGRA" || f == "RGBx" || f == "BGRx") return 4;
  if (f == "GRAY8") return 1;
  return 0;  // planar YUV
}

// Copies the crop of the source (tightly described by req) into a buffer laid out as GStreamer expects.
GstBuffer* MakeBuffer(const uint8_t* src, const SnapshotRequest& r, const GstVideoInfo& info) {
  GstBuffer* buf = gst_buffer_new_allocate(nullptr, GST_VIDEO_INFO_SIZE(&info), nullptr);
  GstMapInfo map;
  if (!gst_buffer_map(buf, &map, GST_MAP_WRITE)) {
    gst_buffer_unref(buf);
    return nullptr;
  }
  uint8_t* dst = map.data;
  const int bpp = PackedBpp(r.format);
  if (bpp) {
    for (int y = 0; y < r.cropH; ++y)
      std::memcpy(dst + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0) + static_cast<size_t>(y) * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0),
                  src + static_cast<size_t>(r.cropY + y) * r.stride + static_cast<size_t>(r.cropX) * bpp,
                  static_cast<size_t>(r.cropW) * bpp);
  } else {
    // Luma plane, then chroma: I420 has U and V planes at half size (stride/2); NV12 one interleaved UV plane.
    const uint8_t* yPlane = src;
    const int cw = (r.width + 1) / 2, ch = (r.height + 1) / 2;
    const int cStride = r.format == "I420" ? (r.stride + 1) / 2 : ((r.stride + 1) / 2) * 2;
    const uint8_t* c0 = src + static_cast<size_t>(r.stride) * r.height;
    for (int y = 0; y < r.cropH; ++y)
      std::memcpy(dst + GST_VIDEO_INFO_PLANE_OFFSET(&info, 0) + static_cast<size_t>(y) * GST_VIDEO_INFO_PLANE_STRIDE(&info, 0),
                  yPlane + static_cast<size_t>(r.cropY + y) * r.stride + r.cropX, static_cast<size_t>(r.cropW));
    // The crop starts on an even pixel; an odd size ends halfway through its last chroma sample, which is kept.
    const int ccw = (r.cropW + 1) / 2, cch = (r.cropH + 1) / 2, cx = r.cropX / 2, cy = r.cropY / 2;
    if (r.format == "I420") {
      const uint8_t* c1 = c0 + static_cast<size_t>(cStride) * ch;
      for (int p = 1; p <= 2; ++p) {
        const uint8_t* plane = p == 1 ? c0 : c1;
        for (int y = 0; y < cch; ++y)
          std::memcpy(dst + GST_VIDEO_INFO_PLANE_OFFSET(&info, p) + static_cast<size_t>(y) * GST_VIDEO_INFO_PLANE_STRIDE(&info, p),
                      plane + static_cast<size_t>(cy + y) * cStride + cx, static_cast<size_t>(ccw));
      }
    } else {
      for (int y = 0; y < cch; ++y)
        std::memcpy(dst + GST_VIDEO_INFO_PLANE_OFFSET(&info, 1) + static_cast<size_t>(y) * GST_VIDEO_INFO_PLANE_STRIDE(&info, 1),
                    c0 + static_cast<size_t>(cy + y) * cStride + static_cast<size_t>(cx) * 2, static_cast<size_t>(ccw) * 2);
    }
    (void)cw;
  }
  gst_buffer_unmap(buf, &map);
  return buf;
}

}  // namespace

bool EncodeJpeg(const uint8_t* pixels, const SnapshotRequest& r, std::vector<uint8_t>& jpeg, std::string& error) {
  GstVideoFormat vf = gst_video_format_from_string(r.format.c_str());
  GstVideoInfo info;
  gst_video_info_init(&info);
  if (vf == GST_VIDEO_FORMAT_UNKNOWN || !gst_video_info_set_format(&info, vf, r.cropW, r.cropH)) {
    error = "unsupported format " + r.format;
    return false;
  }
  GError* rawErr = nullptr;
  // jpegenc writes YUV planes as they are, but JPEG's YCbCr is full range: limited-range camera YUV would come out
  // washed out. Everything but GRAY8 goes through RGB, which libjpeg converts to JPEG's YCbCr itself.
  const bool scale = r.outW > 0 && r.outH > 0 && (r.outW != r.cropW || r.outH != r.cropH);
  // Scaling before conversion touches the smaller YUV planes; pixel-aspect-ratio=1/1 stops videoscale from
  // "correcting" a rounded size by changing the aspect instead.
  const std::string scaler = scale ? "videoscale method=bilinear2 ! video/x-raw,width=" + std::to_string(r.outW) +
                                         ",height=" + std::to_string(r.outH) + ",pixel-aspect-ratio=1/1 ! "
                                   : std::string();
  const std::string launch = std::string("appsrc name=src format=time ! ") + scaler + "videoconvert ! video/x-raw,format=" +
                             (r.format == "GRAY8" ? "GRAY8" : "RGB") +
                             " ! jpegenc name=enc ! appsink name=sink sync=false";
  ElementPtr pipeline(gst_parse_launch(launch.c_str(), &rawErr));
  ErrorPtr perr(rawErr);
  if (!pipeline) {
    error = std::string("could not build the encoder: ") + (perr ? perr->message : "unknown");
    return false;
  }
  ElementPtr src(gst_bin_get_by_name(GST_BIN(pipeline.get()), "src"));
  ElementPtr enc(gst_bin_get_by_name(GST_BIN(pipeline.get()), "enc"));
  ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink"));
  std::unique_ptr<GstCaps, GstCapsUnref> caps(gst_video_info_to_caps(&info));
  gst_caps_set_simple(caps.get(), "framerate", GST_TYPE_FRACTION, 0, 1, "pixel-aspect-ratio", GST_TYPE_FRACTION, 1, 1, nullptr);
  if (!r.colorimetry.empty() && GST_VIDEO_INFO_IS_YUV(&info))
    gst_caps_set_simple(caps.get(), "colorimetry", G_TYPE_STRING, r.colorimetry.c_str(), nullptr);
  g_object_set(src.get(), "caps", caps.get(), nullptr);
  g_object_set(enc.get(), "quality", r.quality, nullptr);
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    error = "the encoder pipeline did not start";
    return false;
  }
  GstBuffer* buf = MakeBuffer(pixels, r, info);
  bool ok = false;
  if (buf) {
    GST_BUFFER_PTS(buf) = 0;
    gst_app_src_push_buffer(GST_APP_SRC(src.get()), buf);  // takes ownership
    gst_app_src_end_of_stream(GST_APP_SRC(src.get()));
    SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), 10 * GST_SECOND));
    if (sample) {
      BufferMap m(gst_sample_get_buffer(sample.get()), GST_MAP_READ);
      if (m.ok()) {
        jpeg.assign(m.data(), m.data() + m.size());
        ok = true;
      }
    }
    if (!ok) {
      BusPtr bus(gst_element_get_bus(pipeline.get()));
      GstMessage* msg = gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR);
      if (msg) {
        GError* e = nullptr;
        gst_message_parse_error(msg, &e, nullptr);
        ErrorPtr ep(e);
        error = std::string("encoding failed: ") + (ep ? ep->message : "unknown");
        gst_message_unref(msg);
      } else {
        error = "encoding produced no output";
      }
    }
  } else {
    error = "could not allocate a buffer";
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  return ok;
}

namespace {

class JpegWorker : public Napi::AsyncWorker {
 public:
  JpegWorker(Napi::Env env, Napi::Uint8Array pixels, SnapshotRequest req)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), req_(std::move(req)) {
    pixelsRef_ = Napi::Persistent(pixels);
    data_ = pixels.Data();
  }
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    if (!EncodeJpeg(data_, req_, jpeg_, error_)) SetError(error_);
  }
  void OnOK() override {
    Napi::Env env = Env();
    pixelsRef_.Reset();
    deferred_.Resolve(Napi::Buffer<uint8_t>::Copy(env, jpeg_.data(), jpeg_.size()));
  }
  void OnError(const Napi::Error& e) override {
    Napi::Env env = Env();
    pixelsRef_.Reset();
    deferred_.Reject(MakeError(env, "E_SNAPSHOT", e.Message()).Value());
  }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> pixelsRef_;
  const uint8_t* data_ = nullptr;
  SnapshotRequest req_;
  std::vector<uint8_t> jpeg_;
  std::string error_;
};

// encodeJpeg(pixels, { format, width, height, stride? }, { quality?, crop?: { x, y, width, height } })
Napi::Value EncodeJpegJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowExpected(env, "a Uint8Array", "pixels", info[0]);
  Napi::Uint8Array px = info[0].As<Napi::Uint8Array>();
  Napi::Object img = ExpectObject(info[1], "image");
  SnapshotRequest r;
  r.format = ExpectString(img.Get("format"), "image.format");
  static const char* kFormats[] = {"RGB", "BGR", "RGBA", "BGRA", "I420", "NV12", "GRAY8"};
  if (std::none_of(std::begin(kFormats), std::end(kFormats), [&](const char* f) { return r.format == f; }))
    ThrowExpected(env, "one of \"RGB\", \"BGR\", \"RGBA\", \"BGRA\", \"I420\", \"NV12\", \"GRAY8\"", "image.format", img.Get("format"));
  r.width = ExpectInt(img.Get("width"), "image.width", 1, 16384);
  r.height = ExpectInt(img.Get("height"), "image.height", 1, 16384);
  const int bpp = PackedBpp(r.format);
  const bool yuv = bpp == 0;
  const int tight = bpp ? r.width * bpp : r.width;
  r.stride = img.Get("stride").IsUndefined() ? tight : ExpectInt(img.Get("stride"), "image.stride", tight, 1 << 20);
  size_t need;
  if (yuv) {
    if (r.width % 2 || r.height % 2) ThrowExpected(env, "even dimensions for I420/NV12", "image.width", img.Get("width"));
    const size_t cs = r.format == "I420" ? (r.stride + 1) / 2 : ((r.stride + 1) / 2) * 2;
    need = static_cast<size_t>(r.stride) * r.height + cs * (r.height / 2) * (r.format == "I420" ? 2 : 1);
  } else {
    need = static_cast<size_t>(r.stride) * (r.height - 1) + tight;
  }
  if (px.ByteLength() < need)
    throw Napi::RangeError::New(env, "Expected at least " + std::to_string(need) + " bytes for pixels but received " +
                                         std::to_string(px.ByteLength()));
  r.cropW = r.width;
  r.cropH = r.height;
  if (!info[2].IsUndefined()) {
    Napi::Object o = ExpectObject(info[2], "options");
    if (!o.Get("quality").IsUndefined()) r.quality = ExpectInt(o.Get("quality"), "options.quality", 1, 100);
    Napi::Value crop = o.Get("crop");
    if (!crop.IsUndefined()) {
      Napi::Object c = ExpectObject(crop, "options.crop");
      r.cropX = ExpectInt(c.Get("x"), "options.crop.x", 0, r.width - 1);
      r.cropY = ExpectInt(c.Get("y"), "options.crop.y", 0, r.height - 1);
      r.cropW = ExpectInt(c.Get("width"), "options.crop.width", 1, r.width - r.cropX);
      r.cropH = ExpectInt(c.Get("height"), "options.crop.height", 1, r.height - r.cropY);
      if (yuv) {  // chroma is subsampled 2x2: align the crop to even pixels
        r.cropX &= ~1;
        r.cropY &= ~1;
        r.cropW = std::max(2, r.cropW & ~1);
        r.cropH = std::max(2, r.cropH & ~1);
      }
    }
  }
  auto* w = new JpegWorker(env, px, r);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace

void InitSnapshot(Napi::Env env, Napi::Object exports) {
  exports.Set("encodeJpeg", Napi::Function::New(env, EncodeJpegJs, "encodeJpeg"));
}

}  // namespace vigil
