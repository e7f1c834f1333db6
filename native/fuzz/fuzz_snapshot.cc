// Snapshot encoding (native/snapshot.cc EncodeJpeg): every source format, odd sizes and padded strides, crops at
// any origin and scaling, with the geometry rules of both callers: the module's encodeJpeg (even YUV sizes, any
// stride >= the row) and SourceFrame.encodeJpeg (tight strides, odd YUV sizes allowed). The source buffer is
// exactly the bytes the caller's check requires, so ASan catches a read past it.
//
// Every input: MakeBuffer, EncodeJpeg's own code that reads the caller's pixels (the crop copy into GStreamer's
// layout), with the property that each copied row and chroma row equals the source's, computed here independently.
// Every 512th input, and every input when FUZZ_SNAPSHOT_FULL=1: the whole EncodeJpeg (a GStreamer pipeline, tens of
// ms), with the property that the JPEG's header has the requested size; the count is printed at exit. The pipeline
// is GStreamer's code; running it on every input made this target run 106 inputs in its first session on the
// shared machine (~1.4 s each under that load); with 1 in 64 it ran ~200 inputs/s, with 1 in 512 ~500-800/s.
//
// snapshot.cc is included (its MakeBuffer is file-local), not linked.
#include "../snapshot.cc"

#include "../jpeg_decode.h"

#include <gst/gst.h>

#include <cstdlib>
#include <memory>

#include "fuzz_common.h"

using namespace vigil;

namespace {
unsigned long gFullEncodes = 0;

// MakeBuffer's copy against the source: row y of the crop is source row cropY + y from byte cropX * bpp (chroma:
// rows and columns halved, rounded up), cropW * bpp bytes (chroma: ceil(cropW / 2) samples).
void CheckCopy(const uint8_t* src, const SnapshotRequest& r) {
  GstVideoInfo info;
  gst_video_info_init(&info);
  FUZZ_CHECK(gst_video_info_set_format(&info, gst_video_format_from_string(r.format.c_str()), r.cropW, r.cropH), "format %s", r.format.c_str());
  GstBuffer* buf = MakeBuffer(src, r, info);
  FUZZ_CHECK(buf != nullptr, "no buffer");
  GstMapInfo map;
  FUZZ_CHECK(gst_buffer_map(buf, &map, GST_MAP_READ), "map");
  const int bpp = PackedBpp(r.format);
  auto row = [&](int plane, int y) { return map.data + GST_VIDEO_INFO_PLANE_OFFSET(&info, plane) + static_cast<size_t>(y) * GST_VIDEO_INFO_PLANE_STRIDE(&info, plane); };
  if (bpp) {
    for (int y = 0; y < r.cropH; ++y)
      FUZZ_CHECK(std::memcmp(row(0, y), src + static_cast<size_t>(r.cropY + y) * r.stride + static_cast<size_t>(r.cropX) * bpp, static_cast<size_t>(r.cropW) * bpp) == 0,
                 "%s row %d", r.format.c_str(), y);
  } else {
    for (int y = 0; y < r.cropH; ++y)
      FUZZ_CHECK(std::memcmp(row(0, y), src + static_cast<size_t>(r.cropY + y) * r.stride + r.cropX, r.cropW) == 0, "%s luma row %d", r.format.c_str(), y);
    const bool i420 = r.format == "I420";
    const size_t cs = i420 ? (r.stride + 1) / 2 : ((r.stride + 1) / 2) * 2;
    const size_t ch = (r.height + 1) / 2;
    const uint8_t* c0 = src + static_cast<size_t>(r.stride) * r.height;
    const int ccw = (r.cropW + 1) / 2, cch = (r.cropH + 1) / 2, cx = r.cropX / 2, cy = r.cropY / 2;
    for (int p = 1; p <= (i420 ? 2 : 1); ++p) {
      const uint8_t* plane = p == 1 ? c0 : c0 + cs * ch;
      for (int y = 0; y < cch; ++y)
        FUZZ_CHECK(std::memcmp(row(p, y), plane + static_cast<size_t>(cy + y) * cs + static_cast<size_t>(cx) * (i420 ? 1 : 2), static_cast<size_t>(ccw) * (i420 ? 1 : 2)) == 0,
                   "%s chroma plane %d row %d", r.format.c_str(), p, y);
    }
  }
  gst_buffer_unmap(buf, &map);
  gst_buffer_unref(buf);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gst_init(nullptr, nullptr);
  std::atexit([] { std::fprintf(stderr, "fuzz_snapshot: %lu inputs through the whole EncodeJpeg\n", gFullEncodes); });
  // One encode per path before fuzzing (RGB, GRAY8, scaled YUV): GStreamer's one-time allocations would otherwise
  // be reported as leaks of the first inputs.
  for (const char* fmt : {"RGB", "GRAY8", "I420", "NV12"}) {
    SnapshotRequest r;
    r.format = fmt;
    r.width = r.height = r.cropW = r.cropH = 16;
    r.stride = fmt[0] == 'R' ? 48 : 16;
    if (fmt[0] == 'I' || fmt[0] == 'N') r.outW = r.outH = 8;
    std::vector<uint8_t> px(16 * 48, 128), jpeg;
    std::string err;
    EncodeJpeg(px.data(), r, jpeg, err);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  const bool sourceFrame = p.ConsumeBool();
  SnapshotRequest r;
  r.format = sourceFrame ? p.PickValueInArray({"I420", "NV12", "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx"})
                         : p.PickValueInArray({"RGB", "BGR", "RGBA", "BGRA", "I420", "NV12", "GRAY8"});
  const bool yuv = r.format == "I420" || r.format == "NV12";
  const int bpp = r.format == "GRAY8" ? 1 : (r.format == "RGB" || r.format == "BGR") ? 3 : yuv ? 0 : 4;
  r.width = p.ConsumeIntegralInRange<int>(1, 96);
  r.height = p.ConsumeIntegralInRange<int>(1, 96);
  if (yuv && !sourceFrame) {  // the module wrapper requires even sizes
    r.width = (r.width + 1) & ~1;
    r.height = (r.height + 1) & ~1;
  }
  const int tight = bpp ? r.width * bpp : r.width;
  r.stride = sourceFrame ? tight : tight + (p.ConsumeBool() ? 0 : p.ConsumeIntegralInRange<int>(1, 33));
  size_t need;
  if (yuv) {
    const size_t cs = r.format == "I420" ? (r.stride + 1) / 2 : ((r.stride + 1) / 2) * 2;
    const size_t ch = sourceFrame ? (r.height + 1) / 2 : r.height / 2;
    need = static_cast<size_t>(r.stride) * r.height + cs * ch * (r.format == "I420" ? 2 : 1);
  } else {
    need = static_cast<size_t>(r.stride) * (r.height - 1) + tight;
  }
  std::unique_ptr<uint8_t[]> pixels(new uint8_t[need]);
  const std::vector<uint8_t> bytes = p.ConsumeBytes<uint8_t>(std::min<size_t>(need, 512));
  for (size_t k = 0; k < need; ++k) pixels[k] = bytes.empty() ? static_cast<uint8_t>(k) : bytes[k % bytes.size()];
  r.quality = p.ConsumeIntegralInRange<int>(1, 100);
  r.cropW = r.width;
  r.cropH = r.height;
  if (p.ConsumeBool()) {
    r.cropX = p.ConsumeIntegralInRange<int>(0, r.width - 1);
    r.cropY = p.ConsumeIntegralInRange<int>(0, r.height - 1);
    r.cropW = p.ConsumeIntegralInRange<int>(1, r.width - r.cropX);
    r.cropH = p.ConsumeIntegralInRange<int>(1, r.height - r.cropY);
    if (yuv) {
      r.cropX &= ~1;
      r.cropY &= ~1;
      if (sourceFrame) {
        r.cropW = std::min(std::max(2, r.cropW & ~1), r.width - r.cropX);
        r.cropH = std::min(std::max(2, r.cropH & ~1), r.height - r.cropY);
      } else {
        r.cropW = std::max(2, r.cropW & ~1);
        r.cropH = std::max(2, r.cropH & ~1);
      }
    }
  }
  if (sourceFrame && p.ConsumeBool()) {
    r.outW = std::min(p.ConsumeIntegralInRange<int>(1, 16384), r.cropW);
    r.outH = std::min(p.ConsumeIntegralInRange<int>(1, 16384), r.cropH);
    if (yuv) r.colorimetry = p.PickValueInArray({"bt709", "bt601", "1:4:0:0", ""});
  }
  CheckCopy(pixels.get(), r);
  static const bool full = std::getenv("FUZZ_SNAPSHOT_FULL") && std::string(std::getenv("FUZZ_SNAPSHOT_FULL")) == "1";
  static unsigned long count = 0;
  if (!full && count++ % 512 != 0) return 0;
  ++gFullEncodes;
  std::vector<uint8_t> jpeg;
  std::string error;
  const bool ok = EncodeJpeg(pixels.get(), r, jpeg, error);
  FUZZ_CHECK(ok, "%s %dx%d stride %d crop %d,%d %dx%d out %dx%d: %s", r.format.c_str(), r.width, r.height, r.stride,
             r.cropX, r.cropY, r.cropW, r.cropH, r.outW, r.outH, error.c_str());
  JpegHeader h;
  std::string herr;
  FUZZ_CHECK(ParseJpegHeader(jpeg.data(), jpeg.size(), &h, &herr), "own JPEG refused: %s", herr.c_str());
  const int ew = r.outW > 0 ? r.outW : r.cropW, eh = r.outH > 0 ? r.outH : r.cropH;
  FUZZ_CHECK(h.width == ew && h.height == eh, "JPEG %dx%d, asked %dx%d", h.width, h.height, ew, eh);
  return 0;
}
