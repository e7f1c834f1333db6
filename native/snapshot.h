// Snapshot encoder (issue 3, item 7; issue 16 item 7): JPEG of a whole frame or a crop, optionally scaled down, encoded
// by GStreamer's jpegenc on a libuv worker thread (Napi::AsyncWorker), never on the JS thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

struct SnapshotRequest {
  std::string format;  // GStreamer raw video format: RGB, BGR, RGBA, BGRA, RGBx, BGRx, I420, NV12, GRAY8
  // Stride of the first plane in the source buffer (packed or luma); I420 / NV12 chroma rows follow the luma plane
  // with a stride of ceil(stride / 2) (I420, U then V planes) or 2 * ceil(stride / 2) (NV12), ceil(height / 2) rows.
  int width = 0, height = 0, stride = 0;
  // I420 / NV12: cropX and cropY even (chroma is subsampled 2x2); odd sizes are fine.
  int cropX = 0, cropY = 0, cropW = 0, cropH = 0;
  int quality = 85;
  // Output size; 0: the crop's own. Smaller than the crop: GStreamer's videoscale shrinks it (multi-tap bilinear,
  // so a 2x reduction averages instead of skipping pixels) before colour conversion, on the same worker thread.
  int outW = 0, outH = 0;
  // GStreamer colorimetry of YUV sources (e.g. "bt709", "bt601", "1:4:0:0"); empty: GStreamer's default for the
  // crop's size, which is not the source's when a crop of an HD frame is SD-sized.
  std::string colorimetry;
};

// Encodes synchronously (call it off the JS thread). Returns false with `error` set on failure.
bool EncodeJpeg(const uint8_t* pixels, const SnapshotRequest& req, std::vector<uint8_t>& jpeg, std::string& error);

// Registers encodeJpeg(pixels, image, options?) -> Promise<Buffer> on exports (called from InitPostprocess).
void InitSnapshot(Napi::Env env, Napi::Object exports);

}  // namespace vigil
