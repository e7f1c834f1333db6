// JPEG input (native/source_frame.cc): decodeJpeg's header check on arbitrary bytes (truncated files, bogus
// segment lengths, frame headers with any component count, markers inside entropy data), then, for inputs it
// accepts up to 512x512, the same jpegdec pipeline DecodeWorker runs and the copy into a SourceFrame. Properties:
// the header check never reads outside the input; a decoded frame has the size the header announced.
//
// The header parser lives in source_frame.cc's anonymous namespace: the file is included here, not linked.
#include "../source_frame.cc"
#include "fuzz_common.h"

using namespace vigil;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  gst_init(nullptr, nullptr);
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
  const std::string launch = std::string("appsrc name=src format=bytes caps=image/jpeg ! jpegdec ! videoconvert ! ") +
                             "video/x-raw,format=" + (h.yuv420 ? "I420" : "RGB") + " ! appsink name=sink sync=false";
  ElementPtr pipeline(gst_parse_launch(launch.c_str(), nullptr));
  FUZZ_CHECK(pipeline != nullptr, "no jpegdec pipeline");
  ElementPtr src(gst_bin_get_by_name(GST_BIN(pipeline.get()), "src"));
  ElementPtr sink(gst_bin_get_by_name(GST_BIN(pipeline.get()), "sink"));
  if (gst_element_set_state(pipeline.get(), GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    gst_element_set_state(pipeline.get(), GST_STATE_NULL);
    return 0;
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
  return 0;
}
