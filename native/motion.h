// Motion gate (issue 3): a pure C++ detector on a downscaled luma plane, plus a small JS wrapper for tests.
//
// Update() block-averages the luma plane by `downscale` (default 1/8 per side), compares each cell with a running
// average background, and counts cells whose absolute difference exceeds a threshold derived from `sensitivity`
// (1 = most sensitive: 4 grey levels; 0 = least: 64). Cells whose centre lies inside a mask polygon (source pixels)
// are ignored. The first frame after construction, Reset() or a size change initialises the background and reports
// motion (so a camera's first frame is always analysed).
//
// Regions (issue 16): the changed cells are also grouped into rectangles in source pixels, so the frame path can
// run the detector on a crop around them. Changed cells within 2 * regionMergeCells cells of each other join one
// group (a dilation of the changed-cell grid, then connected components); each group's bounding box of changed
// cells is padded by regionPadding pixels and clamped to the frame, and padded boxes that overlap are merged, so
// the regions returned never overlap and regionShare (their total area over the frame's) is exact.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace vigil {

struct MotionPoint {
  float x, y;
};

struct MotionConfig {
  int downscale = 8;              // block size in source pixels, 1..64
  float sensitivity = 0.6f;       // 0..1
  float minChangedFraction = 0.002f;  // changed / unmasked cells at or above which a frame has motion
  float learningRate = 0.05f;     // background running-average weight of the new frame, 0..1
  int regionMergeCells = 1;       // dilation radius in cells before grouping, 0..16
  int regionPadding = 16;         // source pixels added on each side of a region, 0..1024
  std::vector<std::vector<MotionPoint>> masks;  // polygons in source pixels, excluded
};

// A rectangle in whole source pixels: top-left (x, y), size > 0, inside the frame.
struct MotionRegion {
  int x = 0, y = 0, width = 0, height = 0;
};

struct MotionResult {
  double changedFraction = 0.0;
  bool motion = false;
  int changedCells = 0;
  int activeCells = 0;  // cells not masked
  bool initialized = false;  // true when this frame (re)initialised the background
  // Disjoint, padded regions around the changed cells (source pixels), largest first; empty when nothing changed
  // and on a frame that (re)initialised the background (the whole frame is new then: regionShare 1).
  std::vector<MotionRegion> regions;
  double regionShare = 0.0;  // total area of `regions` over the frame's, 0..1
};

class MotionDetector {
 public:
  explicit MotionDetector(const MotionConfig& config);
  MotionResult Update(const uint8_t* luma, int width, int height, int stride);
  void Reset();
  int Threshold() const { return threshold_; }

 private:
  void Init(int width, int height);
  MotionConfig config_;
  int threshold_;
  int width_ = 0, height_ = 0, cw_ = 0, ch_ = 0;
  std::vector<float> background_;
  std::vector<uint8_t> masked_;
  std::vector<uint32_t> sums_;
  std::vector<uint16_t> colsum_;
  int active_ = 0;
  std::vector<uint8_t> changed_;  // per cell, this frame
  std::vector<uint8_t> dilated_;
  std::vector<uint8_t> rowPass_;
  std::vector<int> labels_;
  std::vector<int> stack_;
  void FindRegions(MotionResult* r);
};

// More than this many groups in one frame: they are returned as one region (their bounding box), since a frame that
// busy is analysed whole anyway.
constexpr int kMaxMotionRegions = 32;

// Registers the JS class MotionDetector on exports (called from InitPostprocess).
void InitMotion(Napi::Env env, Napi::Object exports);

}  // namespace vigil
