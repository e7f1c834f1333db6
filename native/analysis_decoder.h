// vigildec: an H.264 / H.265 software decoder for analysis, on libavcodec directly. GStreamer's avdec_h264 does not
// expose libavcodec's skip_loop_filter; skipping the in-loop deblocking filter saves about a quarter of a software
// decode (bench/RESULTS.md, "Analysis decode") for frames that only feed the detector and the motion gate: recordings
// and live view carry the camera's own stream, never these frames. Output is I420 (8-bit 4:2:0 streams only).
//
// Properties: deblock (boolean, default true: a standard decode), max-threads (0 = libavcodec's choice, default 1).
#pragma once

namespace vigil {

// Registers the element "vigildec" in a static plugin "vigil". Call after gst_init; later calls do nothing.
// Returns false when GStreamer refused the registration.
bool RegisterAnalysisDecoder();

}  // namespace vigil
