// JPEG decoding for decodeJpeg (POST /search images, stored snapshots re-decoded for crops): libjpeg-turbo called
// directly on the calling thread, with limits that bound the time a hostile file can cost (issue 17). It replaced a
// GStreamer jpegdec pipeline, which a 549-byte file (native/fuzz/corpus/fuzz_jpeg/jpegdec-spin-9x7-gray.jpg) kept
// busy for minutes on a thread the caller then had to wait for.
//
// Limits: the frame header's size against a pixel limit (before any decoding), at most kJpegMaxScans scans (the
// standard mitigation for progressive "scan bombs": each scan is a pass over the whole image), libjpeg's
// corrupt-data warnings are errors (a damaged file is refused instead of decoded into invented pixels), and a
// wall-clock deadline checked from libjpeg's progress monitor as a last resort. Nothing runs after a refusal:
// every libjpeg allocation is freed by the decoder object's destructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "source_frame.h"

namespace vigil {

// More scans than any encoder writes (libjpeg's progressive default is 10 for colour, 6 for grey; a scan per
// coefficient band and bit is at most a few dozen), far fewer than a scan bomb needs.
constexpr int kJpegMaxScans = 100;
constexpr double kJpegMaxSeconds = 10;

struct JpegHeader {
  int width = 0;
  int height = 0;
  bool yuv420 = false;  // three components, luma sampled 2x2 and both chroma 1x1
};

// decodeJpeg's header check, before libjpeg sees the data: the size and sampling from the frame header, so an
// oversized image is refused undecoded, and a file cut off (no end-of-image marker) is refused before the decoder
// invents the missing rows. Never reads outside [d, d + n).
bool ParseJpegHeader(const uint8_t* d, size_t n, JpegHeader* h, std::string* error);

struct JpegLimits {
  double maxPixels = 16e6;
  int maxScans = kJpegMaxScans;
  double maxSeconds = kJpegMaxSeconds;
};

// Decodes a whole JPEG into a new SourceFrame (not counted against the live-capture budget): I420 for colour
// JPEGs with 4:2:0 sampling (the planes as coded, no conversion; full-range BT.601, colorimetry "1:4:0:0"), RGB
// for everything else (grey, 4:4:4, 4:2:2, ...). Returns null and sets `error` (a whole sentence) when the data is
// refused: not a JPEG, truncated, corrupt, over a limit, or out of memory. Thread-safe; no global state.
SourceFramePtr DecodeJpegImage(const uint8_t* data, size_t size, const JpegLimits& limits, std::string* error);

}  // namespace vigil
