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
  void Build(int outCount, int srcCount, double srcPerOut, double subsample) {
    i0.resize(outCount);
    i1.resize(outCount);
    w.resize(outCount);
    const int planeCount = static_cast<int>(std::ceil(srcCount / subsample));
    for (int o = 0; o < outCount; ++o) {
      // Half-pixel centres in the full-resolution plane, then into the (possibly subsampled) plane.
      double f = (o + 0.5) * srcPerOut - 0.5;
      if (subsample != 1.0) f = (f + 0.5) / subsample - 0.5;
      f = std::clamp(f, 0.0, static_cast<double>(planeCount - 1));
      int a = static_cast<int>(std::floor(f));
      int wt = static_cast<int>(std::lround((f - a) * kOne));
      if (wt == kOne) { ++a; wt = 0; }
      i0[o] = a;
      i1[o] = std::min(a + 1, planeCount - 1);
      w[o] = wt;
    }
  }
};

inline int Lerp2(int p00, int p01, int p10, int p11, int wx, int wy) {
  const int top = p00 * (kOne - wx) + p01 * wx;
  const int bot = p10 * (kOne - wx) + p11 * wx;
  return (top * (kOne - wy) + bot * wy + (1 << (2 * kWeightBits - 1))) >> (2 * kWeightBits);
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

}  // namespace

struct Preprocessor::Tables {
  int srcWidth = -1, srcHeight = -1;
  PixelFormat format = PixelFormat::I420;
  Letterbox lb;
  Axis x, y, cx, cy;  // luma (or packed) axes, then chroma axes
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
  return spec.layout == TensorLayout::NCHW_F32 ? n * sizeof(float) : n;
}

Preprocessor::Preprocessor(const TensorSpec& spec) : spec_(spec), tables_(new Tables()) {
  for (int c = 0; c < 3; ++c)
    for (int v = 0; v < 256; ++v) lut_[c][v] = (static_cast<float>(v) - spec_.mean[c]) / spec_.std[c];
}

Preprocessor::~Preprocessor() { delete tables_; }

void Preprocessor::Prepare(const SourceImage& src) {
  Tables& t = *tables_;
  if (t.srcWidth == src.width && t.srcHeight == src.height && t.format == src.format) return;
  t.srcWidth = src.width;
  t.srcHeight = src.height;
  t.format = src.format;
  t.lb = ComputeLetterbox(src.width, src.height, spec_.width, spec_.height);
  const double rx = static_cast<double>(src.width) / t.lb.scaledWidth;
  const double ry = static_cast<double>(src.height) / t.lb.scaledHeight;
  t.x.Build(t.lb.scaledWidth, src.width, rx, 1.0);
  t.y.Build(t.lb.scaledHeight, src.height, ry, 1.0);
  if (IsYuv(src.format)) {
    t.cx.Build(t.lb.scaledWidth, src.width, rx, 2.0);
    t.cy.Build(t.lb.scaledHeight, src.height, ry, 2.0);
  }
}

Letterbox Preprocessor::Run(const SourceImage& src, void* out) {
  Prepare(src);
  const Tables& t = *tables_;
  const int W = spec_.width, H = spec_.height;
  const size_t plane = static_cast<size_t>(W) * H;
  const bool bgr = spec_.order == ColorOrder::BGR;
  const bool nchw = spec_.layout == TensorLayout::NCHW_F32;
  float* f0 = nchw ? static_cast<float*>(out) : nullptr;
  float* f1 = f0 ? f0 + plane : nullptr;
  float* f2 = f1 ? f1 + plane : nullptr;
  uint8_t* u8 = nchw ? nullptr : static_cast<uint8_t*>(out);

  // Tensor channel values for one RGB pixel.
  auto put = [&](size_t idx, int r, int g, int b) {
    const int c0 = bgr ? b : r, c2 = bgr ? r : b;
    if (nchw) {
      f0[idx] = lut_[0][c0];
      f1[idx] = lut_[1][g];
      f2[idx] = lut_[2][c2];
    } else {
      uint8_t* p = u8 + idx * 3;
      p[0] = static_cast<uint8_t>(c0);
      p[1] = static_cast<uint8_t>(g);
      p[2] = static_cast<uint8_t>(c2);
    }
  };
  auto fillRange = [&](size_t from, size_t count) {
    for (size_t i = from; i < from + count; ++i) put(i, spec_.pad[0], spec_.pad[1], spec_.pad[2]);
  };

  const Letterbox& lb = t.lb;
  // Border rows above and below, border columns left and right of the image.
  fillRange(0, static_cast<size_t>(lb.padY) * W);
  fillRange(static_cast<size_t>(lb.padY + lb.scaledHeight) * W,
            static_cast<size_t>(H - lb.padY - lb.scaledHeight) * W);
  const int right = W - lb.padX - lb.scaledWidth;

  if (IsYuv(src.format)) {
    const YuvCoeffs k = MakeCoeffs(src.matrix, src.fullRange);
    const bool nv12 = src.format == PixelFormat::NV12;
    for (int oy = 0; oy < lb.scaledHeight; ++oy) {
      const size_t rowIdx = static_cast<size_t>(oy + lb.padY) * W;
      fillRange(rowIdx, lb.padX);
      fillRange(rowIdx + lb.padX + lb.scaledWidth, right);
      const uint8_t* y0 = src.planes[0] + static_cast<size_t>(t.y.i0[oy]) * src.strides[0];
      const uint8_t* y1 = src.planes[0] + static_cast<size_t>(t.y.i1[oy]) * src.strides[0];
      const int wy = t.y.w[oy], cwy = t.cy.w[oy];
      const uint8_t* u0 = src.planes[1] + static_cast<size_t>(t.cy.i0[oy]) * src.strides[1];
      const uint8_t* u1 = src.planes[1] + static_cast<size_t>(t.cy.i1[oy]) * src.strides[1];
      const uint8_t* v0 = nv12 ? u0 + 1 : src.planes[2] + static_cast<size_t>(t.cy.i0[oy]) * src.strides[2];
      const uint8_t* v1 = nv12 ? u1 + 1 : src.planes[2] + static_cast<size_t>(t.cy.i1[oy]) * src.strides[2];
      const int cstep = nv12 ? 2 : 1;
      size_t idx = rowIdx + lb.padX;
      for (int ox = 0; ox < lb.scaledWidth; ++ox, ++idx) {
        const int a = t.x.i0[ox], b = t.x.i1[ox], wx = t.x.w[ox];
        const int Y = Lerp2(y0[a], y0[b], y1[a], y1[b], wx, wy);
        const int ca = t.cx.i0[ox] * cstep, cb = t.cx.i1[ox] * cstep, cwx = t.cx.w[ox];
        const int U = Lerp2(u0[ca], u0[cb], u1[ca], u1[cb], cwx, cwy) - 128;
        const int V = Lerp2(v0[ca], v0[cb], v1[ca], v1[cb], cwx, cwy) - 128;
        const int yy = k.cy * (Y - k.yOffset) + (1 << 13);
        put(idx, Clamp8((yy + k.crv * V) >> 14), Clamp8((yy - k.cgu * U - k.cgv * V) >> 14),
            Clamp8((yy + k.cbu * U) >> 14));
      }
    }
  } else {
    int ro, go, bo, bpp;
    PackedLayout(src.format, &ro, &go, &bo, &bpp);
    for (int oy = 0; oy < lb.scaledHeight; ++oy) {
      const size_t rowIdx = static_cast<size_t>(oy + lb.padY) * W;
      fillRange(rowIdx, lb.padX);
      fillRange(rowIdx + lb.padX + lb.scaledWidth, right);
      const uint8_t* r0 = src.planes[0] + static_cast<size_t>(t.y.i0[oy]) * src.strides[0];
      const uint8_t* r1 = src.planes[0] + static_cast<size_t>(t.y.i1[oy]) * src.strides[0];
      const int wy = t.y.w[oy];
      size_t idx = rowIdx + lb.padX;
      for (int ox = 0; ox < lb.scaledWidth; ++ox, ++idx) {
        const int a = t.x.i0[ox] * bpp, b = t.x.i1[ox] * bpp, wx = t.x.w[ox];
        put(idx, Lerp2(r0[a + ro], r0[b + ro], r1[a + ro], r1[b + ro], wx, wy),
            Lerp2(r0[a + go], r0[b + go], r1[a + go], r1[b + go], wx, wy),
            Lerp2(r0[a + bo], r0[b + bo], r1[a + bo], r1[b + bo], wx, wy));
      }
    }
  }
  return lb;
}

}  // namespace vigil
