// JPEG input (native/jpeg_decode.cc): DecodeJpegImage, the whole of decodeJpeg's native work, on arbitrary bytes:
// the header check, then libjpeg-turbo with decodeJpeg's limits (scans, corrupt data, deadline) for inputs up to
// 512x512 pixels (the pixel limit refuses larger ones before libjpeg runs, as decodeJpeg's maxPixels does).
// Properties: the header check never reads outside the input; a refusal has a reason; a decoded frame has the size
// the header announced, I420 only for 4:2:0 colour, and its planes are exactly the tight layout's bytes (ASan sees
// a write past them); no decode takes longer than the deadline (libFuzzer's -timeout catches a hang).
#include "../jpeg_decode.h"

#include <chrono>
#include <memory>

#include "fuzz_common.h"

using namespace vigil;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // An exact-size copy: libFuzzer's buffer is exact too, but the copy keeps this independent of that.
  std::unique_ptr<uint8_t[]> bytes(new uint8_t[size ? size : 1]);
  if (size) std::memcpy(bytes.get(), data, size);
  JpegHeader h;
  std::string headerError;
  const bool headerOk = ParseJpegHeader(bytes.get(), size, &h, &headerError);
  FUZZ_CHECK(headerOk || !headerError.empty(), "header refused without a reason");
  JpegLimits limits;
  limits.maxPixels = 512 * 512;
  limits.maxSeconds = 5;
  std::string error;
  const auto t0 = std::chrono::steady_clock::now();
  SourceFramePtr f = DecodeJpegImage(bytes.get(), size, limits, &error);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  FUZZ_CHECK(s < 6, "decode took %.1f s (deadline 5 s)", s);
  if (!f) {
    FUZZ_CHECK(!error.empty(), "refused without a reason");
    if (!headerOk) FUZZ_CHECK(error == headerError, "header error \"%s\", decoder \"%s\"", headerError.c_str(), error.c_str());
    return 0;
  }
  FUZZ_CHECK(headerOk, "decoded what the header check refused: %s", headerError.c_str());
  FUZZ_CHECK(f->width == h.width && f->height == h.height, "decoded %dx%d, header %dx%d", f->width, f->height, h.width, h.height);
  FUZZ_CHECK(f->format == PixelFormat::RGB || (f->format == PixelFormat::I420 && h.yuv420), "%s for a header with yuv420=%d",
             f->formatName.c_str(), h.yuv420);
  // Every byte written: reading them all makes MSan/valgrind-style checks meaningful and touches the whole frame.
  unsigned sum = 0;
  for (size_t k = 0; k < f->byteLength; ++k) sum += f->bytes[k];
  (void)sum;
  return 0;
}
