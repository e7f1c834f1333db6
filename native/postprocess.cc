#include "postprocess.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "common.h"
#include "motion.h"
#include "snapshot.h"

namespace vigil {

// ---- pure C++ ------------------------------------------------------------------------------------------------------

namespace {

// A model that emits NaN or infinities (a broken export, a hostile file) must not put non-finite boxes into the
// tracker: such candidates are dropped at decode (found by native/fuzz/fuzz_decoders.cc).
bool FiniteBox(float x1, float y1, float x2, float y2) {
  return std::isfinite(x1) && std::isfinite(y1) && std::isfinite(x2) && std::isfinite(y2);
}

// Float class ids from JS (nms, mapToSource): out of int32 range (or NaN) is no class rather than undefined behaviour.
int32_t ClassIdFromFloat(float v) {
  return v >= -2147483648.0f && v < 2147483648.0f ? static_cast<int32_t>(v) : -1;
}

}  // namespace

std::vector<Candidate> DecodeNanodet(const std::vector<NanodetLevel>& levels, int numClasses, int bins, int inputW,
                                     int inputH, const ScoreFilter& filter) {
  std::vector<Candidate> out;
  std::vector<float> prob(static_cast<size_t>(bins));
  for (const NanodetLevel& lv : levels) {
    if (lv.stride <= 0) throw std::invalid_argument("stride must be positive");
    const int gw = (inputW + lv.stride - 1) / lv.stride;
    const int gh = (inputH + lv.stride - 1) / lv.stride;
    if (gw * gh != lv.cells) {
      throw std::invalid_argument("a stride-" + std::to_string(lv.stride) + " level of a " + std::to_string(inputW) +
                                  "x" + std::to_string(inputH) + " input has " + std::to_string(gw * gh) +
                                  " cells but the output has " + std::to_string(lv.cells));
    }
    for (int i = 0; i < lv.cells; ++i) {
      const float* s = lv.scores + static_cast<size_t>(i) * numClasses;
      bool decoded = false;
      float dist[4] = {0, 0, 0, 0};
      for (int c = 0; c < numClasses; ++c) {
        if (!filter.Passes(c, s[c])) continue;
        if (!decoded) {
          const float* d = lv.boxes + static_cast<size_t>(i) * 4 * bins;
          for (int side = 0; side < 4; ++side) {
            const float* logit = d + side * bins;
            float mx = logit[0];
            for (int b = 1; b < bins; ++b) mx = std::max(mx, logit[b]);
            float sum = 0.0f;
            for (int b = 0; b < bins; ++b) {
              prob[b] = std::exp(logit[b] - mx);
              sum += prob[b];
            }
            float e = 0.0f;
            for (int b = 0; b < bins; ++b) e += prob[b] * static_cast<float>(b);
            dist[side] = e / sum * static_cast<float>(lv.stride);
          }
          decoded = true;
        }
        if (!FiniteBox(dist[0], dist[1], dist[2], dist[3])) break;  // NaN logits: no box for this cell
        const float cx = (static_cast<float>(i % gw) + 0.5f) * lv.stride;
        const float cy = (static_cast<float>(i / gw) + 0.5f) * lv.stride;
        Candidate k;
        k.x1 = std::clamp(cx - dist[0], 0.0f, static_cast<float>(inputW));
        k.y1 = std::clamp(cy - dist[1], 0.0f, static_cast<float>(inputH));
        k.x2 = std::clamp(cx + dist[2], 0.0f, static_cast<float>(inputW));
        k.y2 = std::clamp(cy + dist[3], 0.0f, static_cast<float>(inputH));
        k.score = s[c];
        k.classId = c;
        out.push_back(k);
      }
    }
  }
  return out;
}

std::vector<Candidate> DecodeCenternet(const float* rows, int count, int numClasses, const ScoreFilter& filter) {
  std::vector<Candidate> out;
  for (int i = 0; i < count; ++i) {
    const float* r = rows + static_cast<size_t>(i) * 6;
    // Range-check the class before rounding: lround of a huge value is unspecified (2^32 came out as class 0).
    if (!(r[5] > -1.0f && r[5] < static_cast<float>(numClasses)) || !std::isfinite(r[4])) continue;
    if (!FiniteBox(r[0], r[1], r[2], r[3])) continue;
    const int cls = static_cast<int>(std::lround(r[5]));
    if (cls < 0 || cls >= numClasses || !filter.Passes(cls, r[4])) continue;
    out.push_back(Candidate{r[0], r[1], r[2], r[3], r[4], cls});
  }
  return out;
}

std::vector<Candidate> DecodeYolo(const float* data, int n, int numClasses, YoloLayout layout,
                                  const ScoreFilter& filter) {
  std::vector<Candidate> out;
  for (int i = 0; i < n; ++i) {
    float cx, cy, w, h, obj = 1.0f;
    const float* cls;
    size_t step;
    if (layout == YoloLayout::V8) {
      cx = data[i];
      cy = data[static_cast<size_t>(n) + i];
      w = data[2 * static_cast<size_t>(n) + i];
      h = data[3 * static_cast<size_t>(n) + i];
      cls = data + 4 * static_cast<size_t>(n) + i;
      step = static_cast<size_t>(n);
    } else {
      const float* r = data + static_cast<size_t>(i) * (5 + numClasses);
      cx = r[0];
      cy = r[1];
      w = r[2];
      h = r[3];
      obj = r[4];
      cls = r + 5;
      step = 1;
    }
    const float x1 = cx - w / 2, y1 = cy - h / 2, x2 = cx + w / 2, y2 = cy + h / 2;
    if (!FiniteBox(x1, y1, x2, y2)) continue;
    for (int c = 0; c < numClasses; ++c) {
      const float score = obj * cls[c * step];
      if (!filter.Passes(c, score)) continue;
      out.push_back(Candidate{x1, y1, x2, y2, score, c});
    }
  }
  return out;
}

float Iou(const Candidate& a, const Candidate& b) {
  const float iw = std::min(a.x2, b.x2) - std::max(a.x1, b.x1);
  const float ih = std::min(a.y2, b.y2) - std::max(a.y1, b.y1);
  if (iw <= 0 || ih <= 0) return 0.0f;
  const float inter = iw * ih;
  const float areaA = std::max(0.0f, a.x2 - a.x1) * std::max(0.0f, a.y2 - a.y1);
  const float areaB = std::max(0.0f, b.x2 - b.x1) * std::max(0.0f, b.y2 - b.y1);
  const float uni = areaA + areaB - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

namespace {

// Kept boxes by (class, grid cell) over the candidates' extent, so that a candidate is compared only with the kept
// boxes of its class that it can overlap. Boxes that do not overlap have IoU 0, which never exceeds a threshold
// >= 0, so the result is the same as comparing with every kept box of the class; but many kept boxes of one class
// (maxDetections 0: unlimited) no longer cost (kept) x (candidates). Found by fuzz_decoders: NanoDet candidates of
// one class, disjoint, all kept, took 1.5 s under ASan.
//
// Each indexed box sits in one cell only, the one of its top-left corner, and a query widens its cell range up and
// left by the largest span (in cells) of the class's indexed boxes: a box placed in every cell it covered was found
// many times over, and a fuzz input of many kept boxes spanning many cells each cost more than a plain list (1.1 s
// under ASan). Boxes spanning more than kMaxSpan cells in either direction, or with a non-finite coordinate, are in
// the class's "wide" list, which every candidate of the class checks, so the widening stays small. A class is
// indexed only once it has kIndexFrom kept boxes: below that a plain list is cheaper, and the dense grid of an
// indexed class (kGrid x kGrid cell lists) is paid for only where it saves work.
class KeptIndex {
 public:
  // exhaustive: compare every pair of the class (a threshold below 0 suppresses boxes that do not even overlap).
  KeptIndex(const std::vector<Candidate>& c, bool exhaustive) : exhaustive_(exhaustive) {
    float x0 = INFINITY, y0 = INFINITY, x1 = -INFINITY, y1 = -INFINITY;
    for (const Candidate& b : c) {
      if (!Finite(b)) continue;
      x0 = std::min({x0, b.x1, b.x2});
      y0 = std::min({y0, b.y1, b.y2});
      x1 = std::max({x1, b.x1, b.x2});
      y1 = std::max({y1, b.y1, b.y2});
    }
    ox_ = std::isfinite(x0) ? x0 : 0.0f;
    oy_ = std::isfinite(y0) ? y0 : 0.0f;
    // (extent / kGrid) in double: a float extent can overflow to inf for boxes near +-FLT_MAX.
    cw_ = std::isfinite(x0) && x1 > x0 ? (static_cast<double>(x1) - x0) / kGrid : 1.0;
    ch_ = std::isfinite(y0) && y1 > y0 ? (static_cast<double>(y1) - y0) / kGrid : 1.0;
  }

  // Calls visit(index) for every kept box of `cls` that `b` may overlap (each once); stops when it returns true.
  // Returns whether it did.
  template <typename F>
  bool AnyNear(int cls, const Candidate& b, F visit) {
    auto it = classes_.find(cls);
    if (it == classes_.end()) return false;
    const Class& k = it->second;
    Span s;
    if (!k.indexed || !Cells(b, s)) {  // small class, non-finite or wide candidate: every kept box of the class
      for (uint32_t i : k.all)
        if (visit(i)) return true;
      return false;
    }
    for (uint32_t i : k.wide)
      if (visit(i)) return true;
    if (s.empty) return false;  // an inverted box overlaps nothing
    // A kept box overlapping b starts at most its span before b's first cell and no later than b's last.
    for (int y = std::max(0, s.y0 - k.maxSpanY); y <= s.y1; ++y)
      for (int x = std::max(0, s.x0 - k.maxSpanX); x <= s.x1; ++x)
        for (uint32_t i : k.grid[static_cast<size_t>(y) * kGrid + x])
          if (visit(i)) return true;
    return false;
  }

  // `keep` holds the kept boxes by index (the class's earlier ones are indexed when it reaches kIndexFrom).
  void Add(int cls, const Candidate& b, uint32_t index, const std::vector<Candidate>& keep) {
    Class& k = classes_[cls];
    k.all.push_back(index);
    if (k.indexed) {
      Place(k, b, index);
    } else if (k.all.size() == kIndexFrom && !exhaustive_) {
      k.indexed = true;
      k.grid.resize(static_cast<size_t>(kGrid) * kGrid);
      for (uint32_t i : k.all) Place(k, keep[i], i);
    }
  }

 private:
  static constexpr size_t kIndexFrom = 64;
  static constexpr int kGrid = 64;
  static constexpr int kMaxSpan = 8;  // cells, either direction

  struct Span {
    int x0, x1, y0, y1;
    bool empty;
  };
  struct Class {
    std::vector<uint32_t> all;  // every kept box, for candidates the grid cannot place
    bool indexed = false;
    std::vector<std::vector<uint32_t>> grid;  // kGrid x kGrid, by top-left cell
    std::vector<uint32_t> wide;
    int maxSpanX = 0, maxSpanY = 0;  // of the boxes in `grid`, in cells (last minus first)
  };

  void Place(Class& k, const Candidate& b, uint32_t index) {
    Span s;
    if (!Cells(b, s)) {
      k.wide.push_back(index);
    } else if (!s.empty) {  // an inverted kept box overlaps nothing: no candidate needs to see it
      k.grid[static_cast<size_t>(s.y0) * kGrid + s.x0].push_back(index);
      k.maxSpanX = std::max(k.maxSpanX, s.x1 - s.x0);
      k.maxSpanY = std::max(k.maxSpanY, s.y1 - s.y0);
    }
  }

  static bool Finite(const Candidate& b) {
    return std::isfinite(b.x1) && std::isfinite(b.y1) && std::isfinite(b.x2) && std::isfinite(b.y2);
  }
  // Column/row ranges a box covers (floor of monotonic maps, so overlapping boxes have intersecting ranges). False:
  // not indexable (non-finite, or spanning more than kMaxSpan cells). An inverted box (x2 < x1) is `empty`: it has
  // IoU 0 with every box.
  bool Cells(const Candidate& b, Span& s) const {
    if (exhaustive_ || !Finite(b)) return false;
    s.x0 = Col(b.x1, ox_, cw_);
    s.x1 = Col(b.x2, ox_, cw_);
    s.y0 = Col(b.y1, oy_, ch_);
    s.y1 = Col(b.y2, oy_, ch_);
    s.empty = b.x2 < b.x1 || b.y2 < b.y1;
    return s.empty || (s.x1 - s.x0 <= kMaxSpan && s.y1 - s.y0 <= kMaxSpan);
  }
  static int Col(float v, float origin, double size) {
    const double c = std::floor((static_cast<double>(v) - origin) / size);
    return static_cast<int>(std::clamp(c, 0.0, static_cast<double>(kGrid - 1)));
  }

  float ox_, oy_;
  double cw_, ch_;
  std::unordered_map<int, Class> classes_;
  bool exhaustive_;
};

}  // namespace

std::vector<Candidate> Nms(std::vector<Candidate> c, float iouThreshold, int maxDetections, bool classAgnostic) {
  // NaN scores (nms() takes any boxes) sort last: a plain `>` is no strict weak ordering with NaN, and the result
  // was not sorted by score.
  std::stable_sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.score > b.score || (!std::isnan(a.score) && std::isnan(b.score));
  });
  // Each candidate is compared with the kept boxes of its own class only (all kept boxes when class-agnostic), and
  // of those only with the ones it can overlap (KeptIndex): the same result as one list. Found by fuzz_decoders:
  // 45,000 NanoDet candidates over many classes, all kept (maxDetections 0), took 11 s; then one class's disjoint
  // boxes, 1.5 s under ASan.
  std::vector<Candidate> keep;
  KeptIndex index(c, !(iouThreshold >= 0.0f));
  for (const Candidate& cand : c) {
    const int cls = classAgnostic ? 0 : cand.classId;
    const bool suppressed = index.AnyNear(cls, cand, [&](uint32_t i) { return Iou(keep[i], cand) > iouThreshold; });
    if (suppressed) continue;
    keep.push_back(cand);
    index.Add(cls, cand, static_cast<uint32_t>(keep.size() - 1), keep);
    if (maxDetections > 0 && static_cast<int>(keep.size()) >= maxDetections) break;
  }
  return keep;
}

void MapToSource(std::vector<Candidate>& boxes, const LetterboxMap& m) {
  const float w = static_cast<float>(m.sourceW), h = static_cast<float>(m.sourceH);
  std::vector<Candidate> out;
  out.reserve(boxes.size());
  for (Candidate b : boxes) {
    b.x1 = std::clamp((b.x1 - m.padX) / m.scale, 0.0f, w);
    b.x2 = std::clamp((b.x2 - m.padX) / m.scale, 0.0f, w);
    b.y1 = std::clamp((b.y1 - m.padY) / m.scale, 0.0f, h);
    b.y2 = std::clamp((b.y2 - m.padY) / m.scale, 0.0f, h);
    if (b.x2 > b.x1 && b.y2 > b.y1) out.push_back(b);
  }
  boxes.swap(out);
}

// ---- N-API wrappers ------------------------------------------------------------------------------------------------

namespace {

Napi::Float32Array ExpectFloat32Array(const Napi::Value& v, const std::string& name) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    ThrowExpected(v.Env(), "a Float32Array", name, v);
  return v.As<Napi::Float32Array>();
}

float ExpectUnit(const Napi::Value& v, const std::string& name) {
  if (!v.IsNumber()) ThrowExpected(v.Env(), "a number from 0 to 1", name, v);
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= 0.0 && d <= 1.0)) ThrowExpected(v.Env(), "a number from 0 to 1", name, v);
  return static_cast<float>(d);
}

struct CommonOptions {
  int numClasses = 80;
  ScoreFilter filter;
  float iou = 0.5f;
  int maxDetections = 100;
  bool classAgnostic = false;
  bool hasLetterbox = false;
  LetterboxMap letterbox;
};

LetterboxMap ParseLetterbox(const Napi::Object& o, const std::string& name) {
  LetterboxMap m;
  double scale = ExpectNumber(o.Get("scale"), name + ".scale");
  if (scale <= 0) ThrowExpected(o.Env(), "a positive number", name + ".scale", o.Get("scale"));
  m.scale = static_cast<float>(scale);
  m.padX = static_cast<float>(ExpectNumber(o.Get("padX"), name + ".padX"));
  m.padY = static_cast<float>(ExpectNumber(o.Get("padY"), name + ".padY"));
  m.sourceW = ExpectInt(o.Get("sourceWidth"), name + ".sourceWidth", 1, 65535);
  m.sourceH = ExpectInt(o.Get("sourceHeight"), name + ".sourceHeight", 1, 65535);
  return m;
}

// Reads the decoder options shared by every decoder (see bindings in src/inference/native.ts).
CommonOptions ParseCommon(const Napi::Object& o) {
  Napi::Env env = o.Env();
  CommonOptions c;
  c.numClasses = ExpectInt(o.Get("numClasses"), "options.numClasses", 1, 100000);
  c.filter.threshold = ExpectUnit(o.Get("scoreThreshold"), "options.scoreThreshold");
  Napi::Value per = o.Get("classThresholds");
  if (!per.IsUndefined() && !per.IsNull()) {
    if (!per.IsArray()) ThrowExpected(env, "an array of numbers", "options.classThresholds", per);
    Napi::Array a = per.As<Napi::Array>();
    if (a.Length() != static_cast<uint32_t>(c.numClasses)) {
      std::string what = "an array of " + std::to_string(c.numClasses) + " numbers";
      ThrowExpected(env, what.c_str(), "options.classThresholds", per);
    }
    c.filter.perClass.resize(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value e = a.Get(i);
      if (!e.IsNumber()) ThrowExpected(env, "a number", "options.classThresholds[" + std::to_string(i) + "]", e);
      c.filter.perClass[i] = static_cast<float>(e.As<Napi::Number>().DoubleValue());
    }
  }
  Napi::Value allow = o.Get("classFilter");
  if (!allow.IsUndefined() && !allow.IsNull()) {
    if (!allow.IsArray()) ThrowExpected(env, "an array of class ids", "options.classFilter", allow);
    Napi::Array a = allow.As<Napi::Array>();
    c.filter.allowed.assign(static_cast<size_t>(c.numClasses), 0);
    for (uint32_t i = 0; i < a.Length(); ++i)
      c.filter.allowed[ExpectInt(a.Get(i), "options.classFilter[" + std::to_string(i) + "]", 0, c.numClasses - 1)] = 1;
  }
  c.iou = ExpectUnit(o.Get("iouThreshold"), "options.iouThreshold");
  c.maxDetections = ExpectInt(o.Get("maxDetections"), "options.maxDetections", 0, 1 << 20);
  Napi::Value agn = o.Get("classAgnostic");
  if (!agn.IsUndefined()) c.classAgnostic = ExpectBool(agn, "options.classAgnostic");
  Napi::Value lb = o.Get("letterbox");
  if (!lb.IsUndefined() && !lb.IsNull()) {
    c.hasLetterbox = true;
    c.letterbox = ParseLetterbox(ExpectObject(lb, "options.letterbox"), "options.letterbox");
  }
  return c;
}

Napi::Float32Array Pack(Napi::Env env, const std::vector<Candidate>& boxes) {
  Napi::Float32Array out = Napi::Float32Array::New(env, boxes.size() * 6);
  float* d = out.Data();
  for (size_t i = 0; i < boxes.size(); ++i) {
    d[i * 6 + 0] = boxes[i].x1;
    d[i * 6 + 1] = boxes[i].y1;
    d[i * 6 + 2] = boxes[i].x2;
    d[i * 6 + 3] = boxes[i].y2;
    d[i * 6 + 4] = boxes[i].score;
    d[i * 6 + 5] = static_cast<float>(boxes[i].classId);
  }
  return out;
}

std::vector<Candidate> Unpack(const Napi::Float32Array& a, const std::string& name) {
  if (a.ElementLength() % 6 != 0) ThrowExpected(a.Env(), "a Float32Array with a length that is a multiple of 6", name, a);
  std::vector<Candidate> out(a.ElementLength() / 6);
  const float* d = a.Data();
  for (size_t i = 0; i < out.size(); ++i)
    out[i] = Candidate{d[i * 6], d[i * 6 + 1], d[i * 6 + 2], d[i * 6 + 3], d[i * 6 + 4], ClassIdFromFloat(d[i * 6 + 5])};
  return out;
}

Napi::Value Finish(Napi::Env env, std::vector<Candidate> cands, const CommonOptions& c) {
  std::vector<Candidate> kept = Nms(std::move(cands), c.iou, c.maxDetections, c.classAgnostic);
  if (c.hasLetterbox) MapToSource(kept, c.letterbox);
  return Pack(env, kept);
}

// decodeNanodet(levels: {scores, boxes, stride}[], options & { inputWidth, inputHeight, bins? }) -> Float32Array
Napi::Value DecodeNanodetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) ThrowExpected(env, "an array of levels", "levels", info[0]);
  Napi::Object o = ExpectObject(info[1], "options");
  CommonOptions c = ParseCommon(o);
  const int inputW = ExpectInt(o.Get("inputWidth"), "options.inputWidth", 1, 16384);
  const int inputH = ExpectInt(o.Get("inputHeight"), "options.inputHeight", 1, 16384);
  int bins = 11;
  if (!o.Get("bins").IsUndefined()) bins = ExpectInt(o.Get("bins"), "options.bins", 1, 1024);
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<NanodetLevel> levels;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    const std::string base = "levels[" + std::to_string(i) + "]";
    Napi::Object lv = ExpectObject(arr.Get(i), base);
    Napi::Float32Array s = ExpectFloat32Array(lv.Get("scores"), base + ".scores");
    Napi::Float32Array b = ExpectFloat32Array(lv.Get("boxes"), base + ".boxes");
    const int stride = ExpectInt(lv.Get("stride"), base + ".stride", 1, 4096);
    if (s.ElementLength() % static_cast<size_t>(c.numClasses) != 0)
      ThrowExpected(env, "a Float32Array of cells x numClasses scores", base + ".scores", s);
    const size_t cells = s.ElementLength() / c.numClasses;
    if (b.ElementLength() != cells * 4 * bins) {
      std::string what = "a Float32Array of " + std::to_string(cells * 4 * bins) + " values (cells x 4 x bins)";
      ThrowExpected(env, what.c_str(), base + ".boxes", b);
    }
    levels.push_back(NanodetLevel{s.Data(), b.Data(), static_cast<int>(cells), stride});
  }
  try {
    return Finish(env, DecodeNanodet(levels, c.numClasses, bins, inputW, inputH, c.filter), c);
  } catch (const std::invalid_argument& e) {
    throw Napi::RangeError::New(env, e.what());
  }
}

// decodeCenternet(rows: Float32Array [count*6], options) -> Float32Array
Napi::Value DecodeCenternetJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array rows = ExpectFloat32Array(info[0], "rows");
  if (rows.ElementLength() % 6 != 0) ThrowExpected(env, "a Float32Array with a length that is a multiple of 6", "rows", rows);
  CommonOptions c = ParseCommon(ExpectObject(info[1], "options"));
  return Finish(env, DecodeCenternet(rows.Data(), static_cast<int>(rows.ElementLength() / 6), c.numClasses, c.filter), c);
}

// decodeYolo(data: Float32Array, layout: 'v8' | 'v5', options) -> Float32Array
Napi::Value DecodeYoloJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Float32Array data = ExpectFloat32Array(info[0], "data");
  std::string layoutName = ExpectString(info[1], "layout");
  YoloLayout layout;
  if (layoutName == "v8") layout = YoloLayout::V8;
  else if (layoutName == "v5") layout = YoloLayout::V5;
  else ThrowExpected(env, "one of \"v8\", \"v5\"", "layout", info[1]);
  CommonOptions c = ParseCommon(ExpectObject(info[2], "options"));
  const size_t per = static_cast<size_t>(c.numClasses) + (layout == YoloLayout::V8 ? 4 : 5);
  if (data.ElementLength() % per != 0) {
    std::string what = "a Float32Array with a length that is a multiple of " + std::to_string(per);
    ThrowExpected(env, what.c_str(), "data", data);
  }
  const int n = static_cast<int>(data.ElementLength() / per);
  return Finish(env, DecodeYolo(data.Data(), n, c.numClasses, layout, c.filter), c);
}

// nms(boxes: Float32Array [n*6], { iouThreshold, maxDetections, classAgnostic? }) -> Float32Array
Napi::Value NmsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Candidate> boxes = Unpack(ExpectFloat32Array(info[0], "boxes"), "boxes");
  Napi::Object o = ExpectObject(info[1], "options");
  const float iou = ExpectUnit(o.Get("iouThreshold"), "options.iouThreshold");
  const int maxDet = ExpectInt(o.Get("maxDetections"), "options.maxDetections", 0, 1 << 20);
  bool agnostic = false;
  if (!o.Get("classAgnostic").IsUndefined()) agnostic = ExpectBool(o.Get("classAgnostic"), "options.classAgnostic");
  return Pack(env, Nms(std::move(boxes), iou, maxDet, agnostic));
}

// mapToSource(boxes: Float32Array [n*6], { scale, padX, padY, sourceWidth, sourceHeight }) -> Float32Array
Napi::Value MapToSourceJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Candidate> boxes = Unpack(ExpectFloat32Array(info[0], "boxes"), "boxes");
  LetterboxMap m = ParseLetterbox(ExpectObject(info[1], "letterbox"), "letterbox");
  MapToSource(boxes, m);
  return Pack(env, boxes);
}

}  // namespace

void InitPostprocess(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeNanodet", Napi::Function::New(env, DecodeNanodetJs, "decodeNanodet"));
  exports.Set("decodeCenternet", Napi::Function::New(env, DecodeCenternetJs, "decodeCenternet"));
  exports.Set("decodeYolo", Napi::Function::New(env, DecodeYoloJs, "decodeYolo"));
  exports.Set("nms", Napi::Function::New(env, NmsJs, "nms"));
  exports.Set("mapToSource", Napi::Function::New(env, MapToSourceJs, "mapToSource"));
  InitMotion(env, exports);
  InitSnapshot(env, exports);
}

}  // namespace vigil
