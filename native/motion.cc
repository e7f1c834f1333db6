#include "motion.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "common.h"

namespace vigil {

namespace {

bool InsidePolygon(const std::vector<MotionPoint>& poly, float x, float y) {
  bool inside = false;
  const size_t n = poly.size();
  for (size_t i = 0, j = n - 1; i < n; j = i++) {
    const MotionPoint& a = poly[i];
    const MotionPoint& b = poly[j];
    if ((a.y > y) != (b.y > y) && x < (b.x - a.x) * (y - a.y) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

}  // namespace

MotionDetector::MotionDetector(const MotionConfig& config) : config_(config) {
  config_.downscale = std::clamp(config_.downscale, 1, 64);  // 64: a block (up to 127 rows) still fits u16 sums
  config_.regionMergeCells = std::clamp(config_.regionMergeCells, 0, 16);
  config_.regionPadding = std::clamp(config_.regionPadding, 0, 1024);
  const float s = std::clamp(config_.sensitivity, 0.0f, 1.0f);
  threshold_ = static_cast<int>(std::lround(4.0f + (1.0f - s) * 60.0f));
}

void MotionDetector::Reset() { width_ = height_ = 0; }

void MotionDetector::Init(int width, int height) {
  width_ = width;
  height_ = height;
  const int f = config_.downscale;
  cw_ = std::max(1, width / f);
  ch_ = std::max(1, height / f);
  background_.assign(static_cast<size_t>(cw_) * ch_, 0.0f);
  changed_.assign(static_cast<size_t>(cw_) * ch_, 0);
  sums_.assign(static_cast<size_t>(cw_), 0);
  masked_.assign(static_cast<size_t>(cw_) * ch_, 0);
  active_ = 0;
  const float bw = static_cast<float>(width) / cw_, bh = static_cast<float>(height) / ch_;
  for (int y = 0; y < ch_; ++y) {
    for (int x = 0; x < cw_; ++x) {
      const float px = (x + 0.5f) * bw, py = (y + 0.5f) * bh;
      bool m = false;
      for (const auto& poly : config_.masks) {
        if (poly.size() >= 3 && InsidePolygon(poly, px, py)) {
          m = true;
          break;
        }
      }
      masked_[static_cast<size_t>(y) * cw_ + x] = m ? 1 : 0;
      if (!m) ++active_;
    }
  }
}

MotionResult MotionDetector::Update(const uint8_t* luma, int width, int height, int stride) {
  MotionResult r;
  const bool fresh = width != width_ || height != height_;
  if (fresh) Init(width, height);
  // Block sizes: cells cover the frame evenly; the last row/column of blocks takes the remainder.
  const int f = config_.downscale;
  int changed = 0;
  colsum_.resize(static_cast<size_t>(width));
  for (int cy = 0; cy < ch_; ++cy) {
    const int y0 = cy * f, y1 = (cy == ch_ - 1) ? height : std::min(height, y0 + f);
    // Vertical pass (vectorises: widening u8 -> u16 adds over the block's rows; at most 64 + 63 rows of 255 fit),
    // then one horizontal sum per block.
    uint16_t* cs = colsum_.data();
    std::fill(colsum_.begin(), colsum_.end(), static_cast<uint16_t>(0));
    for (int y = y0; y < y1; ++y) {
      const uint8_t* row = luma + static_cast<size_t>(y) * stride;
      for (int x = 0; x < width; ++x) cs[x] = static_cast<uint16_t>(cs[x] + row[x]);
    }
    for (int cx = 0; cx < cw_; ++cx) {
      const int x0 = cx * f, x1 = (cx == cw_ - 1) ? width : std::min(width, x0 + f);
      uint32_t sum = 0;
      for (int x = x0; x < x1; ++x) sum += cs[x];
      sums_[cx] = sum;
    }
    for (int cx = 0; cx < cw_; ++cx) {
      const int x0 = cx * f, x1 = (cx == cw_ - 1) ? width : std::min(width, x0 + f);
      const float mean = static_cast<float>(sums_[cx]) / static_cast<float>((x1 - x0) * (y1 - y0));
      float& bg = background_[static_cast<size_t>(cy) * cw_ + cx];
      if (fresh) {
        bg = mean;
        continue;
      }
      const size_t ci = static_cast<size_t>(cy) * cw_ + cx;
      const bool c = !masked_[ci] && std::fabs(mean - bg) > static_cast<float>(threshold_);
      changed_[ci] = c ? 1 : 0;
      changed += c ? 1 : 0;
      bg += config_.learningRate * (mean - bg);
    }
  }
  r.activeCells = active_;
  r.initialized = fresh;
  if (fresh) {
    r.motion = true;
    r.changedFraction = 1.0;
    r.changedCells = active_;
    r.regionShare = 1.0;
    return r;
  }
  r.changedCells = changed;
  r.changedFraction = active_ > 0 ? static_cast<double>(changed) / active_ : 0.0;
  r.motion = active_ > 0 && r.changedFraction >= config_.minChangedFraction;
  if (changed > 0) FindRegions(&r);
  return r;
}

void MotionDetector::FindRegions(MotionResult* r) {
  const int w = cw_, h = ch_, g = config_.regionMergeCells, f = config_.downscale;
  const size_t n = static_cast<size_t>(w) * h;
  // Dilation by g cells (separable max: rows, then columns), so groups closer than 2g + 1 cells touch.
  dilated_.assign(n, 0);
  std::vector<uint8_t>& tmp = rowPass_;
  tmp.assign(n, 0);
  for (int y = 0; y < h; ++y) {
    const uint8_t* in = &changed_[static_cast<size_t>(y) * w];
    uint8_t* out = &tmp[static_cast<size_t>(y) * w];
    for (int x = 0; x < w; ++x) {
      if (!in[x]) continue;
      const int a = std::max(0, x - g), b = std::min(w - 1, x + g);
      for (int k = a; k <= b; ++k) out[k] = 1;
    }
  }
  for (int y = 0; y < h; ++y) {
    const uint8_t* in = &tmp[static_cast<size_t>(y) * w];
    const int a = std::max(0, y - g), b = std::min(h - 1, y + g);
    for (int x = 0; x < w; ++x) {
      if (!in[x]) continue;
      for (int k = a; k <= b; ++k) dilated_[static_cast<size_t>(k) * w + x] = 1;
    }
  }
  // Connected components (8-neighbour) of the dilated grid; each group's box covers its changed cells only.
  labels_.assign(n, -1);
  struct Box {
    int x0, y0, x1, y1;  // cells, inclusive
  };
  std::vector<Box> boxes;
  for (size_t start = 0; start < n; ++start) {
    if (!dilated_[start] || labels_[start] >= 0) continue;
    const int id = static_cast<int>(boxes.size());
    Box b{w, h, -1, -1};
    stack_.clear();
    stack_.push_back(static_cast<int>(start));
    labels_[start] = id;
    while (!stack_.empty()) {
      const int i = stack_.back();
      stack_.pop_back();
      const int x = i % w, y = i / w;
      if (changed_[static_cast<size_t>(i)]) {
        b.x0 = std::min(b.x0, x);
        b.y0 = std::min(b.y0, y);
        b.x1 = std::max(b.x1, x);
        b.y1 = std::max(b.y1, y);
      }
      for (int dy = -1; dy <= 1; ++dy) {
        const int yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (int dx = -1; dx <= 1; ++dx) {
          const int xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const size_t j = static_cast<size_t>(yy) * w + xx;
          if (dilated_[j] && labels_[j] < 0) {
            labels_[j] = id;
            stack_.push_back(static_cast<int>(j));
          }
        }
      }
    }
    boxes.push_back(b);  // every group holds at least one changed cell (dilation only grows from them)
  }
  if (static_cast<int>(boxes.size()) > kMaxMotionRegions) {
    Box all{w, h, -1, -1};
    for (const Box& b : boxes) {
      all.x0 = std::min(all.x0, b.x0);
      all.y0 = std::min(all.y0, b.y0);
      all.x1 = std::max(all.x1, b.x1);
      all.y1 = std::max(all.y1, b.y1);
    }
    boxes.assign(1, all);
  }
  // Cells -> padded source pixels (the last row/column of cells reaches the frame's edge).
  const int pad = config_.regionPadding;
  std::vector<MotionRegion> rs;
  rs.reserve(boxes.size());
  for (const Box& b : boxes) {
    const int px0 = b.x0 * f, py0 = b.y0 * f;
    const int px1 = b.x1 == w - 1 ? width_ : (b.x1 + 1) * f;
    const int py1 = b.y1 == h - 1 ? height_ : (b.y1 + 1) * f;
    const int x0 = std::max(0, px0 - pad), y0 = std::max(0, py0 - pad);
    const int x1 = std::min(width_, px1 + pad), y1 = std::min(height_, py1 + pad);
    rs.push_back(MotionRegion{x0, y0, x1 - x0, y1 - y0});
  }
  // Padding can make neighbours overlap: merge until disjoint (few regions by now).
  for (bool merged = true; merged;) {
    merged = false;
    for (size_t i = 0; i < rs.size() && !merged; ++i) {
      for (size_t j = i + 1; j < rs.size(); ++j) {
        const MotionRegion& a = rs[i];
        const MotionRegion& b = rs[j];
        if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) {
          const int x0 = std::min(a.x, b.x), y0 = std::min(a.y, b.y);
          const int x1 = std::max(a.x + a.width, b.x + b.width), y1 = std::max(a.y + a.height, b.y + b.height);
          rs[i] = MotionRegion{x0, y0, x1 - x0, y1 - y0};
          rs.erase(rs.begin() + static_cast<std::ptrdiff_t>(j));
          merged = true;
          break;
        }
      }
    }
  }
  std::stable_sort(rs.begin(), rs.end(), [](const MotionRegion& a, const MotionRegion& b) {
    return static_cast<int64_t>(a.width) * a.height > static_cast<int64_t>(b.width) * b.height;
  });
  int64_t area = 0;
  for (const MotionRegion& m : rs) area += static_cast<int64_t>(m.width) * m.height;
  r->regionShare = static_cast<double>(area) / (static_cast<double>(width_) * height_);
  r->regions = std::move(rs);
}

// ---- JS wrapper ------------------------------------------------------------------------------------------------

namespace {

class MotionDetectorJs : public Napi::ObjectWrap<MotionDetectorJs> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "MotionDetector", {
      InstanceMethod("update", &MotionDetectorJs::UpdateJs),
      InstanceMethod("reset", &MotionDetectorJs::ResetJs),
      InstanceMethod("close", &MotionDetectorJs::CloseJs),
      InstanceAccessor("closed", &MotionDetectorJs::ClosedJs, nullptr),
      InstanceAccessor("threshold", &MotionDetectorJs::ThresholdJs, nullptr),
    });
  }

  explicit MotionDetectorJs(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MotionDetectorJs>(info) {
    Napi::Env env = info.Env();
    MotionConfig c;
    if (!info[0].IsUndefined()) {
      Napi::Object o = ExpectObject(info[0], "config");
      if (!o.Get("downscale").IsUndefined()) c.downscale = ExpectInt(o.Get("downscale"), "config.downscale", 1, 64);
      if (!o.Get("sensitivity").IsUndefined()) c.sensitivity = Unit(o.Get("sensitivity"), "config.sensitivity");
      if (!o.Get("minChangedFraction").IsUndefined())
        c.minChangedFraction = Unit(o.Get("minChangedFraction"), "config.minChangedFraction");
      if (!o.Get("learningRate").IsUndefined()) c.learningRate = Unit(o.Get("learningRate"), "config.learningRate");
      if (!o.Get("regionMergeCells").IsUndefined())
        c.regionMergeCells = ExpectInt(o.Get("regionMergeCells"), "config.regionMergeCells", 0, 16);
      if (!o.Get("regionPadding").IsUndefined())
        c.regionPadding = ExpectInt(o.Get("regionPadding"), "config.regionPadding", 0, 1024);
      Napi::Value masks = o.Get("masks");
      if (!masks.IsUndefined()) {
        if (!masks.IsArray()) ThrowExpected(env, "an array of polygons", "config.masks", masks);
        Napi::Array ma = masks.As<Napi::Array>();
        for (uint32_t i = 0; i < ma.Length(); ++i) {
          const std::string pn = "config.masks[" + std::to_string(i) + "]";
          Napi::Value pv = ma.Get(i);
          if (!pv.IsArray() || pv.As<Napi::Array>().Length() < 3)
            ThrowExpected(env, "an array of at least 3 [x, y] points", pn, pv);
          Napi::Array pa = pv.As<Napi::Array>();
          std::vector<MotionPoint> poly;
          for (uint32_t k = 0; k < pa.Length(); ++k) {
            const std::string ptn = pn + "[" + std::to_string(k) + "]";
            Napi::Value pt = pa.Get(k);
            if (!pt.IsArray() || pt.As<Napi::Array>().Length() != 2) ThrowExpected(env, "an [x, y] point", ptn, pt);
            Napi::Array xy = pt.As<Napi::Array>();
            poly.push_back(MotionPoint{static_cast<float>(ExpectNumber(xy.Get(0u), ptn + "[0]")),
                                       static_cast<float>(ExpectNumber(xy.Get(1u), ptn + "[1]"))});
          }
          c.masks.push_back(std::move(poly));
        }
      }
    }
    detector_ = std::make_unique<MotionDetector>(c);
  }

 private:
  static float Unit(const Napi::Value& v, const std::string& name) {
    double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1.0;
    if (!v.IsNumber() || !(d >= 0.0 && d <= 1.0)) ThrowExpected(v.Env(), "a number from 0 to 1", name, v);
    return static_cast<float>(d);
  }

  void CheckOpen(Napi::Env env) const {
    if (!detector_) throw MakeError(env, "E_CLOSED", "MotionDetector is closed");
  }

  // update(pixels: Uint8Array, { format: 'GRAY8' | 'I420' | 'NV12', width, height, stride? }) -> result
  Napi::Value UpdateJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    CheckOpen(env);
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      ThrowExpected(env, "a Uint8Array", "pixels", info[0]);
    Napi::Uint8Array px = info[0].As<Napi::Uint8Array>();
    Napi::Object img = ExpectObject(info[1], "image");
    const std::string fmt = ExpectString(img.Get("format"), "image.format");
    if (fmt != "GRAY8" && fmt != "I420" && fmt != "NV12")
      ThrowExpected(env, "one of \"GRAY8\", \"I420\", \"NV12\"", "image.format", img.Get("format"));
    const int w = ExpectInt(img.Get("width"), "image.width", 1, 16384);
    const int h = ExpectInt(img.Get("height"), "image.height", 1, 16384);
    int stride = w;
    if (!img.Get("stride").IsUndefined()) stride = ExpectInt(img.Get("stride"), "image.stride", w, 65536);
    // The luma plane comes first in all three formats; only it is read.
    const size_t need = static_cast<size_t>(stride) * (h - 1) + w;
    if (px.ByteLength() < need)
      throw Napi::RangeError::New(env, "Expected at least " + std::to_string(need) + " bytes for pixels but received " +
                                           std::to_string(px.ByteLength()));
    MotionResult r = detector_->Update(px.Data(), w, h, stride);
    Napi::Object o = Napi::Object::New(env);
    o.Set("motion", r.motion);
    o.Set("changedFraction", r.changedFraction);
    o.Set("changedCells", r.changedCells);
    o.Set("activeCells", r.activeCells);
    o.Set("initialized", r.initialized);
    o.Set("regionShare", r.regionShare);
    Napi::Array regions = Napi::Array::New(env, r.regions.size());
    for (size_t i = 0; i < r.regions.size(); ++i) {
      Napi::Object g = Napi::Object::New(env);
      g.Set("x", r.regions[i].x);
      g.Set("y", r.regions[i].y);
      g.Set("width", r.regions[i].width);
      g.Set("height", r.regions[i].height);
      regions.Set(static_cast<uint32_t>(i), g);
    }
    o.Set("regions", regions);
    return o;
  }

  Napi::Value ResetJs(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    detector_->Reset();
    return info.Env().Undefined();
  }
  Napi::Value CloseJs(const Napi::CallbackInfo& info) {
    detector_.reset();
    return info.Env().Undefined();
  }
  Napi::Value ClosedJs(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !detector_); }
  Napi::Value ThresholdJs(const Napi::CallbackInfo& info) {
    CheckOpen(info.Env());
    return Napi::Number::New(info.Env(), detector_->Threshold());
  }

  std::unique_ptr<MotionDetector> detector_;
};

}  // namespace

void InitMotion(Napi::Env env, Napi::Object exports) { exports.Set("MotionDetector", MotionDetectorJs::Init(env)); }

}  // namespace vigil
