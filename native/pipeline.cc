#include "pipeline.h"

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include <chrono>
#include <cmath>

#include <set>
#include <thread>
#include <vector>

#include "source_frame.h"
#include "teardown_kick.h"

namespace vigil {

namespace {

// Every reader of decoded frames (frame sink, motion gate, source-frame copies) maps them with
// gst_video_frame_map, which honours GstVideoMeta. appsink leaves the allocation query unanswered (basesink has no
// propose_allocation); this probe answers it for appsink: frames with GstVideoMeta are read, so a decoder may hand
// over its own picture buffers (planes apart, padded strides) instead of copying each into the default layout.
GstPadProbeReturn AddVideoMetaToAllocation(GstPad*, GstPadProbeInfo* info, gpointer) {
  GstQuery* query = GST_PAD_PROBE_INFO_QUERY(info);
  if (!query || GST_QUERY_TYPE(query) != GST_QUERY_ALLOCATION || !gst_query_is_writable(query)) return GST_PAD_PROBE_OK;
  if (!gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr))
    gst_query_add_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);
  return GST_PAD_PROBE_HANDLED;
}

bool IsFactory(GstElement* element, const char* name) {
  GstElementFactory* factory = gst_element_get_factory(element);  // borrowed
  return factory && g_strcmp0(GST_OBJECT_NAME(factory), name) == 0;
}

void AnnounceVideoMeta(GstElement* appsink) {
  PadPtr pad(gst_element_get_static_pad(appsink, "sink"));
  if (pad)
    gst_pad_add_probe(pad.get(), static_cast<GstPadProbeType>(GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM | GST_PAD_PROBE_TYPE_PUSH),
                      AddVideoMetaToAllocation, nullptr, nullptr);
}

std::mutex gRegistryMutex;
std::set<Pipeline*> gOpen;
std::atomic<size_t> gAbandoned{0};
std::atomic<size_t> gReaped{0};
std::set<Pipeline*> gAbandonedClosed;  // closed while abandoned, pinned until ReapAbandoned releases them
std::atomic<size_t> gKicks{0};              // KickJitterBuffers calls that flushed at least one jitterbuffer
std::atomic<size_t> gTeardownsKicked{0};    // teardowns that needed at least one such kick
std::atomic<size_t> gKickedFinished{0};     // of those, the ones that reached NULL since
std::atomic<size_t> gStuckFound{0};         // jitterbuffers a kick found in the deadlock's state (KickResult::stuck)

// A healthy NULL transition takes milliseconds (rtspsrc's TEARDOWN wait is bounded by its teardown-timeout,
// 100 ms in gst-pipelines/rtsp*.pipeline): one still running after a second is kicked, and again each second, a
// few times; past that the thread only waits for the end (a deadlock elsewhere is left to closeTimeoutMs).
constexpr auto kKickAfter = std::chrono::milliseconds(1000);
constexpr int kMaxKicks = 5;

TensorLayout ParseLayout(const Napi::Value& v) {
  std::string s = ExpectString(v, "tensor.layout");
  if (s == "nchw-f32") return TensorLayout::NCHW_F32;
  if (s == "nhwc-u8") return TensorLayout::NHWC_U8;
  if (s == "nhwc-f32") return TensorLayout::NHWC_F32;
  ThrowExpected(v.Env(), "one of \"nchw-f32\", \"nhwc-u8\", \"nhwc-f32\"", "tensor.layout", v);
}

ColorOrder ParseOrder(const Napi::Value& v) {
  std::string s = ExpectString(v, "tensor.colorOrder");
  if (s == "rgb") return ColorOrder::RGB;
  if (s == "bgr") return ColorOrder::BGR;
  ThrowExpected(v.Env(), "\"rgb\" or \"bgr\"", "tensor.colorOrder", v);
}

void ReadTriple(const Napi::Object& o, const char* key, float out[3], bool positive) {
  Napi::Value v = o.Get(key);
  std::string name = std::string("tensor.") + key;
  if (!v.IsArray() || v.As<Napi::Array>().Length() != 3) ThrowExpected(v.Env(), "an array of 3 numbers", name, v);
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < 3; ++i) {
    double d = ExpectNumber(a.Get(i), name + "[" + std::to_string(i) + "]");
    if (positive && !(d > 0)) ThrowExpected(v.Env(), "a positive number", name + "[" + std::to_string(i) + "]", a.Get(i));
    out[i] = static_cast<float>(d);
  }
}

MotionConfig ParseMotionConfig(const Napi::Object& m) {
  MotionConfig c;
  c.downscale = ExpectInt(m.Get("downscale"), "motion.downscale", 1, 64);
  auto fraction = [&](const char* key) {
    std::string name = std::string("motion.") + key;
    double d = ExpectNumber(m.Get(key), name);
    if (d < 0 || d > 1) ThrowExpected(m.Env(), "a number from 0 to 1", name, m.Get(key));
    return static_cast<float>(d);
  };
  c.sensitivity = fraction("sensitivity");
  c.minChangedFraction = fraction("minChangedFraction");
  c.learningRate = fraction("learningRate");
  if (!m.Get("regionMergeCells").IsUndefined())
    c.regionMergeCells = ExpectInt(m.Get("regionMergeCells"), "motion.regionMergeCells", 0, 16);
  if (!m.Get("regionPadding").IsUndefined())
    c.regionPadding = ExpectInt(m.Get("regionPadding"), "motion.regionPadding", 0, 1024);
  Napi::Value masks = m.Get("masks");
  if (!masks.IsArray()) ThrowExpected(m.Env(), "an array of polygons", "motion.masks", masks);
  Napi::Array polys = masks.As<Napi::Array>();
  for (uint32_t i = 0; i < polys.Length(); ++i) {
    std::string pname = "motion.masks[" + std::to_string(i) + "]";
    Napi::Value pv = polys.Get(i);
    if (!pv.IsArray() || pv.As<Napi::Array>().Length() < 3) ThrowExpected(m.Env(), "an array of at least 3 [x, y] points", pname, pv);
    Napi::Array pts = pv.As<Napi::Array>();
    std::vector<MotionPoint> poly;
    for (uint32_t k = 0; k < pts.Length(); ++k) {
      std::string ptName = pname + "[" + std::to_string(k) + "]";
      Napi::Value pt = pts.Get(k);
      if (!pt.IsArray() || pt.As<Napi::Array>().Length() != 2) ThrowExpected(m.Env(), "an [x, y] pair", ptName, pt);
      Napi::Array xy = pt.As<Napi::Array>();
      poly.push_back(MotionPoint{static_cast<float>(ExpectNumber(xy.Get(0u), ptName + "[0]")),
                                 static_cast<float>(ExpectNumber(xy.Get(1u), ptName + "[1]"))});
    }
    c.masks.push_back(std::move(poly));
  }
  return c;
}

// regions: { tensorWidth, tensorHeight, maxShare, fullFrameEvery, minSide }; the crop tensor copies the whole-frame
// spec's layout, colour order, normalisation and border.
CropConfig ParseCropConfig(const Napi::Object& r, const TensorSpec& whole) {
  CropConfig c;
  c.tensor = whole;
  c.tensor.width = ExpectInt(r.Get("tensorWidth"), "regions.tensorWidth", 8, 8192);
  c.tensor.height = ExpectInt(r.Get("tensorHeight"), "regions.tensorHeight", 8, 8192);
  const double share = ExpectNumber(r.Get("maxShare"), "regions.maxShare");
  if (!(share >= 0 && share <= 1)) ThrowExpected(r.Env(), "a number from 0 to 1", "regions.maxShare", r.Get("maxShare"));
  c.maxShare = share;
  c.fullFrameEvery = ExpectInt(r.Get("fullFrameEvery"), "regions.fullFrameEvery", 0, 1000000);
  c.minSide = ExpectInt(r.Get("minSide"), "regions.minSide", 1, 8192);
  return c;
}

}  // namespace

TensorSpec ParseTensorSpec(const Napi::Object& t) {
  TensorSpec spec;
  spec.width = ExpectInt(t.Get("width"), "tensor.width", 8, 8192);
  spec.height = ExpectInt(t.Get("height"), "tensor.height", 8, 8192);
  spec.layout = ParseLayout(t.Get("layout"));
  spec.order = ParseOrder(t.Get("colorOrder"));
  ReadTriple(t, "mean", spec.mean, false);
  ReadTriple(t, "std", spec.std, true);
  float pad[3];
  ReadTriple(t, "padColor", pad, false);
  for (int i = 0; i < 3; ++i) {
    if (pad[i] < 0 || pad[i] > 255 || pad[i] != static_cast<float>(static_cast<int>(pad[i])))
      ThrowExpected(t.Env(), "an integer from 0 to 255", "tensor.padColor[" + std::to_string(i) + "]",
                    Napi::Number::New(t.Env(), pad[i]));
    spec.pad[i] = static_cast<uint8_t>(pad[i]);
  }
  return spec;
}

// What crosses from GStreamer threads to the JS thread.
struct PipelineEvent {
  enum class Kind { Frame, Error, Warning, Eos, StateChanged, Latency, ClockLost, Segment, Live } kind;
  FrameReady frame;
  std::string source, message, debug, domain;
  int code = 0;
  std::string oldState, newState;
  // Segment: "opened" / "closed", file, running time of the boundary (pipeline clock), wall clock when seen.
  std::string phase, location;
  int64_t runningTimeNs = -1;
  int64_t wallClockNs = 0;
  // Live: one encoded access unit (copied), its timestamps (-1 when unset), and the caps when they changed.
  std::vector<uint8_t> data;
  int64_t ptsNs = -1, dtsNs = -1, durationNs = -1;
  bool keyframe = false;
  std::string caps;
  std::vector<uint8_t> codecData;
};

Napi::Function Pipeline::Init(Napi::Env env) {
  return DefineClass(env, "Pipeline",
                     {InstanceMethod("start", &Pipeline::Start), InstanceMethod("stop", &Pipeline::Stop),
                      InstanceMethod("close", &Pipeline::CloseJs), InstanceMethod("release", &Pipeline::Release),
                      InstanceMethod("stats", &Pipeline::Stats), InstanceMethod("seekStart", &Pipeline::SeekStart),
                      InstanceMethod("setMotionBypass", &Pipeline::SetMotionBypass),
                      InstanceMethod("setFullFrame", &Pipeline::SetFullFrame),
                      InstanceMethod("setAnalysisInterval", &Pipeline::SetAnalysisInterval),
                      InstanceMethod("captureSource", &Pipeline::CaptureSource),
                      InstanceMethod("setLiveTap", &Pipeline::SetLiveTap),
                      InstanceAccessor("closed", &Pipeline::IsClosed, nullptr)});
}

// new Pipeline({ cameraId, description, properties: { element: { prop: value } }, tensor, queueSize, poolSize,
//                block, onEvent })
Pipeline::Pipeline(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pipeline>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  Napi::Object opts = ExpectObject(info[0], "options");
  cameraId_ = ExpectString(opts.Get("cameraId"), "options.cameraId");
  std::string description = ExpectString(opts.Get("description"), "options.description");
  // Record-only: a graph without appsink or decoder (a camera's record input), so no tensor stage at all.
  Napi::Value recordOnlyValue = opts.Get("recordOnly");
  recordOnly_ = !recordOnlyValue.IsUndefined() && ExpectBool(recordOnlyValue, "options.recordOnly");
  Napi::Value closeTimeoutValue = opts.Get("closeTimeoutMs");
  if (!closeTimeoutValue.IsUndefined()) closeTimeoutMs_ = ExpectInt(closeTimeoutValue, "options.closeTimeoutMs", 1, 600000);
  FrameSinkConfig sinkConfig;
  if (!recordOnly_) {
    Napi::Object tensor = ExpectObject(opts.Get("tensor"), "options.tensor");
    sinkConfig.tensor = ParseTensorSpec(tensor);
    sinkConfig.queueSize = ExpectInt(opts.Get("queueSize"), "options.queueSize", 1, 1024);
    sinkConfig.poolSize = ExpectInt(opts.Get("poolSize"), "options.poolSize", 1, 256);
    sinkConfig.block = ExpectBool(opts.Get("block"), "options.block");
    Napi::Value motionValue = opts.Get("motion");
    if (!motionValue.IsUndefined() && !motionValue.IsNull()) sinkConfig.motion = ParseMotionConfig(ExpectObject(motionValue, "options.motion"));
    Napi::Value regionsValue = opts.Get("regions");
    if (!regionsValue.IsUndefined() && !regionsValue.IsNull()) {
      if (!sinkConfig.motion)
        throw MakeError(env, "E_ARGUMENT", "options.regions needs options.motion: the regions come from the motion gate");
      sinkConfig.crop = ParseCropConfig(ExpectObject(regionsValue, "options.regions"), sinkConfig.tensor);
    }
  }
  Napi::Function onEvent = ExpectFunction(opts.Get("onEvent"), "options.onEvent");
  Napi::Value propsValue = opts.Get("properties");

  GError* rawError = nullptr;
  GstElement* parsed = gst_parse_launch_full(description.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &rawError);
  ErrorPtr error(rawError);
  if (error || !parsed) {
    if (parsed) gst_object_unref(parsed);
    bool missing = error && error->domain == GST_PARSE_ERROR && error->code == GST_PARSE_ERROR_NO_SUCH_ELEMENT;
    throw MakeError(env, missing ? "E_ELEMENT_MISSING" : "E_PIPELINE_PARSE",
                    std::string(missing ? "A GStreamer element is not installed: " : "Invalid pipeline description: ") +
                        (error ? error->message : "unknown error"));
  }
  if (!GST_IS_PIPELINE(parsed)) {
    gst_object_unref(parsed);
    throw MakeError(env, "E_PIPELINE_PARSE", "Invalid pipeline description: expected a chain of elements");
  }
  pipeline_.reset(parsed);

  if (!propsValue.IsUndefined()) {
    Napi::Object props = ExpectObject(propsValue, "options.properties");
    Napi::Array names = props.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      std::string elementName = names.Get(i).As<Napi::String>().Utf8Value();
      ElementPtr element(gst_bin_get_by_name(GST_BIN(pipeline_.get()), elementName.c_str()));
      if (!element)
        throw MakeError(env, "E_ARGUMENT", "No element named \"" + elementName + "\" in the pipeline description");
      Napi::Object values = ExpectObject(props.Get(elementName), "options.properties." + elementName);
      Napi::Array keys = values.GetPropertyNames();
      for (uint32_t k = 0; k < keys.Length(); ++k) {
        std::string key = keys.Get(k).As<Napi::String>().Utf8Value();
        std::string where = "options.properties." + elementName + "." + key;
        Napi::Value v = values.Get(key);
        if (!g_object_class_find_property(G_OBJECT_GET_CLASS(element.get()), key.c_str()))
          throw MakeError(env, "E_ARGUMENT", "Element \"" + elementName + "\" has no property \"" + key + "\"");
        std::string text;
        if (v.IsString()) text = v.As<Napi::String>().Utf8Value();
        else if (v.IsBoolean()) text = v.As<Napi::Boolean>().Value() ? "true" : "false";
        else if (v.IsNumber()) text = Napi::Value(v).ToString().Utf8Value();
        else ThrowExpected(env, "a string, number or boolean", where, v);
        // Parses enums, flags and numbers from their string form, exactly as gst-launch would.
        gst_util_set_object_arg(G_OBJECT(element.get()), key.c_str(), text.c_str());
      }
    }
  }

  ElementPtr appsink(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "sink"));
  if (!recordOnly_ && (!appsink || !GST_IS_APP_SINK(appsink.get())))
    throw MakeError(env, "E_PIPELINE_PARSE", "The pipeline description has no appsink named \"sink\"");
  if (recordOnly_ && appsink)
    throw MakeError(env, "E_PIPELINE_PARSE", "A record-only pipeline description must not have an element named \"sink\"");
  ElementPtr decoder(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "dec"));
  // Only for vigildec: told that the sink reads GstVideoMeta, avdec_h264 turns slower (2.48 -> 2.8-3.5 s of CPU for
  // the 795 frames of vtest 720p15 through the file template, alternating runs), so other decoders keep the
  // unanswered query they had.
  if (appsink && decoder && IsFactory(decoder.get(), "vigildec")) AnnounceVideoMeta(appsink.get());
  recorder_.reset(gst_bin_get_by_name(GST_BIN(pipeline_.get()), "rec"));
  if (recorder_) {
    Napi::Object rec = ExpectObject(opts.Get("recording"), "options.recording");
    recordDirectory_ = ExpectString(rec.Get("directory"), "options.recording.directory");
    recordPrefix_ = ExpectString(rec.Get("prefix"), "options.recording.prefix");
    recordExtension_ = ExpectString(rec.Get("extension"), "options.recording.extension");
    formatLocationId_ = g_signal_connect(recorder_.get(), "format-location-full", G_CALLBACK(OnFormatLocation), this);
    CountRecordedBuffers();
  } else if (recordOnly_) {
    throw MakeError(env, "E_PIPELINE_PARSE", "A record-only pipeline description needs a splitmuxsink named \"rec\"");
  }

  onEvent_ = Napi::Persistent(onEvent);
  tsfn_ = Tsfn::New(env, onEvent, "vigil.pipeline", 0, 1, this);
  tsfn_.Unref(env);
  if (recordOnly_) {
    BusPtr bus(gst_element_get_bus(pipeline_.get()));
    gst_bus_set_sync_handler(bus.get(), OnBusMessage, this, nullptr);
    std::lock_guard<std::mutex> lock(gRegistryMutex);
    gOpen.insert(this);
    return;
  }
  // Frames go through the thread-safe function; the pool bounds how many can be in flight.
  sink_ = std::make_unique<FrameSink>(appsink.get(), decoder.get(), sinkConfig, [this](const FrameReady& f) {
    auto* ev = new PipelineEvent{PipelineEvent::Kind::Frame, f};
    if (tsfn_.NonBlockingCall(ev) != napi_ok) {
      delete ev;
      return false;
    }
    return true;
  }, [this] {
    auto* ev = new PipelineEvent{PipelineEvent::Kind::Eos};
    if (tsfn_.NonBlockingCall(ev) != napi_ok) delete ev;
  });
  if (decoder) InstallLiveTap(decoder.get());
  externalBytes_ = static_cast<int64_t>(sink_->pool()->slotBytes()) * sink_->pool()->size();
  Napi::MemoryManagement::AdjustExternalMemory(env, externalBytes_);

  BusPtr bus(gst_element_get_bus(pipeline_.get()));
  gst_bus_set_sync_handler(bus.get(), OnBusMessage, this, nullptr);

  std::lock_guard<std::mutex> lock(gRegistryMutex);
  gOpen.insert(this);
}

Pipeline::~Pipeline() {
  destroying_ = true;
  Close();
  std::lock_guard<std::mutex> lock(gRegistryMutex);
  gAbandonedClosed.erase(this);
}

void Pipeline::CloseAll() {
  std::vector<Pipeline*> open;
  {
    std::lock_guard<std::mutex> lock(gRegistryMutex);
    open.assign(gOpen.begin(), gOpen.end());
  }
  for (Pipeline* p : open) p->Close();
}

size_t Pipeline::OpenCount() {
  std::lock_guard<std::mutex> lock(gRegistryMutex);
  return gOpen.size();
}

size_t Pipeline::AbandonedCount() { return gAbandoned.load(); }

size_t Pipeline::ReapedCount() { return gReaped.load(); }

Pipeline::Reaped Pipeline::ReapAbandoned() {
  Reaped r;
  std::vector<Pipeline*> finished;
  std::vector<Pipeline*> stuck;
  {
    std::lock_guard<std::mutex> lock(gRegistryMutex);
    for (Pipeline* p : gAbandonedClosed) (p->TeardownFinished() ? finished : stuck).push_back(p);
    for (Pipeline* p : finished) gAbandonedClosed.erase(p);
  }
  for (Pipeline* p : stuck) {
    if (p->sink_ && p->sink_->Unreachable()) {
      p->ReleaseSink();
      ++r.sinksReleased;
    }
  }
  for (Pipeline* p : finished) {
    p->ReleaseGraph();
    p->abandoned_ = false;
    gAbandoned.fetch_sub(1);
    gReaped.fetch_add(1);
    p->Unref();  // the pin of Close(): collectable again once JS drops it
  }
  r.finished = finished.size();
  return r;
}

bool Pipeline::TeardownFinished() {
  if (!teardown_) return true;
  std::lock_guard<std::mutex> lock(teardown_->mu);
  return teardown_->done;
}

void Pipeline::ThrowIfClosed(Napi::Env env, const char* method) {
  if (closed_) throw MakeError(env, "E_CLOSED", std::string("Pipeline.") + method + "() called after close()");
}

GstBusSyncReply Pipeline::OnBusMessage(GstBus*, GstMessage* msg, gpointer data) {
  auto* self = static_cast<Pipeline*>(data);
  std::unique_ptr<PipelineEvent> ev;
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      GError* err = nullptr;
      gchar* debug = nullptr;
      bool isError = GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR;
      if (isError) gst_message_parse_error(msg, &err, &debug);
      else gst_message_parse_warning(msg, &err, &debug);
      ErrorPtr e(err);
      GCharPtr d(debug);
      ev.reset(new PipelineEvent{isError ? PipelineEvent::Kind::Error : PipelineEvent::Kind::Warning});
      ev->source = GST_MESSAGE_SRC_NAME(msg) ? GST_MESSAGE_SRC_NAME(msg) : "";
      ev->message = e ? e->message : "";
      ev->debug = d ? d.get() : "";
      ev->domain = e ? g_quark_to_string(e->domain) : "";
      ev->code = e ? e->code : 0;
      break;
    }
    case GST_MESSAGE_EOS: {
      {
        std::lock_guard<std::mutex> lock(self->eosMutex_);
        self->eosSeen_ = true;
      }
      self->eosCv_.notify_all();
      // Through the frame queue, so JS sees every frame before the end of stream.
      if (self->sink_) {
        self->sink_->PushEos();
      } else {
        // Record-only: no frame queue; the EOS that stop() sends to finalise the segment is not the stream's end.
        std::lock_guard<std::mutex> lock(self->eosMutex_);
        if (!self->finishing_) ev.reset(new PipelineEvent{PipelineEvent::Kind::Eos});
      }
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure* s = gst_message_get_structure(msg);
      if (!s || !self->recorder_ || GST_MESSAGE_SRC(msg) != GST_OBJECT(self->recorder_.get())) break;
      const char* name = gst_structure_get_name(s);
      bool opened = g_str_equal(name, "splitmuxsink-fragment-opened");
      if (!opened && !g_str_equal(name, "splitmuxsink-fragment-closed")) break;
      ev.reset(new PipelineEvent{PipelineEvent::Kind::Segment});
      ev->phase = opened ? "opened" : "closed";
      const char* location = gst_structure_get_string(s, "location");
      ev->location = location ? location : "";
      GstClockTime rt = GST_CLOCK_TIME_NONE;
      gst_structure_get_clock_time(s, "running-time", &rt);
      ev->runningTimeNs = GST_CLOCK_TIME_IS_VALID(rt) ? static_cast<int64_t>(rt) : -1;
      ev->wallClockNs = self->WallClockOfRunningTime(rt);
      {
        std::lock_guard<std::mutex> lock(self->eosMutex_);
        self->openFragments_ += opened ? 1 : -1;
        if (self->finishing_) {
          // The JS thread is inside stop(): hand these over synchronously when the pipeline is down.
          self->finishingEvents_.push_back(ev.release());
        }
      }
      self->eosCv_.notify_all();
      break;
    }
    case GST_MESSAGE_LATENCY: ev.reset(new PipelineEvent{PipelineEvent::Kind::Latency}); break;
    case GST_MESSAGE_CLOCK_LOST: ev.reset(new PipelineEvent{PipelineEvent::Kind::ClockLost}); break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC(msg) == GST_OBJECT(self->pipeline_.get())) {
        GstState oldState, newState;
        gst_message_parse_state_changed(msg, &oldState, &newState, nullptr);
        ev.reset(new PipelineEvent{PipelineEvent::Kind::StateChanged});
        ev->oldState = gst_element_state_get_name(oldState);
        ev->newState = gst_element_state_get_name(newState);
      }
      break;
    default: break;
  }
  if (ev && self->tsfn_.NonBlockingCall(ev.get()) == napi_ok) ev.release();
  // A sync handler that answers DROP owns the message (gstbus.c does not unref it).
  gst_message_unref(msg);
  return GST_BUS_DROP;
}

namespace {

struct Lease {
  std::shared_ptr<FramePool> pool;
  int slot;
  uint32_t generation;
};

}  // namespace

void Pipeline::CallJs(Napi::Env env, Napi::Function callback, Pipeline* self, PipelineEvent* raw) {
  std::unique_ptr<PipelineEvent> ev(raw);
  if (!ev) return;
  // env is null when the function was aborted by close() with events still queued: the Pipeline may already be
  // gone, so only the event itself is freed (the pool, if still alive, is being torn down with it).
  if (env == nullptr) return;
  if (self->closed_) return;
  if (ev->kind == PipelineEvent::Kind::Latency) {
    gst_bin_recalculate_latency(GST_BIN(self->pipeline_.get()));
    return;
  }
  if (ev->kind == PipelineEvent::Kind::ClockLost) {
    // A live source lost its clock (e.g. an RTSP reconnect inside rtspsrc): select a new one.
    gst_element_set_state(self->pipeline_.get(), GST_STATE_PAUSED);
    gst_element_set_state(self->pipeline_.get(), GST_STATE_PLAYING);
    return;
  }
  Napi::Object o = Napi::Object::New(env);
  switch (ev->kind) {
    case PipelineEvent::Kind::Frame: {
      const FrameReady& f = ev->frame;
      const auto& pool = self->sink_->pool();
      auto* lease = new Lease{pool, f.slot, f.generation};
      Napi::ArrayBuffer tensor = Napi::ArrayBuffer::New(
          env, pool->Data(f.slot), f.tensorBytes,
          [](Napi::Env, void*, Lease* l) {
            l->pool->Release(l->slot, l->generation);
            delete l;
          },
          lease);
      o.Set("type", "frame");
      o.Set("cameraId", self->cameraId_);
      o.Set("sequence", static_cast<double>(f.sequence));
      o.Set("ptsNs", static_cast<double>(f.ptsNs));
      o.Set("wallClockNs", Napi::BigInt::New(env, f.wallClockNs));
      o.Set("sourceWidth", f.sourceWidth);
      o.Set("sourceHeight", f.sourceHeight);
      o.Set("scale", f.letterbox.scale);
      o.Set("padX", f.letterbox.padX);
      o.Set("padY", f.letterbox.padY);
      o.Set("tensorWidth", f.tensorWidth);
      o.Set("tensorHeight", f.tensorHeight);
      o.Set("cropped", f.cropped);
      o.Set("cropX", f.crop.x);
      o.Set("cropY", f.crop.y);
      o.Set("cropWidth", f.crop.width);
      o.Set("cropHeight", f.crop.height);
      o.Set("regionShare", f.regionShare);
      o.Set("regionCount", f.regionCount);
      o.Set("slot", f.slot);
      o.Set("generation", static_cast<double>(f.generation));
      o.Set("tensor", tensor);
      o.Set("motion", f.motion);
      o.Set("changedFraction", f.changedFraction);
      break;
    }
    case PipelineEvent::Kind::Error:
    case PipelineEvent::Kind::Warning:
      o.Set("type", ev->kind == PipelineEvent::Kind::Error ? "error" : "warning");
      o.Set("source", ev->source);
      o.Set("message", ev->message);
      o.Set("debug", ev->debug);
      o.Set("domain", ev->domain);
      o.Set("code", ev->code);
      break;
    case PipelineEvent::Kind::Eos: o.Set("type", "eos"); break;
    case PipelineEvent::Kind::Segment:
      o.Set("type", "segment");
      o.Set("phase", ev->phase);
      o.Set("location", ev->location);
      o.Set("runningTimeNs", static_cast<double>(ev->runningTimeNs));
      o.Set("wallClockNs", Napi::BigInt::New(env, ev->wallClockNs));
      break;
    case PipelineEvent::Kind::Live:
      self->liveInFlight_.fetch_sub(1, std::memory_order_relaxed);
      o.Set("type", "live");
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, ev->data.data(), ev->data.size()));
      o.Set("ptsNs", static_cast<double>(ev->ptsNs));
      o.Set("dtsNs", static_cast<double>(ev->dtsNs));
      o.Set("durationNs", static_cast<double>(ev->durationNs));
      o.Set("keyframe", ev->keyframe);
      o.Set("wallClockNs", Napi::BigInt::New(env, ev->wallClockNs));
      if (!ev->caps.empty()) {
        o.Set("caps", ev->caps);
        o.Set("codecData", Napi::Buffer<uint8_t>::Copy(env, ev->codecData.data(), ev->codecData.size()));
      }
      break;
    case PipelineEvent::Kind::StateChanged:
      o.Set("type", "state");
      o.Set("oldState", ev->oldState);
      o.Set("newState", ev->newState);
      break;
    default: return;
  }
  callback.Call({o});
}

Napi::Value Pipeline::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "start");
  if (abandoned_ && TeardownFinished()) abandoned_ = false;  // the timed-out stop has finished since
  if (abandoned_)
    throw MakeError(env, "E_PIPELINE_STUCK", "Pipeline.start() called after a stop that did not finish within options.closeTimeoutMs");
  if (!running_) {
    if (sink_) sink_->Start();
    running_ = true;
    {
      std::lock_guard<std::mutex> lock(eosMutex_);
      eosSeen_ = false;
    }
    if (!tsfnRefed_) {
      tsfn_.Ref(env);
      tsfnRefed_ = true;
    }
  }
  GstStateChangeReturn r = gst_element_set_state(pipeline_.get(), GST_STATE_PLAYING);
  switch (r) {
    case GST_STATE_CHANGE_SUCCESS: return Napi::String::New(env, "success");
    case GST_STATE_CHANGE_ASYNC: return Napi::String::New(env, "async");
    case GST_STATE_CHANGE_NO_PREROLL: return Napi::String::New(env, "no-preroll");
    default: return Napi::String::New(env, "failure");
  }
}

// Names each segment by camera and wall-clock start: <dir>/<prefix>-<UTC yyyymmddThhmmss.mmmZ>-<n>.<ext>.
gchar* Pipeline::OnFormatLocation(GstElement*, guint fragmentId, GstSample*, gpointer data) {
  auto* self = static_cast<Pipeline*>(data);
  const gint64 us = g_get_real_time();
  GDateTime* dt = g_date_time_new_from_unix_utc(us / 1000000);
  GCharPtr stamp(g_date_time_format(dt, "%Y%m%dT%H%M%S"));
  g_date_time_unref(dt);
  return g_strdup_printf("%s/%s-%s.%03dZ-%05u.%s", self->recordDirectory_.c_str(), self->recordPrefix_.c_str(), stamp.get(),
                         static_cast<int>((us / 1000) % 1000), fragmentId, self->recordExtension_.c_str());
}

// A recording pipeline ends with EOS so the open segment is finalised (index written, "closed" posted); bounded,
// so a source that cannot pass EOS cannot hold up the stop.
void Pipeline::FinishRecording() {
  {
    std::lock_guard<std::mutex> lock(eosMutex_);
    if (eosSeen_) return;
  }
  GstState state = GST_STATE_NULL;
  gst_element_get_state(pipeline_.get(), &state, nullptr, 0);
  if (state != GST_STATE_PLAYING && state != GST_STATE_PAUSED) return;
  if (sink_) sink_->Drain();
  {
    std::lock_guard<std::mutex> lock(eosMutex_);
    finishing_ = true;
  }
  gst_element_send_event(pipeline_.get(), gst_event_new_eos());
  std::unique_lock<std::mutex> lock(eosMutex_);
  eosCv_.wait_for(lock, std::chrono::seconds(3), [&] { return eosSeen_ && openFragments_ <= 0; });
}

void Pipeline::StopInternal() {
  if (!running_) return;
  if (recorder_) FinishRecording();
  if (sink_) sink_->BeginStop();
  if (!SetNullBounded()) abandoned_ = true;
  if (sink_) sink_->FinishStop();  // its worker ends on the stop flag, not on GStreamer
  std::vector<PipelineEvent*> segments;
  {
    std::lock_guard<std::mutex> lock(eosMutex_);
    segments.swap(finishingEvents_);
    finishing_ = false;
    openFragments_ = 0;
  }
  for (PipelineEvent* ev : segments) CallJs(env_, onEvent_.Value(), this, ev);
  running_ = false;
  if (tsfnRefed_) {
    tsfn_.Unref(env_);
    tsfnRefed_ = false;
  }
}

// The JS thread must not hang on a teardown that never ends: seen in the soak (issue 17) as rtspsrc's own task
// closing its streams (on the server's end of stream or a lost connection) while the camera closed the pipeline,
// each waiting on a lock of the other; the whole server stopped answering. The wait is bounded; the thread and
// its reference to the graph stay behind when it times out. A second thread kicks the graph's jitterbuffers while
// the transition runs long (teardown_kick.h: the deadlock's cause, and what ends it).
bool Pipeline::SetNullBounded() {
  auto job = std::make_shared<Teardown>();
  teardown_ = job;
  GstElement* graph = GST_ELEMENT(gst_object_ref(pipeline_.get()));
  std::thread([job, graph] {
    gst_element_set_state(graph, GST_STATE_NULL);
    gst_object_unref(graph);
    {
      std::lock_guard<std::mutex> lock(job->mu);
      job->done = true;
    }
    job->cv.notify_all();
  }).detach();
  // The kicker holds the graph only while it kicks (a weak reference in between): a teardown that finishes in
  // time leaves nothing of the graph alive after close().
  auto kickGraph = std::make_shared<GWeakRef>();
  g_weak_ref_init(kickGraph.get(), pipeline_.get());
  std::thread([job, kickGraph] {
    int effective = 0;
    std::unique_lock<std::mutex> lock(job->mu);
    for (int attempt = 0;; ++attempt) {
      if (job->cv.wait_for(lock, kKickAfter, [&] { return job->done; })) break;
      if (attempt == kMaxKicks) {
        job->cv.wait(lock, [&] { return job->done; });
        break;
      }
      lock.unlock();
      KickResult kick;
      if (gpointer graph = g_weak_ref_get(kickGraph.get())) {
        kick = KickJitterBuffers(GST_ELEMENT(graph));
        gst_object_unref(graph);
      }
      gStuckFound.fetch_add(kick.stuck);
      lock.lock();
      if (kick.flushed > 0) {
        if (effective++ == 0) gTeardownsKicked.fetch_add(1);
        gKicks.fetch_add(1);
      }
    }
    if (effective > 0) gKickedFinished.fetch_add(1);
    lock.unlock();
    g_weak_ref_clear(kickGraph.get());
  }).detach();
  std::unique_lock<std::mutex> lock(job->mu);
  return job->cv.wait_for(lock, std::chrono::milliseconds(closeTimeoutMs_), [&] { return job->done; });
}

Pipeline::KickCounts Pipeline::TeardownKicks() {
  return {gKicks.load(), gTeardownsKicked.load(), gKickedFinished.load(), gStuckFound.load()};
}

Napi::Value Pipeline::Stop(const Napi::CallbackInfo& info) {
  ThrowIfClosed(info.Env(), "stop");
  StopInternal();
  return info.Env().Undefined();
}

void Pipeline::Close() {
  if (closed_) return;
  StopInternal();
  closed_ = true;
  {
    BusPtr bus(gst_element_get_bus(pipeline_.get()));
    gst_bus_set_flushing(bus.get(), TRUE);
    gst_bus_set_sync_handler(bus.get(), nullptr, nullptr, nullptr);
  }
  if (abandoned_ && !TeardownFinished()) {
    // The graph may still be mid-teardown on its own thread: its streaming threads can still reach the sink, the
    // thread-safe function (whose calls now end in CallJs's closed_ check) and this object, so all of them are
    // kept: this object is pinned until ReapAbandoned finds the teardown finished (a deadlock inside an element
    // never finishes: then they stay for good), unless it is being destroyed already.
    gAbandoned.fetch_add(1);
    std::lock_guard<std::mutex> lock(gRegistryMutex);
    gOpen.erase(this);
    if (!destroying_) {
      Ref();
      gAbandonedClosed.insert(this);
    }
    return;
  }
  abandoned_ = false;  // a stop that timed out but has finished since: nothing is stuck any more
  ReleaseGraph();
  std::lock_guard<std::mutex> lock(gRegistryMutex);
  gOpen.erase(this);
}

void Pipeline::ReleaseGraph() {
  if (recorder_ && formatLocationId_) g_signal_handler_disconnect(recorder_.get(), formatLocationId_);
  recorder_.reset();
  ReleaseSink();
  pipeline_.reset();
  teardown_.reset();
  tsfn_.Abort();
  onEvent_.Reset();
}

void Pipeline::ReleaseSink() {
  // The sink goes before the graph (it unhooks itself from the appsink); the pool lives on in any lease still
  // held by JS.
  sink_.reset();
  Napi::MemoryManagement::AdjustExternalMemory(env_, -externalBytes_);
  externalBytes_ = 0;
}

Napi::Value Pipeline::CloseJs(const Napi::CallbackInfo& info) {
  Close();
  return info.Env().Undefined();
}

// release(tensor, slot, generation): detaches the ArrayBuffer (so JS can no longer read a buffer being reused)
// and returns its slot to the pool.
Napi::Value Pipeline::Release(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArrayBuffer()) ThrowExpected(env, "an ArrayBuffer", "tensor", info[0]);
  int slot = ExpectInt(info[1], "slot", 0, 255);
  double generation = ExpectNumber(info[2], "generation");
  Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
  if (!ab.IsDetached()) ab.Detach();
  if (!closed_ && sink_) sink_->pool()->Release(slot, static_cast<uint32_t>(generation));
  return env.Undefined();
}

Napi::Value Pipeline::SeekStart(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "seekStart");
  gboolean ok = gst_element_seek_simple(pipeline_.get(), GST_FORMAT_TIME,
                                        static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
  return Napi::Boolean::New(env, ok);
}

Napi::Value Pipeline::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "stats");
  Napi::Object o = Napi::Object::New(env);
  auto n = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
  n("recordBuffers", static_cast<double>(recordBuffers_.load()));
  n("recordBytes", static_cast<double>(recordBytes_.load()));
  const int64_t lastRec = lastRecordMonotonicUs_.load();
  n("msSinceLastRecordBuffer", lastRec == 0 ? -1 : (g_get_monotonic_time() - lastRec) / 1000.0);
  n("liveSamples", static_cast<double>(liveSamples_.load()));
  n("liveDropped", static_cast<double>(liveDropped_.load()));
  if (!sink_) return o;  // record-only: no frame stage
  FrameSinkStats& s = sink_->stats();
  n("framesDecoded", s.framesDecoded.load());
  n("framesIn", s.framesIn.load());
  n("framesDelivered", s.framesDelivered.load());
  n("droppedQueue", s.droppedQueue.load());
  n("droppedPool", s.droppedPool.load());
  n("droppedDelivery", s.droppedDelivery.load());
  n("droppedFormat", s.droppedFormat.load());
  n("skippedNoMotion", s.skippedNoMotion.load());
  n("skippedRate", s.skippedRate.load());
  n("framesCropped", s.framesCropped.load());
  n("analysisIntervalMs", sink_->AnalysisInterval() / 1e6);
  n("queueDepth", sink_->QueueDepth());
  n("poolInUse", sink_->pool()->InUse());
  n("poolSize", sink_->pool()->size());
  const int64_t last = s.lastFrameMonotonicUs.load();
  n("msSinceLastFrame", last == 0 ? -1 : (g_get_monotonic_time() - last) / 1000.0);
  n("width", s.width.load());
  n("height", s.height.load());
  return o;
}

Napi::Value Pipeline::SetMotionBypass(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "setMotionBypass");
  bool bypass = ExpectBool(info[0], "bypass");
  if (sink_) sink_->SetMotionBypass(bypass);
  return env.Undefined();
}

Napi::Value Pipeline::SetFullFrame(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "setFullFrame");
  const bool full = ExpectBool(info[0], "full");
  if (sink_) sink_->SetFullFrame(full);
  return env.Undefined();
}

// setAnalysisInterval(ms): 0 lifts the limit; fractions of a millisecond are kept (1000 / fps).
Napi::Value Pipeline::SetAnalysisInterval(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "setAnalysisInterval");
  const double ms = ExpectNumber(info[0], "intervalMs");
  if (!(std::isfinite(ms) && ms >= 0 && ms <= 86400000.0))
    ThrowExpected(env, "a number of milliseconds from 0 to 86400000", "intervalMs", info[0]);
  if (sink_) sink_->SetAnalysisInterval(static_cast<int64_t>(std::llround(ms * 1e6)));
  return env.Undefined();
}

// captureSource(slot, generation) -> SourceFrame | null: a deep copy of the decoded frame a leased tensor was made
// from. Null (counted) when the lease is gone (released, slot reused, pipeline stopped or closed) or when the
// process-wide retained-bytes budget refuses the copy.
Napi::Value Pipeline::CaptureSource(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int slot = ExpectInt(info[0], "slot", 0, 255);
  const Napi::Value g = info[1];
  const double generation = g.IsNumber() ? g.As<Napi::Number>().DoubleValue() : NAN;
  if (!(std::isfinite(generation) && generation >= 0 && generation <= 4294967295.0 && std::floor(generation) == generation))
    ThrowExpected(env, "an integer from 0 to 4294967295", "generation", g);
  SamplePtr sample = closed_ || !sink_ ? nullptr : sink_->pool()->Sample(slot, static_cast<uint32_t>(generation));
  if (!sample) {
    CountStaleCapture();
    return env.Null();
  }
  return CaptureSample(env, sample.get());
}

// setLiveTap(enabled): while true, every encoded access unit reaching the decoder is copied to JS as a 'live'
// event (the first one after enabling carries the caps); false stops the copies at once.
Napi::Value Pipeline::SetLiveTap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ThrowIfClosed(env, "setLiveTap");
  const bool on = ExpectBool(info[0], "enabled");
  if (on && !liveTap_.load()) {
    liveSendCaps_.store(true);
    liveNeedKey_.store(true);
  }
  liveTap_.store(on);
  return env.Undefined();
}

void Pipeline::InstallLiveTap(GstElement* decoder) {
  PadPtr pad(gst_element_get_static_pad(decoder, "sink"));
  if (!pad) return;
  gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &Pipeline::OnLiveBuffer, this, nullptr);
}

// On the streaming thread. Bounded: at most 256 samples wait for the JS thread; past that a sample is dropped
// (counted) and so is every delta until the next keyframe, so what JS gets always decodes.
GstPadProbeReturn Pipeline::OnLiveBuffer(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* self = static_cast<Pipeline*>(data);
  if (!self->liveTap_.load(std::memory_order_relaxed)) return GST_PAD_PROBE_OK;
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (!buffer) return GST_PAD_PROBE_OK;
  const bool key = !GST_BUFFER_FLAG_IS_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  if (!key && self->liveNeedKey_.load(std::memory_order_relaxed)) return GST_PAD_PROBE_OK;
  if (self->liveInFlight_.load(std::memory_order_relaxed) >= 256) {
    self->liveDropped_.fetch_add(1, std::memory_order_relaxed);
    self->liveNeedKey_.store(true, std::memory_order_relaxed);
    return GST_PAD_PROBE_OK;
  }
  auto ev = std::make_unique<PipelineEvent>(PipelineEvent{PipelineEvent::Kind::Live});
  if (key) {
    self->liveNeedKey_.store(false, std::memory_order_relaxed);
    if (self->liveSendCaps_.exchange(false)) {
      GstCaps* caps = gst_pad_get_current_caps(pad);
      if (caps) {
        GCharPtr text(gst_caps_to_string(caps));
        ev->caps = text ? text.get() : "";
        const GstStructure* st = gst_caps_get_structure(caps, 0);
        const GValue* cd = st ? gst_structure_get_value(st, "codec_data") : nullptr;
        if (cd && G_VALUE_HOLDS(cd, GST_TYPE_BUFFER)) {
          GstBuffer* cdb = gst_value_get_buffer(cd);
          GstMapInfo m;
          if (cdb && gst_buffer_map(cdb, &m, GST_MAP_READ)) {
            ev->codecData.assign(m.data, m.data + m.size);
            gst_buffer_unmap(cdb, &m);
          }
        }
        gst_caps_unref(caps);
      }
      if (ev->caps.empty()) self->liveSendCaps_.store(true);  // no caps yet: try again on the next keyframe
    }
  }
  GstMapInfo map;
  if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return GST_PAD_PROBE_OK;
  ev->data.assign(map.data, map.data + map.size);
  gst_buffer_unmap(buffer, &map);
  ev->ptsNs = GST_BUFFER_PTS_IS_VALID(buffer) ? static_cast<int64_t>(GST_BUFFER_PTS(buffer)) : -1;
  ev->dtsNs = GST_BUFFER_DTS_IS_VALID(buffer) ? static_cast<int64_t>(GST_BUFFER_DTS(buffer)) : -1;
  ev->durationNs = GST_BUFFER_DURATION_IS_VALID(buffer) ? static_cast<int64_t>(GST_BUFFER_DURATION(buffer)) : -1;
  ev->keyframe = key;
  ev->wallClockNs = g_get_real_time() * 1000;
  self->liveInFlight_.fetch_add(1, std::memory_order_relaxed);
  if (self->tsfn_.NonBlockingCall(ev.get()) == napi_ok) {
    ev.release();
    self->liveSamples_.fetch_add(1, std::memory_order_relaxed);
  } else {
    self->liveInFlight_.fetch_sub(1, std::memory_order_relaxed);
  }
  return GST_PAD_PROBE_OK;
}

Napi::Value Pipeline::IsClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

// Record-only part: the recorder's input is counted (progress for the record input's watchdog, bytes for
// counters), and segment boundaries are put on the wall clock through the pipeline clock, so every pipeline of a
// camera stamps the same instant alike whenever its bus message happens to be handled.
void Pipeline::CountRecordedBuffers() {
  GstIterator* it = gst_element_iterate_sink_pads(recorder_.get());
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next(it, &item) == GST_ITERATOR_OK) {
    auto* pad = GST_PAD(g_value_get_object(&item));
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, [](GstPad*, GstPadProbeInfo* info, gpointer data) {
      auto* self = static_cast<Pipeline*>(data);
      GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
      self->recordBuffers_.fetch_add(1, std::memory_order_relaxed);
      if (buffer) self->recordBytes_.fetch_add(gst_buffer_get_size(buffer), std::memory_order_relaxed);
      self->lastRecordMonotonicUs_.store(g_get_monotonic_time(), std::memory_order_relaxed);
      return GST_PAD_PROBE_OK;
    }, this, nullptr);
    g_value_reset(&item);
  }
  g_value_unset(&item);
  gst_iterator_free(it);
}

// Unix-epoch ns at which the pipeline clock read base_time + runningTimeNs (the instant a live source stamped
// that buffer, or a synced file played it); the wall clock now when the running time or clock is unknown.
int64_t Pipeline::WallClockOfRunningTime(GstClockTime runningTimeNs) {
  const int64_t wallNow = g_get_real_time() * 1000;
  if (!GST_CLOCK_TIME_IS_VALID(runningTimeNs)) return wallNow;
  GstClock* clock = gst_element_get_clock(pipeline_.get());
  if (!clock) return wallNow;
  const GstClockTime now = gst_clock_get_time(clock);
  gst_object_unref(clock);
  const GstClockTime base = gst_element_get_base_time(pipeline_.get());
  if (!GST_CLOCK_TIME_IS_VALID(now) || !GST_CLOCK_TIME_IS_VALID(base)) return wallNow;
  return wallNow - (static_cast<int64_t>(now) - static_cast<int64_t>(base + runningTimeNs));
}

}  // namespace vigil
