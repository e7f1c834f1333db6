// Decoded-frame helpers shared by the frame sink (tensor path) and source-frame captures (snapshots): the
// GStreamer raw formats Vigil reads, and a read mapping of a video buffer released on scope exit.
#pragma once

#include <gst/video/video.h>

#include "preprocess.h"

namespace vigil {

// The GStreamer raw formats the preprocessor and the snapshot path read; false for any other.
inline bool PixelFormatFromGst(GstVideoFormat f, PixelFormat* out) {
  switch (f) {
    case GST_VIDEO_FORMAT_I420: *out = PixelFormat::I420; return true;
    case GST_VIDEO_FORMAT_NV12: *out = PixelFormat::NV12; return true;
    case GST_VIDEO_FORMAT_RGB: *out = PixelFormat::RGB; return true;
    case GST_VIDEO_FORMAT_BGR: *out = PixelFormat::BGR; return true;
    case GST_VIDEO_FORMAT_RGBA: *out = PixelFormat::RGBA; return true;
    case GST_VIDEO_FORMAT_BGRA: *out = PixelFormat::BGRA; return true;
    case GST_VIDEO_FORMAT_RGBx: *out = PixelFormat::RGBx; return true;
    case GST_VIDEO_FORMAT_BGRx: *out = PixelFormat::BGRx; return true;
    default: return false;
  }
}

// A GstVideoFrame mapped for reading, unmapped on scope exit.
class VideoFrameMap {
 public:
  VideoFrameMap(GstVideoInfo* info, GstBuffer* buffer) { ok_ = gst_video_frame_map(&frame_, info, buffer, GST_MAP_READ); }
  ~VideoFrameMap() {
    if (ok_) gst_video_frame_unmap(&frame_);
  }
  VideoFrameMap(const VideoFrameMap&) = delete;
  VideoFrameMap& operator=(const VideoFrameMap&) = delete;
  bool ok() const { return ok_; }
  GstVideoFrame& frame() { return frame_; }

 private:
  GstVideoFrame frame_{};
  bool ok_ = false;
};

}  // namespace vigil
