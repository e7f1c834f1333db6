// Snapshot encoder (issue 3, item 7): JPEG of a whole frame or a crop, encoded by GStreamer's jpegenc on a libuv
// worker thread (Napi::AsyncWorker), never on the JS thread.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vigil {

struct SnapshotRequest {
  std::string format;  // GStreamer raw video format: RGB, BGR, RGBA, BGRA, I420, NV12, GRAY8
  int width = 0, height = 0, stride = 0;  // stride of the first plane in the source buffer (packed or luma)
  int cropX = 0, cropY = 0, cropW = 0, cropH = 0;
  int quality = 85;
};

// Encodes synchronously (call it off the JS thread). Returns false with `error` set on failure.
bool EncodeJpeg(const uint8_t* pixels, const SnapshotRequest& req, std::vector<uint8_t>& jpeg, std::string& error);

// Registers encodeJpeg(pixels, image, options?) -> Promise<Buffer> on exports (called from InitPostprocess).
void InitSnapshot(Napi::Env env, Napi::Object exports);

}  // namespace vigil
