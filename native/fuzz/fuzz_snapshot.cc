// Snapshot encoding (native/snapshot.cc EncodeJpeg): every source format, odd sizes and padded strides, crops at
// any origin and scaling, with the geometry rules of both callers: the module's encodeJpeg (even YUV sizes, any
// stride >= the row) and SourceFrame.encodeJpeg (tight strides, odd YUV sizes allowed). The source buffer is
// exactly the bytes the caller's check requires, so ASan catches a read past it. Properties: encoding succeeds and
// the JPEG's header has the requested size.
#include "../source_frame.cc"
#include "fuzz_common.h"

using namespace vigil;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gst_init(nullptr, nullptr);
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
