// Module entry: initialises GStreamer once, registers the classes and functions, and closes every open pipeline
// when the env goes away (worker exit, process exit) through the same close path as Pipeline.close().
#include <gst/gst.h>
#include <napi.h>

#include "analysis_decoder.h"
#include "common.h"
#include "diagnostics.h"
#include "frame_sink.h"
#include "pipeline.h"
#include "postprocess.h"
#include "preprocess.h"
#include "source_frame.h"

namespace vigil {

TensorSpec ParseTensorSpec(const Napi::Object& t);  // pipeline.cc

namespace {

// elementInfo(name) -> { name, rank, klass, description, plugin } | null. A factory is listed only when its plugin
// registered it, which for hardware decoders (nvcodec, va, vaapi) means the device was found at registry scan.
Napi::Value ElementInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = ExpectString(info[0], "name");
  GstElementFactory* raw = gst_element_factory_find(name.c_str());
  if (!raw) return env.Null();
  std::unique_ptr<GstElementFactory, GstObjectUnref> factory(raw);
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("rank", gst_plugin_feature_get_rank(GST_PLUGIN_FEATURE(raw)));
  const gchar* klass = gst_element_factory_get_metadata(raw, GST_ELEMENT_METADATA_KLASS);
  const gchar* desc = gst_element_factory_get_metadata(raw, GST_ELEMENT_METADATA_LONGNAME);
  const gchar* plugin = gst_plugin_feature_get_plugin_name(GST_PLUGIN_FEATURE(raw));
  o.Set("klass", klass ? klass : "");
  o.Set("description", desc ? desc : "");
  o.Set("plugin", plugin ? plugin : "");
  return o;
}

Napi::Value GstVersion(const Napi::CallbackInfo& info) {
  GCharPtr v(gst_version_string());
  return Napi::String::New(info.Env(), v.get());
}

// preprocessImage(pixels, { format, width, height, stride }, tensorSpec) -> { tensor, scale, padX, padY }
// Copying, synchronous helper for tests, tools and snapshots; the live path runs the same code on a native thread.
Napi::Value PreprocessImage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray() && !info[0].IsBuffer())
    ThrowExpected(env, "a Uint8Array", "pixels", info[0]);
  Napi::Uint8Array pixels = info[0].As<Napi::Uint8Array>();
  Napi::Object img = ExpectObject(info[1], "image");
  std::string fmt = ExpectString(img.Get("format"), "image.format");
  SourceImage src;
  int bpp = 0;
  if (fmt == "RGB") { src.format = PixelFormat::RGB; bpp = 3; }
  else if (fmt == "BGR") { src.format = PixelFormat::BGR; bpp = 3; }
  else if (fmt == "RGBA") { src.format = PixelFormat::RGBA; bpp = 4; }
  else if (fmt == "BGRA") { src.format = PixelFormat::BGRA; bpp = 4; }
  else if (fmt == "I420") { src.format = PixelFormat::I420; }
  else if (fmt == "NV12") { src.format = PixelFormat::NV12; }
  else ThrowExpected(env, "one of \"RGB\", \"BGR\", \"RGBA\", \"BGRA\", \"I420\", \"NV12\"", "image.format", img.Get("format"));
  src.width = ExpectInt(img.Get("width"), "image.width", 1, 16384);
  src.height = ExpectInt(img.Get("height"), "image.height", 1, 16384);
  const uint8_t* base = pixels.Data();
  size_t need;
  if (bpp) {
    src.strides[0] = src.width * bpp;
    src.planes[0] = base;
    need = static_cast<size_t>(src.strides[0]) * src.height;
  } else {
    const int cw = (src.width + 1) / 2, ch = (src.height + 1) / 2;
    src.strides[0] = src.width;
    src.planes[0] = base;
    src.planes[1] = base + static_cast<size_t>(src.width) * src.height;
    if (src.format == PixelFormat::I420) {
      src.strides[1] = src.strides[2] = cw;
      src.planes[2] = src.planes[1] + static_cast<size_t>(cw) * ch;
      need = static_cast<size_t>(src.width) * src.height + 2 * static_cast<size_t>(cw) * ch;
    } else {
      src.strides[1] = cw * 2;
      need = static_cast<size_t>(src.width) * src.height + static_cast<size_t>(cw) * 2 * ch;
    }
    Napi::Value matrix = img.Get("matrix");
    if (!matrix.IsUndefined()) src.matrix = ExpectString(matrix, "image.matrix") == "bt709" ? YuvMatrix::BT709 : YuvMatrix::BT601;
    Napi::Value full = img.Get("fullRange");
    if (!full.IsUndefined()) src.fullRange = ExpectBool(full, "image.fullRange");
  }
  if (pixels.ByteLength() < need)
    throw Napi::RangeError::New(env, "Expected at least " + std::to_string(need) + " bytes for pixels but received " +
                                         std::to_string(pixels.ByteLength()));
  TensorSpec spec = ParseTensorSpec(ExpectObject(info[2], "tensor"));
  Napi::ArrayBuffer out = Napi::ArrayBuffer::New(env, TensorBytes(spec));
  Preprocessor pre(spec);
  Letterbox lb = pre.Run(src, out.Data());
  Napi::Object o = Napi::Object::New(env);
  o.Set("tensor", out);
  o.Set("scale", lb.scale);
  o.Set("padX", lb.padX);
  o.Set("padY", lb.padY);
  return o;
}

Napi::Value OpenPipelines(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Pipeline::OpenCount()));
}

Napi::Value AbandonedPipelines(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Pipeline::AbandonedCount()));
}

// Releases what abandoned pipelines no longer need (see Pipeline::ReapAbandoned): { finished, sinksReleased }.
Napi::Value ReapAbandonedPipelines(const Napi::CallbackInfo& info) {
  const Pipeline::Reaped r = Pipeline::ReapAbandoned();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("finished", static_cast<double>(r.finished));
  o.Set("sinksReleased", static_cast<double>(r.sinksReleased));
  return o;
}

Napi::Value TeardownKicks(const Napi::CallbackInfo& info) {
  const Pipeline::KickCounts k = Pipeline::TeardownKicks();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("kicks", static_cast<double>(k.kicks));
  o.Set("teardownsKicked", static_cast<double>(k.teardownsKicked));
  o.Set("finishedAfterKick", static_cast<double>(k.finishedAfterKick));
  o.Set("jitterbuffersStuck", static_cast<double>(k.jitterbuffersStuck));
  return o;
}

Napi::Value ReapedPipelines(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(Pipeline::ReapedCount()));
}

Napi::Value SetIngestNiceJs(const Napi::CallbackInfo& info) {
  SetIngestNice(ExpectInt(info[0], "nice", 0, 19));
  return Napi::Number::New(info.Env(), IngestNice());
}

void Cleanup(void*) { Pipeline::CloseAll(); }

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  GError* rawError = nullptr;
  if (!gst_init_check(nullptr, nullptr, &rawError)) {
    ErrorPtr e(rawError);
    throw MakeError(env, "E_GSTREAMER_INIT", std::string("GStreamer failed to initialise: ") + (e ? e->message : "unknown"));
  }
  if (!RegisterAnalysisDecoder()) throw MakeError(env, "E_GSTREAMER_INIT", "GStreamer refused to register vigildec");
  exports.Set("Pipeline", Pipeline::Init(env));
  exports.Set("elementInfo", Napi::Function::New(env, ElementInfo, "elementInfo"));
  exports.Set("gstVersion", Napi::Function::New(env, GstVersion, "gstVersion"));
  exports.Set("openPipelines", Napi::Function::New(env, OpenPipelines, "openPipelines"));
  exports.Set("abandonedPipelines", Napi::Function::New(env, AbandonedPipelines, "abandonedPipelines"));
  exports.Set("teardownKicks", Napi::Function::New(env, TeardownKicks, "teardownKicks"));
  exports.Set("reapAbandonedPipelines", Napi::Function::New(env, ReapAbandonedPipelines, "reapAbandonedPipelines"));
  exports.Set("reapedPipelines", Napi::Function::New(env, ReapedPipelines, "reapedPipelines"));
  exports.Set("setIngestNice", Napi::Function::New(env, SetIngestNiceJs, "setIngestNice"));
  exports.Set("preprocessImage", Napi::Function::New(env, PreprocessImage, "preprocessImage"));
  InitPostprocess(env, exports);
  InitSourceFrame(env, exports);
  InitDiagnostics(env, exports);
  napi_add_env_cleanup_hook(env, Cleanup, nullptr);
  return exports;
}

}  // namespace vigil

Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return vigil::Init(env, exports); }

NODE_API_MODULE(vigil, InitAll)
