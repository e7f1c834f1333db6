// Source frames (issue 3 item 7; search and notifications build on them): a deep copy of one decoded frame, in
// its own format with tight planes, in native memory owned by a SourceFrame object. Copies, never refs, so a
// snapshot kept for minutes never holds a decoder-pool buffer (a fixed-size hardware decoder pool would stall).
// JPEG encoding and tensor crops run on libuv workers; the memory is refcounted so close() during a worker is
// safe (freed when the last worker finishes). Every byte retained is counted process-wide against a budget that
// live captures respect. Freed buffers go to a small bounded cache (8 buffers, 32 MiB) that a background thread
// keeps stocked for the size live captures use: a fresh mapping faults on every page, which cost 4x the copy.
#pragma once

#include <gst/gst.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "preprocess.h"

namespace vigil {

struct SourceFrameData {
  PixelFormat format = PixelFormat::I420;
  std::string formatName;  // GStreamer name: I420, NV12, RGB, BGR, RGBA, BGRA, RGBx, BGRx
  int width = 0;           // pixels
  int height = 0;
  uint8_t* bytes = nullptr;  // 64-byte aligned, tight planes one after another
  size_t byteLength = 0;
  size_t offsets[3] = {0, 0, 0};
  int strides[3] = {0, 0, 0};
  int planeCount = 1;
  YuvMatrix matrix = YuvMatrix::BT601;
  bool fullRange = false;
  std::string colorimetry;  // GStreamer colorimetry string of YUV frames, "" when unknown

  SourceFrameData() = default;
  SourceFrameData(const SourceFrameData&) = delete;
  SourceFrameData& operator=(const SourceFrameData&) = delete;
  ~SourceFrameData();  // frees the bytes and takes them off the process-wide count
  SourceImage Image() const;
};

using SourceFramePtr = std::shared_ptr<SourceFrameData>;

// Why an allocation failed.
enum class SourceAlloc { Ok, OverBudget, NoMemory };

// Tight plane layout of a frame: fills offsets / strides, returns the total byte count (0 for an unknown format).
size_t TightLayout(PixelFormat format, int width, int height, size_t offsets[3], int strides[3], int* planeCount);
bool PixelFormatFromName(const std::string& name, PixelFormat* out);
const char* PixelFormatName(PixelFormat f);

// Allocates an uninitialised frame and counts its bytes. With `enforceBudget`, refuses (OverBudget, and counts the
// refusal) when the bytes retained would exceed the budget.
SourceFramePtr AllocSourceFrame(PixelFormat format, int width, int height, bool enforceBudget, SourceAlloc* why);

// Pipeline.captureSource's copy: the decoded sample's planes into a new SourceFrame, or null (JS) when the budget
// refuses it or the sample cannot be mapped. Runs on the JS thread: one memcpy per plane (or per row when padded).
Napi::Value CaptureSample(Napi::Env env, GstSample* sample);
// Counts a capture asked for a lease that is gone (released, reused, pipeline stopped or closed).
void CountStaleCapture();

// Registers SourceFrame, sourceFrameFromPixels, decodeJpeg, sourceFrameStats, setSourceFrameBudget.
void InitSourceFrame(Napi::Env env, Napi::Object exports);

}  // namespace vigil
