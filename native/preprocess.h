// Frame -> model tensor, in one pass: letterbox resize (bilinear, half-pixel centres, as OpenCV's INTER_LINEAR),
// colour conversion from the decoder's own format (no videoconvert in the pipeline), colour order, layout and
// normalization. Pure C++ with no GStreamer or N-API types, so it is unit-testable and usable from any thread.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vigil {

enum class PixelFormat { I420, NV12, RGB, BGR, RGBA, BGRA, RGBx, BGRx };
// NCHW_F32: float planes [3,H,W]; NHWC_U8: interleaved bytes [H,W,3] (raw pixels); NHWC_F32: interleaved floats
// [H,W,3], normalized like NCHW_F32 (mean 0 / std 1 gives raw 0..255 values, as the embedder wants).
enum class TensorLayout { NCHW_F32, NHWC_U8, NHWC_F32 };
enum class ColorOrder { RGB, BGR };
enum class YuvMatrix { BT601, BT709 };

struct SourceImage {
  PixelFormat format = PixelFormat::I420;
  int width = 0;
  int height = 0;
  const uint8_t* planes[3] = {nullptr, nullptr, nullptr};
  int strides[3] = {0, 0, 0};
  YuvMatrix matrix = YuvMatrix::BT601;
  bool fullRange = false;  // YUV only: full-range (JPEG) instead of studio swing (16-235 / 16-240)
};

struct TensorSpec {
  int width = 0;
  int height = 0;
  TensorLayout layout = TensorLayout::NCHW_F32;
  ColorOrder order = ColorOrder::RGB;
  // Per channel in tensor channel order: value = (pixel - mean) / std. Ignored for NHWC_U8.
  float mean[3] = {0, 0, 0};
  float std[3] = {1, 1, 1};
  // Border colour as an R, G, B pixel value (before normalization).
  uint8_t pad[3] = {114, 114, 114};
};

// A region of the source in whole source pixels (x, y: top-left; width, height > 0), inside the image.
struct Region {
  int x = 0;
  int y = 0;
  int width = 0;
  int height = 0;
};

// Where the source image sits in the tensor: tensor_x = source_x * scale + padX (same for y).
struct Letterbox {
  double scale = 1;
  int padX = 0;
  int padY = 0;
  int scaledWidth = 0;
  int scaledHeight = 0;
};

Letterbox ComputeLetterbox(int srcWidth, int srcHeight, int dstWidth, int dstHeight);
size_t TensorBytes(const TensorSpec& spec);

// Reusable per-camera state: sampling tables depend only on the source and tensor geometry, so they are built
// once and rebuilt only when the source size changes.
class Preprocessor {
 public:
  explicit Preprocessor(const TensorSpec& spec);
  ~Preprocessor();
  Preprocessor(const Preprocessor&) = delete;
  Preprocessor& operator=(const Preprocessor&) = delete;

  // Writes TensorBytes(spec) bytes to `out` (which must be 4-byte aligned for the float layouts). Returns the
  // letterbox.
  Letterbox Run(const SourceImage& src, void* out);
  // The same for a region of the source only: the region is letterboxed as if it were the whole image
  // (tensor_x = (source_x - region.x) * scale + padX). Sampling never reads outside the region's pixels (its chroma
  // samples for YUV), so the result equals cropping first, at any origin, odd ones included.
  Letterbox Run(const SourceImage& src, const Region& region, void* out);
  const TensorSpec& spec() const { return spec_; }

 private:
  struct Tables;
  void Prepare(const SourceImage& src, const Region& region);
  TensorSpec spec_;
  Tables* tables_;
  float lut_[3][256];
};

}  // namespace vigil
