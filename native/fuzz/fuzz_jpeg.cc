// JPEG input (native/source_frame.cc): decodeJpeg's header check on arbitrary bytes (truncated files, bogus
// segment lengths, frame headers with any component count, markers inside entropy data), then, for inputs it
// accepts up to 512x512, the same jpegdec pipeline DecodeWorker runs and the copy into a SourceFrame. Properties:
// the header check never reads outside the input; a decoded frame has the size the header announced.
//
// The header parser lives in source_frame.cc's anonymous namespace: the file is included here, not linked.
#include "../source_frame.cc"
#include "fuzz_common.h"

using namespace vigil;

namespace {
void Decode(const uint8_t* data, size_t size, const JpegHeader& h);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gst_init(nullptr, nullptr);
  // One decode of each output format before fuzzing: GStreamer's one-time allocations (plugin loading, type
  // registration, thread pools) would otherwise be reported as leaks of the first input.
  for (const char* fmt : {"RGB", "I420"}) {
    SnapshotRequest r;
    r.format = fmt;
    r.width = r.height = r.cropW = r.cropH = 16;
    r.stride = fmt[0] == 'R' ? 48 : 16;
    std::vector<uint8_t> px(16 * 48, 128), jpeg;
    std::string err;
    JpegHeader h;
    if (EncodeJpeg(px.data(), r, jpeg, err) && ParseJpegHeader(jpeg.data(), jpeg.size(), &h, &err)) Decode(jpeg.data(), jpeg.size(), h);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy: libFuzzer's buffer is exact too, but the copy keeps this independent of that.
  std::unique_ptr<uint8_t[]> bytes(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(bytes.get(), data, size);
  JpegHeader h;
  std::string error;
  if (!ParseJpegHeader(bytes.get(), size, &h, &error)) {
    FUZZ_CHECK(!error.empty(), "refused without a reason");
    return 0;
  }
  FUZZ_CHECK(h.width > 0 && h.height > 0, "accepted %dx%d", h.width, h.height);
  if (static_cast<long>(h.width) * h.height > 512 * 512) return 0;
  Decode(data, size, h);
  return 0;
}

namespace {
// The pipeline DecodeWorker::Execute runs, then its copy into a SourceFrame.
void Decode(const uint8_t* data, size_t size, const JpegHeader& h) {
  const std::string launch = std::string("appsrc name=src format=bytes caps=image/jpeg ! jpegdec ! videoconvert ! ") +
                             "video/x-raw,format=" + (h.yuv420 ? "I420" : "RGB") + " ! appsink name=sink sync=false";
  ElementPtr pipeline(gst_parse_launch(launch.c_str(), nullptr));
  FUZZ_CHECK(pipeline != nullptr, "no jpegdec pipeline");
  ElementPtr src(gst_bin_get_by_name(GST_BIN(pipeline.get()), "src"));
  ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink"));
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    return;
  }
  gst_app_src_push_buffer(GST_APP_SRC(src.get()), gst_buffer_new_memdup(data, size));
  gst_app_src_end_of_stream(GST_APP_SRC(src.get()));
  SamplePtr sample(gst_app_sink_try_pull_sample(GST_APP_SINK(sink.get()), 10 * GST_SECOND));
  if (sample) {
    SourceAlloc why;
    SourceFramePtr f = CopySample(sample.get(), false, &why);
    FUZZ_CHECK(f != nullptr, "decoded sample not copied");
    FUZZ_CHECK(f->width == h.width && f->height == h.height, "decoded %dx%d, header %dx%d", f->width, f->height, h.width, h.height);
  }
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
}
}  // namespace
