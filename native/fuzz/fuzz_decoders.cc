// Model-output decoders (native/postprocess.cc) with hostile shapes and values: NanoDet levels whose cell counts
// do not match the input, any bins / strides / class counts the wrapper accepts, YOLO v5/v8 and CenterNet rows
// holding NaN, infinities and huge class ids; then NMS and the letterbox undo. Properties: no crash or UB, every
// candidate has a valid class and finite coordinates and a score that passes the filter, NMS keeps at most
// maxDetections sorted by score, mapped boxes lie inside the source frame.
#include <stdexcept>

#include "../postprocess.h"
#include "fuzz_common.h"

using namespace vigil;

namespace {

constexpr size_t kMaxFloats = 1 << 16;  // keeps one input fast; shapes above this are scaled down, not skipped

ScoreFilter MakeFilter(FuzzedDataProvider& p, int numClasses) {
  ScoreFilter f;
  f.threshold = p.ConsumeProbability<float>();  // wrapper: a number from 0 to 1
  if (p.ConsumeBool()) {                         // classThresholds: numClasses finite numbers, any sign
    f.perClass.resize(numClasses);
    for (float& t : f.perClass) t = p.ConsumeFloatingPointInRange<float>(-2.0f, 2.0f);
  }
  if (p.ConsumeBool()) {  // classFilter: ids 0..numClasses-1
    f.allowed.assign(numClasses, 0);
    const int n = p.ConsumeIntegralInRange<int>(0, 8);
    for (int i = 0; i < n; ++i) f.allowed[p.ConsumeIntegralInRange<int>(0, numClasses - 1)] = 1;
  }
  return f;
}

void CheckCandidates(const std::vector<Candidate>& c, int numClasses, const ScoreFilter& f) {
  for (const Candidate& k : c) {
    FUZZ_CHECK(k.classId >= 0 && k.classId < numClasses, "class %d of %d", k.classId, numClasses);
    FUZZ_CHECK(f.Passes(k.classId, k.score), "score %g class %d does not pass", k.score, k.classId);
    FUZZ_CHECK(std::isfinite(k.x1) && std::isfinite(k.y1) && std::isfinite(k.x2) && std::isfinite(k.y2),
               "box %g %g %g %g", k.x1, k.y1, k.x2, k.y2);
  }
}

void Finish(FuzzedDataProvider& p, std::vector<Candidate> c) {
  const float iou = p.ConsumeProbability<float>();
  const int maxDet = p.ConsumeIntegralInRange<int>(0, 300);
  const bool agnostic = p.ConsumeBool();
  std::vector<Candidate> kept = Nms(c, iou, maxDet, agnostic);
  FUZZ_CHECK(maxDet == 0 || static_cast<int>(kept.size()) <= maxDet, "%zu kept, max %d", kept.size(), maxDet);
  FUZZ_CHECK(kept.size() <= c.size(), "NMS grew %zu -> %zu", c.size(), kept.size());
  for (size_t i = 1; i < kept.size(); ++i)
    FUZZ_CHECK(!(kept[i].score > kept[i - 1].score), "not sorted at %zu", i);
  if (p.ConsumeBool()) {  // letterbox: scale > 0, finite pads, source 1..65535
    LetterboxMap m;
    m.scale = p.ConsumeBool() ? p.ConsumeFloatingPointInRange<float>(1e-6f, 100.0f) : p.PickValueInArray({1e-30f, 1.0f, 3e38f});
    m.padX = p.ConsumeFloatingPointInRange<float>(-1e6f, 1e6f);
    m.padY = p.ConsumeFloatingPointInRange<float>(-1e6f, 1e6f);
    m.sourceW = p.ConsumeIntegralInRange<int>(1, 65535);
    m.sourceH = p.ConsumeIntegralInRange<int>(1, 65535);
    MapToSource(kept, m);
    for (const Candidate& k : kept) {
      FUZZ_CHECK(k.x1 >= 0 && k.x2 <= m.sourceW && k.x1 < k.x2 && k.y1 >= 0 && k.y2 <= m.sourceH && k.y1 < k.y2,
                 "mapped box %g %g %g %g outside %dx%d", k.x1, k.y1, k.x2, k.y2, m.sourceW, m.sourceH);
    }
  }
}

void FuzzNanodet(FuzzedDataProvider& p) {
  const int numClasses = p.ConsumeIntegralInRange<int>(1, 100);
  const ScoreFilter filter = MakeFilter(p, numClasses);
  const int inputW = p.ConsumeIntegralInRange<int>(1, p.ConsumeBool() ? 16384 : 512);
  const int inputH = p.ConsumeIntegralInRange<int>(1, p.ConsumeBool() ? 16384 : 512);
  const int bins = p.ConsumeIntegralInRange<int>(1, p.ConsumeBool() ? 1024 : 16);
  const int nLevels = p.ConsumeIntegralInRange<int>(0, 4);
  std::vector<std::vector<float>> store;
  std::vector<NanodetLevel> levels;
  size_t total = 0;
  for (int l = 0; l < nLevels; ++l) {
    const int stride = p.ConsumeIntegralInRange<int>(1, 4096);
    const long gw = (inputW + stride - 1) / stride, gh = (inputH + stride - 1) / stride;
    // The wrapper derives cells from the scores' length; it does not check them against the grid (the decoder does).
    long cells = p.ConsumeBool() ? gw * gh : p.ConsumeIntegralInRange<long>(0, 64);
    const size_t need = static_cast<size_t>(cells) * (numClasses + 4 * static_cast<size_t>(bins));
    if (total + need > kMaxFloats) return;  // too big for one fast input
    total += need;
    store.push_back(Floats(p, static_cast<size_t>(cells) * numClasses, true));
    store.push_back(Floats(p, static_cast<size_t>(cells) * 4 * bins, false));
    levels.push_back(NanodetLevel{store[store.size() - 2].data(), store.back().data(), static_cast<int>(cells), stride});
  }
  std::vector<Candidate> c;
  try {
    c = DecodeNanodet(levels, numClasses, bins, inputW, inputH, filter);
  } catch (const std::invalid_argument&) {
    return;  // a shape mismatch, reported to JS as a RangeError
  }
  CheckCandidates(c, numClasses, filter);
  for (const Candidate& k : c)
    FUZZ_CHECK(k.x1 >= 0 && k.x2 <= inputW && k.y1 >= 0 && k.y2 <= inputH, "nanodet box outside the input");
  Finish(p, std::move(c));
}

void FuzzCenternet(FuzzedDataProvider& p) {
  const int numClasses = p.ConsumeIntegralInRange<int>(1, 100000);
  const ScoreFilter filter = MakeFilter(p, std::min(numClasses, 1000));
  const int count = p.ConsumeIntegralInRange<int>(0, 2000);
  std::vector<float> rows(static_cast<size_t>(count) * 6);
  for (size_t i = 0; i < rows.size(); ++i) {
    if (i % 6 == 5 && p.ConsumeBool()) rows[i] = p.PickValueInArray({0.0f, 1.0f, 79.0f, 80.0f, -1.0f, 0.4f, 4294967296.0f, 2147483648.0f, -2147483904.0f, 1e20f});
    else rows[i] = p.remaining_bytes() ? ModelFloat(p) : 0.5f;
  }
  ScoreFilter f = filter;
  if (!f.allowed.empty() || !f.perClass.empty()) {  // the wrapper sizes these to numClasses
    if (!f.allowed.empty()) f.allowed.resize(numClasses, 0);
    if (!f.perClass.empty()) f.perClass.resize(numClasses, -1.0f);
  }
  std::vector<Candidate> c = DecodeCenternet(rows.data(), count, numClasses, f);
  CheckCandidates(c, numClasses, f);
  Finish(p, std::move(c));
}

void FuzzYolo(FuzzedDataProvider& p) {
  const YoloLayout layout = p.ConsumeBool() ? YoloLayout::V8 : YoloLayout::V5;
  const int numClasses = p.ConsumeIntegralInRange<int>(1, 200);
  const ScoreFilter filter = MakeFilter(p, numClasses);
  const size_t per = static_cast<size_t>(numClasses) + (layout == YoloLayout::V8 ? 4 : 5);
  const int n = p.ConsumeIntegralInRange<int>(0, static_cast<int>(kMaxFloats / per));
  std::vector<float> data = Floats(p, per * n, true);
  std::vector<Candidate> c = DecodeYolo(data.data(), n, numClasses, layout, filter);
  CheckCandidates(c, numClasses, filter);
  Finish(p, std::move(c));
}

// nms() and mapToSource() from JS take any boxes, NaN included: they must not crash or break their own contract.
void FuzzNmsRaw(FuzzedDataProvider& p) {
  const int n = p.ConsumeIntegralInRange<int>(0, 500);
  std::vector<Candidate> c(n);
  for (Candidate& k : c) {
    k.x1 = ModelFloat(p);
    k.y1 = ModelFloat(p);
    k.x2 = ModelFloat(p);
    k.y2 = ModelFloat(p);
    k.score = ModelFloat(p);
    k.classId = p.ConsumeIntegralInRange<int32_t>(-3, 3);
  }
  Finish(p, std::move(c));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider p(data, size);
  switch (p.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: FuzzNanodet(p); break;
    case 1: FuzzCenternet(p); break;
    case 2: FuzzYolo(p); break;
    case 3: FuzzNmsRaw(p); break;
  }
  return 0;
}
