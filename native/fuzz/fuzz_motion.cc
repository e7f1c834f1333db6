// Motion gate (native/motion.cc) with any configuration the wrapper accepts (downscale 1..64, masks of any finite
// points, merge radius and padding at their limits) over a sequence of frames whose size and stride change between
// calls. Each luma plane is exactly stride * (h - 1) + w bytes. Properties: changed <= active cells, regions inside
// the frame, pairwise disjoint, largest first, regionShare in [0, 1].
#include <algorithm>
#include <memory>

#include "../motion.h"
#include "fuzz_common.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  MotionConfig c;
  c.downscale = p.ConsumeIntegralInRange<int>(1, 64);
  c.sensitivity = p.ConsumeProbability<float>();
  c.minChangedFraction = p.ConsumeProbability<float>();
  c.learningRate = p.ConsumeProbability<float>();
  c.regionMergeCells = p.ConsumeIntegralInRange<int>(0, 16);
  c.regionPadding = p.ConsumeIntegralInRange<int>(0, 1024);
  const int nMasks = p.ConsumeIntegralInRange<int>(0, 3);
  for (int m = 0; m < nMasks; ++m) {
    std::vector<MotionPoint> poly(p.ConsumeIntegralInRange<int>(3, 8));
    for (MotionPoint& pt : poly) {  // finite (ExpectNumber), float-converted: huge doubles become infinities
      pt.x = p.ConsumeBool() ? p.ConsumeFloatingPointInRange<float>(-100.0f, 700.0f) : p.PickValueInArray({INFINITY, -INFINITY, 3e38f, 0.0f});
      pt.y = p.ConsumeBool() ? p.ConsumeFloatingPointInRange<float>(-100.0f, 700.0f) : p.PickValueInArray({INFINITY, -INFINITY, 3e38f, 0.0f});
    }
    c.masks.push_back(poly);
  }
  MotionDetector det(c);
  int w = p.ConsumeIntegralInRange<int>(1, 200), h = p.ConsumeIntegralInRange<int>(1, 150);
  const int frames = p.ConsumeIntegralInRange<int>(1, 6);
  for (int i = 0; i < frames; ++i) {
    if (p.ConsumeIntegralInRange<int>(0, 3) == 0) {
      w = p.ConsumeIntegralInRange<int>(1, p.ConsumeBool() ? 4096 : 300);
      h = p.ConsumeIntegralInRange<int>(1, p.ConsumeBool() ? 4096 : 300);
      if (static_cast<long>(w) * h > (1 << 18)) h = std::max(1, (1 << 18) / w);
    }
    if (p.ConsumeIntegralInRange<int>(0, 7) == 0) det.Reset();
    const int stride = w + (p.ConsumeBool() ? 0 : p.ConsumeIntegralInRange<int>(1, 64));
    const size_t n = static_cast<size_t>(stride) * (h - 1) + w;
    std::unique_ptr<uint8_t[]> luma(new uint8_t[n]);
    const std::vector<uint8_t> bytes = p.ConsumeBytes<uint8_t>(std::min<size_t>(n, 2048));
    const uint8_t fill = p.ConsumeIntegral<uint8_t>();
    for (size_t k = 0; k < n; ++k) luma[k] = bytes.empty() ? fill : bytes[k % bytes.size()];
    MotionResult r = det.Update(luma.get(), w, h, stride);
    FUZZ_CHECK(r.changedCells >= 0 && r.changedCells <= r.activeCells, "changed %d active %d", r.changedCells, r.activeCells);
    FUZZ_CHECK(r.regionShare >= 0.0 && r.regionShare <= 1.0, "share %g", r.regionShare);
    for (size_t a = 0; a < r.regions.size(); ++a) {
      const MotionRegion& g = r.regions[a];
      FUZZ_CHECK(g.x >= 0 && g.y >= 0 && g.width > 0 && g.height > 0 && g.x + g.width <= w && g.y + g.height <= h,
                 "region %d,%d %dx%d outside %dx%d", g.x, g.y, g.width, g.height, w, h);
      if (a > 0)
        FUZZ_CHECK(static_cast<long>(g.width) * g.height <= static_cast<long>(r.regions[a - 1].width) * r.regions[a - 1].height,
                   "regions not largest first");
      for (size_t b = a + 1; b < r.regions.size(); ++b) {
        const MotionRegion& o = r.regions[b];
        FUZZ_CHECK(!(g.x < o.x + o.width && o.x < g.x + g.width && g.y < o.y + o.height && o.y < g.y + g.height),
                   "regions %zu and %zu overlap", a, b);
      }
    }
  }
  return 0;
}
