#include "preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

namespace vigil {

namespace {

constexpr int kWeightBits = 8;  // bilinear weights in 1/256: p*256*256 stays well inside int32
constexpr int kOne = 1 << kWeightBits;

// One axis of the bilinear sampling: for each output position, the two source indices and the weight of the second.
struct Axis {
  std::vector<int> i0, i1, w;
  // Output positions 0..outCount-1 cover source pixels [start, start + count) (full-resolution units); taps are
  // absolute indices into the plane, which is `subsample` times smaller, and never leave the samples covering that
  // span.
  void Build(int outCount, int start, int count, double srcPerOut, double subsample) {
    i0.resize(outCount);
    i1.resize(outCount);
    w.resize(outCount);
    const int lo = static_cast<int>(std::floor(start / subsample));
    const int hi = static_cast<int>(std::ceil((start + count) / subsample)) - 1;
    for (int o = 0; o < outCount; ++o) {
      // Half-pixel centres in the full-resolution plane, then into the (possibly subsampled) plane.
      double f = start + (o + 0.5) * srcPerOut - 0.5;
      if (subsample != 1.0) f = (f + 0.5) / subsample - 0.5;
      f = std::clamp(f, static_cast<double>(lo), static_cast<double>(hi));
      int a = static_cast<int>(std::floor(f));
      int wt = static_cast<int>(std::lround((f - a) * kOne));
      if (wt == kOne) { ++a; wt = 0; }
      i0[o] = a;
      i1[o] = std::min(a + 1, hi);
      w[o] = wt;
    }
  }
};

// Bilinear blend in fixed point, one multiply per lerp: a + (b - a) * w.
inline int Lerp2(int p00, int p01, int p10, int p11, int wx, int wy) {
  const int top = (p00 << kWeightBits) + (p01 - p00) * wx;
  const int bot = (p10 << kWeightBits) + (p11 - p10) * wx;
  return ((top << kWeightBits) + (bot - top) * wy + (1 << (2 * kWeightBits - 1))) >> (2 * kWeightBits);
}

inline uint8_t Clamp8(int v) { return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v)); }

struct YuvCoeffs {
  int yOffset, cy, crv, cgu, cgv, cbu;  // fixed point, 14 fractional bits
};

YuvCoeffs MakeCoeffs(YuvMatrix m, bool fullRange) {
  const double kr = m == YuvMatrix::BT709 ? 0.2126 : 0.299;
  const double kb = m == YuvMatrix::BT709 ? 0.0722 : 0.114;
  const double kg = 1.0 - kr - kb;
  const double ys = fullRange ? 1.0 : 255.0 / 219.0;
  const double cs = fullRange ? 1.0 : 255.0 / 224.0;
  auto fx = [](double v) { return static_cast<int>(std::lround(v * (1 << 14))); };
  return YuvCoeffs{fullRange ? 0 : 16,
                   fx(ys),
                   fx(cs * 2 * (1 - kr)),
                   fx(cs * 2 * kb * (1 - kb) / kg),
                   fx(cs * 2 * kr * (1 - kr) / kg),
                   fx(cs * 2 * (1 - kb))};
}

bool IsYuv(PixelFormat f) { return f == PixelFormat::I420 || f == PixelFormat::NV12; }

// Byte offsets of R, G, B inside one pixel of a packed RGB format, and the pixel size.
void PackedLayout(PixelFormat f, int* r, int* g, int* b, int* bpp) {
  switch (f) {
    case PixelFormat::RGB: *r = 0; *g = 1; *b = 2; *bpp = 3; break;
    case PixelFormat::BGR: *r = 2; *g = 1; *b = 0; *bpp = 3; break;
    case PixelFormat::RGBA:
    case PixelFormat::RGBx: *r = 0; *g = 1; *b = 2; *bpp = 4; break;
    case PixelFormat::BGRA:
    case PixelFormat::BGRx: *r = 2; *g = 1; *b = 0; *bpp = 4; break;
    default: *r = 0; *g = 1; *b = 2; *bpp = 3; break;
  }
}

// Per output column: luma (or packed) taps and weight, chroma taps and weight, packed into one record so the
// inner loop reads one cache line per few pixels instead of six arrays.
struct ColumnTap {
  int i0, i1, w;
  int c0, c1, cw;
};

}  // namespace

struct Preprocessor::Tables {
  int srcWidth = -1, srcHeight = -1;
  Region region{-1, -1, -1, -1};
  PixelFormat format = PixelFormat::I420;
  Letterbox lb;
  Axis x, y, cx, cy;  // luma (or packed) axes, then chroma axes
  std::vector<ColumnTap> cols;
};

Letterbox ComputeLetterbox(int srcWidth, int srcHeight, int dstWidth, int dstHeight) {
  Letterbox lb;
  lb.scale = std::min(static_cast<double>(dstWidth) / srcWidth, static_cast<double>(dstHeight) / srcHeight);
  lb.scaledWidth = std::clamp(static_cast<int>(std::lround(srcWidth * lb.scale)), 1, dstWidth);
  lb.scaledHeight = std::clamp(static_cast<int>(std::lround(srcHeight * lb.scale)), 1, dstHeight);
  lb.padX = (dstWidth - lb.scaledWidth) / 2;
  lb.padY = (dstHeight - lb.scaledHeight) / 2;
  return lb;
}

size_t TensorBytes(const TensorSpec& spec) {
  const size_t n = static_cast<size_t>(spec.width) * spec.height * 3;
  return spec.layout == TensorLayout::NHWC_U8 ? n : n * sizeof(float);
}

Preprocessor::Preprocessor(const TensorSpec& spec) : spec_(spec), tables_(new Tables()) {
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut_[c][v] = (static_cast<float>(v) - spec_.mean[c]) / spec_.std[c];
}

Preprocessor::~Preprocessor() { delete tables_; }

void Preprocessor::Prepare(const SourceImage& src, const Region& r) {
  Tables& t = *tables_;
  if (t.srcWidth == src.width && t.srcHeight == src.height && t.format == src.format && t.region.x == r.x &&
      t.region.y == r.y && t.region.width == r.width && t.region.height == r.height)
    return;
  t.srcWidth = src.width;
  t.srcHeight = src.height;
  t.format = src.format;
  t.region = r;
  t.lb = ComputeLetterbox(r.width, r.height, spec_.width, spec_.height);
  const double rx = static_cast<double>(r.width) / t.lb.scaledWidth;
  const double ry = static_cast<double>(r.height) / t.lb.scaledHeight;
  const bool yuv = IsYuv(src.format);
  t.x.Build(t.lb.scaledWidth, r.x, r.width, rx, 1.0);
  t.y.Build(t.lb.scaledHeight, r.y, r.height, ry, 1.0);
  if (yuv) {
    t.cx.Build(t.lb.scaledWidth, r.x, r.width, rx, 2.0);
    t.cy.Build(t.lb.scaledHeight, r.y, r.height, ry, 2.0);
  }
  t.cols.resize(t.lb.scaledWidth);
  for (int i = 0; i < t.lb.scaledWidth; ++i)
    t.cols[i] = ColumnTap{t.x.i0[i], t.x.i1[i], t.x.w[i], yuv ? t.cx.i0[i] : 0, yuv ? t.cx.i1[i] : 0, yuv ? t.cx.w[i] : 0};
}

namespace {

// Writes one RGB pixel into the tensor, specialised on layout and channel order so the inner loops carry no
// per-pixel branches.
template <TensorLayout kLayout, bool kBgr>
struct Writer {
  float* f0;
  float* f1;
  float* f2;
  uint8_t* u8;
  const float (*lut)[256];
  inline void Put(size_t idx, int r, int g, int b) const {
    const int c0 = kBgr ? b : r, c2 = kBgr ? r : b;
    if (kLayout == TensorLayout::NCHW_F32) {
      f0[idx] = lut[0][c0];
      f1[idx] = lut[1][g];
      f2[idx] = lut[2][c2];
    } else if (kLayout == TensorLayout::NHWC_F32) {
      float* p = f0 + idx * 3;
      p[0] = lut[0][c0];
      p[1] = lut[1][g];
      p[2] = lut[2][c2];
    } else {
      uint8_t* p = u8 + idx * 3;
      p[0] = static_cast<uint8_t>(c0);
      p[1] = static_cast<uint8_t>(g);
      p[2] = static_cast<uint8_t>(c2);
    }
  }
  inline void Fill(size_t from, size_t count, const uint8_t pad[3]) const {
    for (size_t i = from; i < from + count; ++i) Put(i, pad[0], pad[1], pad[2]);
  }
};

// Border rows above and below the image.
template <class Out>
void FillBorderRows(const Out& out, const Letterbox& lb, int W, int H, const uint8_t pad[3]) {
  out.Fill(0, static_cast<size_t>(lb.padY) * W, pad);
  out.Fill(static_cast<size_t>(lb.padY + lb.scaledHeight) * W, static_cast<size_t>(H - lb.padY - lb.scaledHeight) * W, pad);
}

// Border columns left and right of image row `oy`; returns the tensor index of the row's first pixel.
template <class Out>
size_t FillRowSides(const Out& out, const Letterbox& lb, int W, int oy, const uint8_t pad[3]) {
  const size_t rowIdx = static_cast<size_t>(oy + lb.padY) * W;
  out.Fill(rowIdx, lb.padX, pad);
  out.Fill(rowIdx + lb.padX + lb.scaledWidth, W - lb.padX - lb.scaledWidth, pad);
  return rowIdx;
}

// kChromaLerp: bilinear chroma. At a 2x or larger downscale the half-resolution chroma plane is already sampled at
// or below its own rate, so the nearest chroma sample is used instead (a third fewer operations per pixel).
template <TensorLayout kLayout, bool kBgr, bool kNv12, bool kChromaLerp>
void RunYuv(const Writer<kLayout, kBgr>& out, const SourceImage& src, const Letterbox& lb, int W, int H,
            const std::vector<ColumnTap>& cols, const Axis& ry, const Axis& rcy, const uint8_t pad[3]) {
  const YuvCoeffs k = MakeCoeffs(src.matrix, src.fullRange);
  constexpr int cstep = kNv12 ? 2 : 1;
  FillBorderRows(out, lb, W, H, pad);
  for (int oy = 0; oy < lb.scaledHeight; ++oy) {
    const size_t rowIdx = FillRowSides(out, lb, W, oy, pad);
    const uint8_t* y0 = src.planes[0] + static_cast<size_t>(ry.i0[oy]) * src.strides[0];
    const uint8_t* y1 = src.planes[0] + static_cast<size_t>(ry.i1[oy]) * src.strides[0];
    const int wy = ry.w[oy], cwy = rcy.w[oy];
    const uint8_t* u0 = src.planes[1] + static_cast<size_t>(rcy.i0[oy]) * src.strides[1];
    const uint8_t* u1 = src.planes[1] + static_cast<size_t>(rcy.i1[oy]) * src.strides[1];
    const uint8_t* v0 = kNv12 ? u0 + 1 : src.planes[2] + static_cast<size_t>(rcy.i0[oy]) * src.strides[2];
    const uint8_t* v1 = kNv12 ? u1 + 1 : src.planes[2] + static_cast<size_t>(rcy.i1[oy]) * src.strides[2];
    size_t idx = rowIdx + lb.padX;
    const ColumnTap* col = cols.data();
    for (int ox = 0; ox < lb.scaledWidth; ++ox, ++idx, ++col) {
      const int a = col->i0, b = col->i1, wx = col->w;
      const int Y = Lerp2(y0[a], y0[b], y1[a], y1[b], wx, wy);
      const int ca = col->c0 * cstep, cb = col->c1 * cstep, cwx = col->cw;
      int U, V;
      if (kChromaLerp) {
        U = Lerp2(u0[ca], u0[cb], u1[ca], u1[cb], cwx, cwy) - 128;
        V = Lerp2(v0[ca], v0[cb], v1[ca], v1[cb], cwx, cwy) - 128;
      } else {
        const uint8_t* un = cwy < kOne / 2 ? u0 : u1;
        const uint8_t* vn = cwy < kOne / 2 ? v0 : v1;
        const int cn = cwx < kOne / 2 ? ca : cb;
        U = un[cn] - 128;
        V = vn[cn] - 128;
      }
      const int yy = k.cy * (Y - k.yOffset) + (1 << 13);
      out.Put(idx, Clamp8((yy + k.crv * V) >> 14), Clamp8((yy - k.cgu * U - k.cgv * V) >> 14),
              Clamp8((yy + k.cbu * U) >> 14));
    }
  }
}

template <TensorLayout kLayout, bool kBgr>
void RunPacked(const Writer<kLayout, kBgr>& out, const SourceImage& src, const Letterbox& lb, int W, int H,
               const std::vector<ColumnTap>& cols, const Axis& ry, const uint8_t pad[3]) {
  int ro, go, bo, bpp;
  PackedLayout(src.format, &ro, &go, &bo, &bpp);
  FillBorderRows(out, lb, W, H, pad);
  for (int oy = 0; oy < lb.scaledHeight; ++oy) {
    const size_t rowIdx = FillRowSides(out, lb, W, oy, pad);
    const uint8_t* r0 = src.planes[0] + static_cast<size_t>(ry.i0[oy]) * src.strides[0];
    const uint8_t* r1 = src.planes[0] + static_cast<size_t>(ry.i1[oy]) * src.strides[0];
    const int wy = ry.w[oy];
    size_t idx = rowIdx + lb.padX;
    const ColumnTap* col = cols.data();
    for (int ox = 0; ox < lb.scaledWidth; ++ox, ++idx, ++col) {
      const int a = col->i0 * bpp, b = col->i1 * bpp, wx = col->w;
      out.Put(idx, Lerp2(r0[a + ro], r0[b + ro], r1[a + ro], r1[b + ro], wx, wy),
              Lerp2(r0[a + go], r0[b + go], r1[a + go], r1[b + go], wx, wy),
              Lerp2(r0[a + bo], r0[b + bo], r1[a + bo], r1[b + bo], wx, wy));
    }
  }
}

template <TensorLayout kLayout, bool kBgr>
void Dispatch(void* outPtr, const float (*lut)[256], const SourceImage& src, const Letterbox& lb, const TensorSpec& spec,
              const std::vector<ColumnTap>& cols, const Axis& ry, const Axis& rcy) {
  const size_t plane = static_cast<size_t>(spec.width) * spec.height;
  Writer<kLayout, kBgr> w{};
  if (kLayout == TensorLayout::NCHW_F32) {
    w.f0 = static_cast<float*>(outPtr);
    w.f1 = w.f0 + plane;
    w.f2 = w.f1 + plane;
  } else if (kLayout == TensorLayout::NHWC_F32) {
    w.f0 = static_cast<float*>(outPtr);
  } else {
    w.u8 = static_cast<uint8_t*>(outPtr);
  }
  w.lut = lut;
  const bool lerp = lb.scale > 0.5;
  const int W = spec.width, H = spec.height;
  if (src.format == PixelFormat::I420) {
    if (lerp) RunYuv<kLayout, kBgr, false, true>(w, src, lb, W, H, cols, ry, rcy, spec.pad);
    else RunYuv<kLayout, kBgr, false, false>(w, src, lb, W, H, cols, ry, rcy, spec.pad);
  } else if (src.format == PixelFormat::NV12) {
    if (lerp) RunYuv<kLayout, kBgr, true, true>(w, src, lb, W, H, cols, ry, rcy, spec.pad);
    else RunYuv<kLayout, kBgr, true, false>(w, src, lb, W, H, cols, ry, rcy, spec.pad);
  }
  else RunPacked<kLayout, kBgr>(w, src, lb, spec.width, spec.height, cols, ry, spec.pad);
}

template <TensorLayout kLayout>
void DispatchOrder(bool bgr, void* out, const float (*lut)[256], const SourceImage& src, const Letterbox& lb,
                   const TensorSpec& spec, const std::vector<ColumnTap>& cols, const Axis& ry, const Axis& rcy) {
  if (bgr) Dispatch<kLayout, true>(out, lut, src, lb, spec, cols, ry, rcy);
  else Dispatch<kLayout, false>(out, lut, src, lb, spec, cols, ry, rcy);
}

}  // namespace

Letterbox Preprocessor::Run(const SourceImage& src, void* out) {
  return Run(src, Region{0, 0, src.width, src.height}, out);
}

Letterbox Preprocessor::Run(const SourceImage& src, const Region& region, void* out) {
  Prepare(src, region);
  const Tables& t = *tables_;
  const bool bgr = spec_.order == ColorOrder::BGR;
  switch (spec_.layout) {
    case TensorLayout::NCHW_F32: DispatchOrder<TensorLayout::NCHW_F32>(bgr, out, lut_, src, t.lb, spec_, t.cols, t.y, t.cy); break;
    case TensorLayout::NHWC_F32: DispatchOrder<TensorLayout::NHWC_F32>(bgr, out, lut_, src, t.lb, spec_, t.cols, t.y, t.cy); break;
    case TensorLayout::NHWC_U8: DispatchOrder<TensorLayout::NHWC_U8>(bgr, out, lut_, src, t.lb, spec_, t.cols, t.y, t.cy); break;
  }
  return t.lb;
}

}  // namespace vigil
