// Frame -> tensor preprocessing (native/preprocess.cc) with odd frame sizes, padded and odd strides, every pixel
// format, any tensor size / layout / order / normalisation the wrapper accepts, and regions (motion crops) at odd
// origins; one Preprocessor is reused across calls, as a camera's is when its source size changes. Every plane is
// its own allocation of exactly the bytes the format needs, so ASan catches any read past a plane, and the tensor
// buffer is exactly TensorBytes. Properties: the letterbox fits the tensor; u8 border pixels hold the pad colour.
#include <algorithm>
#include <memory>

#include "../preprocess.h"
#include "fuzz_common.h"

using namespace vigil;

namespace {

struct Frame {
  SourceImage img;
  std::vector<std::unique_ptr<uint8_t[]>> planes;
};

// A frame of the given geometry; strides may be padded (decoders pad rows) but each plane ends at its last byte.
Frame MakeFrame(FuzzedDataProvider& p, PixelFormat fmt, int w, int h) {
  Frame f;
  f.img.format = fmt;
  f.img.width = w;
  f.img.height = h;
  f.img.matrix = p.ConsumeBool() ? YuvMatrix::BT709 : YuvMatrix::BT601;
  f.img.fullRange = p.ConsumeBool();
  int rowBytes[3] = {0, 0, 0}, rows[3] = {h, 0, 0}, count = 1;
  const int cw = (w + 1) / 2, ch = (h + 1) / 2;
  switch (fmt) {
    case PixelFormat::I420: rowBytes[0] = w; rowBytes[1] = rowBytes[2] = cw; rows[1] = rows[2] = ch; count = 3; break;
    case PixelFormat::NV12: rowBytes[0] = w; rowBytes[1] = cw * 2; rows[1] = ch; count = 2; break;
    case PixelFormat::RGB: case PixelFormat::BGR: rowBytes[0] = w * 3; break;
    default: rowBytes[0] = w * 4; break;
  }
  for (int i = 0; i < count; ++i) {
    const int stride = rowBytes[i] + (p.ConsumeBool() ? 0 : p.ConsumeIntegralInRange<int>(1, 70));
    const size_t size = static_cast<size_t>(stride) * (rows[i] - 1) + rowBytes[i];
    f.planes.emplace_back(new uint8_t[size]);
    uint8_t* d = f.planes.back().get();
    const std::vector<uint8_t> bytes = p.ConsumeBytes<uint8_t>(std::min<size_t>(size, 4096));
    for (size_t k = 0; k < size; ++k) d[k] = bytes.empty() ? static_cast<uint8_t>(k * 37) : bytes[k % bytes.size()];
    f.img.planes[i] = d;
    f.img.strides[i] = stride;
  }
  return f;
}

Region MakeRegion(FuzzedDataProvider& p, int w, int h) {
  if (p.ConsumeBool()) return Region{0, 0, w, h};
  Region r;  // the wrapper's checks: x in [0, w-1], width in [1, w - x]
  r.x = p.ConsumeIntegralInRange<int>(0, w - 1);
  r.y = p.ConsumeIntegralInRange<int>(0, h - 1);
  r.width = p.ConsumeIntegralInRange<int>(1, w - r.x);
  r.height = p.ConsumeIntegralInRange<int>(1, h - r.y);
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  TensorSpec spec;
  // The wrapper allows 8..8192 per side; most inputs stay small so a run covers many geometries.
  const int maxSide = p.ConsumeIntegralInRange<int>(0, 63) == 0 ? 640 : 64;
  spec.width = p.ConsumeIntegralInRange<int>(8, maxSide);
  spec.height = p.ConsumeIntegralInRange<int>(8, maxSide);
  spec.layout = p.PickValueInArray({TensorLayout::NCHW_F32, TensorLayout::NHWC_U8, TensorLayout::NHWC_F32});
  spec.order = p.ConsumeBool() ? ColorOrder::BGR : ColorOrder::RGB;
  for (int c = 0; c < 3; ++c) {
    spec.mean[c] = p.ConsumeFloatingPointInRange<float>(-1e6f, 1e6f);   // finite (ExpectNumber)
    spec.std[c] = p.ConsumeFloatingPointInRange<float>(1e-30f, 1e6f);   // positive
    spec.pad[c] = p.ConsumeIntegral<uint8_t>();
  }
  Preprocessor pre(spec);
  const size_t bytes = TensorBytes(spec);
  // Exactly the tensor's bytes; float layouts need 4-byte alignment, which new[] of floats gives.
  std::unique_ptr<float[]> out(new float[(bytes + 3) / 4]);
  const int runs = p.ConsumeIntegralInRange<int>(1, 3);
  for (int run = 0; run < runs; ++run) {
    const PixelFormat fmt = p.PickValueInArray({PixelFormat::I420, PixelFormat::NV12, PixelFormat::RGB, PixelFormat::BGR,
                                                PixelFormat::RGBA, PixelFormat::BGRA, PixelFormat::RGBx, PixelFormat::BGRx});
    const int big = p.ConsumeIntegralInRange<int>(0, 63);
    const int w = p.ConsumeIntegralInRange<int>(1, big == 0 ? 4096 : 96);
    const int h = p.ConsumeIntegralInRange<int>(1, big == 1 ? 4096 : 96);
    if (static_cast<long>(w) * h > (1 << 18)) continue;
    Frame f = MakeFrame(p, fmt, w, h);
    const Region r = MakeRegion(p, w, h);
    const Letterbox lb = pre.Run(f.img, r, out.get());
    FUZZ_CHECK(lb.scaledWidth >= 1 && lb.scaledHeight >= 1 && lb.padX >= 0 && lb.padY >= 0 &&
                   lb.padX + lb.scaledWidth <= spec.width && lb.padY + lb.scaledHeight <= spec.height,
               "letterbox %d+%d x %d+%d in %dx%d", lb.padX, lb.scaledWidth, lb.padY, lb.scaledHeight, spec.width, spec.height);
    if (spec.layout == TensorLayout::NHWC_U8) {
      const uint8_t* t = reinterpret_cast<const uint8_t*>(out.get());
      const uint8_t c0 = spec.order == ColorOrder::BGR ? spec.pad[2] : spec.pad[0];
      for (int y = 0; y < spec.height; ++y) {
        const bool rowInside = y >= lb.padY && y < lb.padY + lb.scaledHeight;
        for (int x = 0; x < spec.width; ++x) {
          if (rowInside && x >= lb.padX && x < lb.padX + lb.scaledWidth) continue;
          const uint8_t* px = t + (static_cast<size_t>(y) * spec.width + x) * 3;
          FUZZ_CHECK(px[0] == c0 && px[1] == spec.pad[1], "border pixel %d,%d not the pad colour", x, y);
        }
      }
    }
  }
  return 0;
}
