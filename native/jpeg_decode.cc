#include "jpeg_decode.h"

#include <chrono>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <algorithm>

// jpeglib.h needs FILE and size_t declared first.
#include <jerror.h>
#include <jpeglib.h>

namespace vigil {

// ---------------------------------------------------------------------------------------------------------------
// Header check (moved here from source_frame.cc, unchanged): refuses what is not a JPEG, is cut off, or is over
// the pixel limit before libjpeg allocates anything.

bool ParseJpegHeader(const uint8_t* d, size_t n, JpegHeader* h, std::string* error) {
  if (n < 2 || d[0] != 0xFF || d[1] != 0xD8) {
    *error = "Not a JPEG image: the data does not start with a JPEG start-of-image marker";
    return false;
  }
  const std::string truncated = "Truncated JPEG image: the data ends inside its headers (" + std::to_string(n) + " bytes)";
  size_t i = 2;
  bool haveFrame = false;
  size_t scanStart = 0;
  for (;;) {
    if (i >= n) {
      *error = truncated;
      return false;
    }
    if (d[i] != 0xFF) {
      *error = "Corrupt JPEG image: expected a marker at byte " + std::to_string(i);
      return false;
    }
    while (i < n && d[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) {
      *error = truncated;
      return false;
    }
    const uint8_t m = d[i++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // markers without a length
    if (m == 0xD9) {
      *error = "Corrupt JPEG image: it ends before any image data";
      return false;
    }
    if (i + 2 > n) {
      *error = truncated;
      return false;
    }
    const size_t len = (static_cast<size_t>(d[i]) << 8) | d[i + 1];
    if (len < 2) {
      *error = "Corrupt JPEG image: a segment length of " + std::to_string(len) + " at byte " + std::to_string(i);
      return false;
    }
    if (i + len > n) {
      *error = truncated;
      return false;
    }
    const bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
    if (sof) {
      if (len < 8) {
        *error = "Corrupt JPEG image: a frame header of " + std::to_string(len) + " bytes";
        return false;
      }
      if (d[i + 2] != 8) {
        *error = "Unsupported JPEG image: " + std::to_string(d[i + 2]) + "-bit samples (only 8-bit JPEGs are decoded)";
        return false;
      }
      h->height = (d[i + 3] << 8) | d[i + 4];
      h->width = (d[i + 5] << 8) | d[i + 6];
      const int components = d[i + 7];
      if (len < 8 + static_cast<size_t>(components) * 3) {
        *error = "Corrupt JPEG image: a frame header of " + std::to_string(len) + " bytes for " + std::to_string(components) + " components";
        return false;
      }
      auto sampling = [&](int c) { return d[i + 8 + c * 3 + 1]; };
      h->yuv420 = components == 3 && sampling(0) == 0x22 && sampling(1) == 0x11 && sampling(2) == 0x11;
      haveFrame = true;
    }
    if (m == 0xDA) {
      if (!haveFrame) {
        *error = "Corrupt JPEG image: image data before any frame header";
        return false;
      }
      scanStart = i + len;
      break;
    }
    i += len;
  }
  if (h->width == 0 || h->height == 0) {
    *error = "Unsupported JPEG image: its frame header gives no size (" + std::to_string(h->width) + "x" + std::to_string(h->height) + ")";
    return false;
  }
  // Inside entropy-coded data 0xFF is always stuffed or a restart marker, so FF D9 there is the end-of-image.
  for (size_t k = n - 1; k > scanStart; --k) {
    if (d[k] == 0xD9 && d[k - 1] == 0xFF) return true;
  }
  *error = "Truncated JPEG image: no end-of-image marker after the image data";
  return false;
}

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// libjpeg reports a fatal error by calling error_exit, which must not return: it longjmps back to the setjmp in
// the Decompressor step that called into libjpeg. Those steps hold no object with a destructor (only the
// Decompressor's members, plain C structs), so nothing is skipped by the jump; the Decompressor's destructor frees
// libjpeg's memory afterwards. libjpeg is C: no C++ exception may cross it.
struct ErrorState {
  jpeg_error_mgr pub;  // first: libjpeg casts cinfo->err to it
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX + 160];
};

struct ProgressState {
  jpeg_progress_mgr pub;  // first: libjpeg casts cinfo->progress to it
  int maxScans;
  double maxSeconds;
  int64_t deadlineNs;
};

[[noreturn]] void Fail(j_common_ptr c, const char* prefix) {
  auto* e = reinterpret_cast<ErrorState*>(c->err);
  char text[JMSG_LENGTH_MAX];
  (*c->err->format_message)(c, text);
  std::snprintf(e->message, sizeof e->message, "%s%s", prefix, text);
  std::longjmp(e->jump, 1);
}

[[noreturn]] void OnErrorExit(j_common_ptr c) { Fail(c, "JPEG decoding failed: "); }

// Warnings (level -1) that mean the entropy-coded data is damaged: libjpeg would go on and fill the rest of the
// image with grey or guessed blocks. Refused, as decodeJpeg refuses a cut-off file. The others leave the pixels
// intact and are ignored: extra bytes before a marker, an unknown JFIF version or Adobe transform, a bad ICC
// profile, and odd scan parameters in a sequential JPEG (which libjpeg ignores; some cameras write them).
void OnMessage(j_common_ptr c, int level) {
  if (level != -1) return;  // trace messages
  // JWRN_ARITH_BAD_CODE's number depends on defines private to the library's build: matched by its text.
  const int code = c->err->msg_code;
  if (code >= 0 && code <= c->err->last_jpeg_message && c->err->jpeg_message_table[code] &&
      std::strcmp(c->err->jpeg_message_table[code], "Corrupt JPEG data: bad arithmetic code") == 0)
    Fail(c, "Corrupt JPEG image: ");
  switch (code) {
    case JWRN_BOGUS_PROGRESSION:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_JPEG_EOF:
    case JWRN_MUST_RESYNC:
      Fail(c, "Corrupt JPEG image: ");
    default:
      c->err->num_warnings++;
  }
}

// Called by libjpeg before each unit of work (an iMCU row of a scan while reading a multi-scan file; a call of
// jpeg_read_scanlines / jpeg_read_raw_data while writing the output).
void OnProgress(j_common_ptr c) {
  auto* p = reinterpret_cast<ProgressState*>(c->progress);
  auto* e = reinterpret_cast<ErrorState*>(c->err);
  const int scans = reinterpret_cast<j_decompress_ptr>(c)->input_scan_number;
  if (scans > p->maxScans) {
    std::snprintf(e->message, sizeof e->message,
                  "JPEG image refused: more than %d scans (each scan is a pass over the whole image; encoders write "
                  "at most a few dozen)",
                  p->maxScans);
    std::longjmp(e->jump, 1);
  }
  if (NowNs() > p->deadlineNs) {
    std::snprintf(e->message, sizeof e->message, "JPEG image refused: not decoded within %g s", p->maxSeconds);
    std::longjmp(e->jump, 1);
  }
}

class Decompressor {
 public:
  Decompressor(const JpegLimits& limits) {
    std::memset(&cinfo_, 0, sizeof cinfo_);
    std::memset(&err_, 0, sizeof err_);
    std::memset(&progress_, 0, sizeof progress_);
    cinfo_.err = jpeg_std_error(&err_.pub);
    err_.pub.error_exit = OnErrorExit;
    err_.pub.emit_message = OnMessage;
    progress_.pub.progress_monitor = OnProgress;
    progress_.maxScans = limits.maxScans;
    progress_.maxSeconds = limits.maxSeconds;
    progress_.deadlineNs = NowNs() + static_cast<int64_t>(limits.maxSeconds * 1e9);
  }
  ~Decompressor() {
    if (created_) jpeg_destroy_decompress(&cinfo_);
  }
  Decompressor(const Decompressor&) = delete;
  Decompressor& operator=(const Decompressor&) = delete;

  const char* message() const { return err_.message; }
  jpeg_decompress_struct& cinfo() { return cinfo_; }

  // The steps below call libjpeg under a setjmp: no locals with destructors.
  bool ReadHeader(const uint8_t* data, size_t size) {
    if (setjmp(err_.jump)) return false;
    jpeg_create_decompress(&cinfo_);
    created_ = true;
    cinfo_.progress = &progress_.pub;
    jpeg_mem_src(&cinfo_, data, static_cast<unsigned long>(size));
    jpeg_read_header(&cinfo_, TRUE);
    return true;
  }

  // 4:2:0 as coded: the Y, U and V planes into tight planes of a w x h frame.
  bool DecodeI420(uint8_t* y, uint8_t* u, uint8_t* v, int w, int h) {
    if (setjmp(err_.jump)) return false;
    cinfo_.raw_data_out = TRUE;
    jpeg_start_decompress(&cinfo_);
    // jpeg_read_raw_data fills whole iMCU rows (16 luma, 8 chroma rows) of whole blocks: into scratch rows, then
    // the visible part into the frame.
    const JDIMENSION lumaW = cinfo_.comp_info[0].width_in_blocks * DCTSIZE;
    const JDIMENSION chromaW = std::max(cinfo_.comp_info[1].width_in_blocks, cinfo_.comp_info[2].width_in_blocks) * DCTSIZE;
    JSAMPARRAY rows[3] = {
        (*cinfo_.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo_), JPOOL_IMAGE, lumaW, 2 * DCTSIZE),
        (*cinfo_.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo_), JPOOL_IMAGE, chromaW, DCTSIZE),
        (*cinfo_.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo_), JPOOL_IMAGE, chromaW, DCTSIZE)};
    const int cw = (w + 1) / 2;
    const int ch = (h + 1) / 2;
    while (cinfo_.output_scanline < cinfo_.output_height) {
      const int y0 = static_cast<int>(cinfo_.output_scanline);
      if (jpeg_read_raw_data(&cinfo_, rows, 2 * DCTSIZE) == 0) ERREXIT(&cinfo_, JERR_INPUT_EMPTY);
      for (int r = 0; r < 2 * DCTSIZE && y0 + r < h; ++r) std::memcpy(y + static_cast<size_t>(y0 + r) * w, rows[0][r], w);
      for (int r = 0; r < DCTSIZE && y0 / 2 + r < ch; ++r) {
        std::memcpy(u + static_cast<size_t>(y0 / 2 + r) * cw, rows[1][r], cw);
        std::memcpy(v + static_cast<size_t>(y0 / 2 + r) * cw, rows[2][r], cw);
      }
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

  // Anything else, converted by libjpeg to packed RGB rows of 3 * w bytes.
  bool DecodeRgb(uint8_t* rgb, int w) {
    if (setjmp(err_.jump)) return false;
    cinfo_.out_color_space = JCS_RGB;
    jpeg_start_decompress(&cinfo_);
    JSAMPROW rows[16];
    while (cinfo_.output_scanline < cinfo_.output_height) {
      const JDIMENSION left = cinfo_.output_height - cinfo_.output_scanline;
      const int n = static_cast<int>(std::min<JDIMENSION>(left, 16));
      for (int r = 0; r < n; ++r) rows[r] = rgb + (static_cast<size_t>(cinfo_.output_scanline) + r) * 3 * w;
      if (jpeg_read_scanlines(&cinfo_, rows, n) == 0) ERREXIT(&cinfo_, JERR_INPUT_EMPTY);
    }
    jpeg_finish_decompress(&cinfo_);
    return true;
  }

 private:
  jpeg_decompress_struct cinfo_;
  ErrorState err_;
  ProgressState progress_;
  bool created_ = false;
};

}  // namespace

SourceFramePtr DecodeJpegImage(const uint8_t* data, size_t size, const JpegLimits& limits, std::string* error) {
  JpegHeader h;
  if (!ParseJpegHeader(data, size, &h, error)) return nullptr;
  const double pixels = static_cast<double>(h.width) * h.height;
  if (pixels > limits.maxPixels) {
    *error = "JPEG image of " + std::to_string(h.width) + "x" + std::to_string(h.height) + " pixels (" +
             std::to_string(static_cast<long long>(pixels)) + ") is over the limit of " +
             std::to_string(static_cast<long long>(limits.maxPixels)) + " pixels";
    return nullptr;
  }
  Decompressor dec(limits);
  if (!dec.ReadHeader(data, size)) {
    *error = dec.message();
    return nullptr;
  }
  jpeg_decompress_struct& c = dec.cinfo();
  // libjpeg reads the first frame header, as the check above did: the same size, or the file is refused.
  if (static_cast<int>(c.image_width) != h.width || static_cast<int>(c.image_height) != h.height) {
    *error = "Corrupt JPEG image: its frame headers disagree on the size";
    return nullptr;
  }
  if (c.num_components != 1 && c.num_components != 3) {
    *error = "Unsupported JPEG image: " + std::to_string(c.num_components) + " components (only grey and colour JPEGs are decoded)";
    return nullptr;
  }
  // Matches GStreamer's jpegdec, which this replaced: the fast integer IDCT, no block smoothing, raw 4:2:0 planes.
  c.dct_method = JDCT_IFAST;
  c.do_block_smoothing = FALSE;
  const bool i420 = c.num_components == 3 && c.jpeg_color_space == JCS_YCbCr && c.comp_info[0].h_samp_factor == 2 &&
                    c.comp_info[0].v_samp_factor == 2 && c.comp_info[1].h_samp_factor == 1 && c.comp_info[1].v_samp_factor == 1 &&
                    c.comp_info[2].h_samp_factor == 1 && c.comp_info[2].v_samp_factor == 1;
  SourceAlloc why;
  SourceFramePtr f = AllocSourceFrame(i420 ? PixelFormat::I420 : PixelFormat::RGB, h.width, h.height, false, &why);
  if (!f) {
    *error = "JPEG decoding failed: out of memory";
    return nullptr;
  }
  bool ok;
  if (i420) {
    ok = dec.DecodeI420(f->bytes + f->offsets[0], f->bytes + f->offsets[1], f->bytes + f->offsets[2], h.width, h.height);
    // What jpegdec announced: JPEG's YCbCr is full-range BT.601; transfer and primaries unknown.
    f->matrix = YuvMatrix::BT601;
    f->fullRange = true;
    f->colorimetry = "1:4:0:0";
  } else {
    ok = dec.DecodeRgb(f->bytes, h.width);
  }
  if (!ok) {
    *error = dec.message();
    return nullptr;
  }
  return f;
}

}  // namespace vigil
