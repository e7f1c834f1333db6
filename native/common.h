// Shared helpers for the addon: argument checks that throw TypeError in one message shape, and RAII owners for
// the GLib / GStreamer objects the addon touches. No raw GstSample / GstBuffer map / GError outlives its scope.
#pragma once

#include <gst/gst.h>
#include <napi.h>

#include <memory>
#include <string>

namespace vigil {

// "Expected X for name but received V" — the same shape the TypeScript layer uses. The TS layer validates first;
// these checks keep native code safe when it is called directly.
std::string DescribeValue(const Napi::Value& v);
[[noreturn]] void ThrowExpected(Napi::Env env, const char* what, const std::string& name, const Napi::Value& v);

Napi::Object ExpectObject(const Napi::Value& v, const std::string& name);
std::string ExpectString(const Napi::Value& v, const std::string& name);
double ExpectNumber(const Napi::Value& v, const std::string& name);
int ExpectInt(const Napi::Value& v, const std::string& name, int min, int max);
bool ExpectBool(const Napi::Value& v, const std::string& name);
Napi::Function ExpectFunction(const Napi::Value& v, const std::string& name);

// Error with a stable `code` property, matching VigilError codes on the TS side.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

struct GObjectUnref {
  void operator()(gpointer p) const { if (p) g_object_unref(p); }
};
struct GstObjectUnref {
  void operator()(gpointer p) const { if (p) gst_object_unref(p); }
};
struct GstSampleUnref {
  void operator()(GstSample* s) const { if (s) gst_sample_unref(s); }
};
struct GstCapsUnref {
  void operator()(GstCaps* c) const { if (c) gst_caps_unref(c); }
};
struct GErrorFree {
  void operator()(GError* e) const { if (e) g_error_free(e); }
};
struct GFreeDeleter {
  void operator()(gpointer p) const { g_free(p); }
};

using ElementPtr = std::unique_ptr<GstElement, GstObjectUnref>;
using PadPtr = std::unique_ptr<GstPad, GstObjectUnref>;
using BusPtr = std::unique_ptr<GstBus, GstObjectUnref>;
using SamplePtr = std::unique_ptr<GstSample, GstSampleUnref>;
using ErrorPtr = std::unique_ptr<GError, GErrorFree>;
using GCharPtr = std::unique_ptr<gchar, GFreeDeleter>;

// A mapped GstBuffer, unmapped when it goes out of scope.
class BufferMap {
 public:
  BufferMap(GstBuffer* buffer, GstMapFlags flags) : buffer_(buffer) {
    ok_ = buffer_ != nullptr && gst_buffer_map(buffer_, &info_, flags);
  }
  ~BufferMap() {
    if (ok_) gst_buffer_unmap(buffer_, &info_);
  }
  BufferMap(const BufferMap&) = delete;
  BufferMap& operator=(const BufferMap&) = delete;
  bool ok() const { return ok_; }
  const guint8* data() const { return info_.data; }
  gsize size() const { return info_.size; }

 private:
  GstBuffer* buffer_;
  GstMapInfo info_{};
  bool ok_ = false;
};

}  // namespace vigil
