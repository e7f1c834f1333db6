// Pipeline: one camera's GStreamer graph, built from an explicit launch description (no decodebin), with secrets
// and paths set as element properties after parsing so they never pass through a description string or an error.
// Bus messages and frames reach JS through one thread-safe function; close() is the one teardown path, shared by
// the JS API, the ObjectWrap destructor and the env cleanup hook.
#pragma once

#include <gst/gst.h>
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common.h"
#include "frame_sink.h"

namespace vigil {

struct PipelineEvent;

class Pipeline : public Napi::ObjectWrap<Pipeline> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Pipeline(const Napi::CallbackInfo& info);
  ~Pipeline() override;

  // Used by the env cleanup hook: closes every pipeline still open in this env.
  static void CloseAll();
  // Pipelines created and not yet closed, process-wide (a leak check for tests and metrics).
  static size_t OpenCount();
  // Pipelines whose teardown (state NULL) did not finish within their close timeout: left to finish (or never)
  // on a thread of their own, with everything their streaming threads can reach kept alive, process-wide.
  static size_t AbandonedCount();
  // JS thread: releases the closed abandoned pipelines whose teardown has since finished (the graph reached NULL
  // late): their graph, frame sink, tensor pool and this object's pin, as close() would have. Of those still
  // tearing down, releases the frame sink and tensor pool once no streaming thread can reach them.
  struct Reaped {
    size_t finished = 0;
    size_t sinksReleased = 0;
  };
  static Reaped ReapAbandoned();
  // Teardown kicks (teardown_kick.h) so far, process-wide: kicks that flushed at least one jitterbuffer, the
  // teardowns that needed one, of those the ones that have reached NULL since, and the jitterbuffers the kicks
  // found in the deadlock's state.
  struct KickCounts {
    size_t kicks;
    size_t teardownsKicked;
    size_t finishedAfterKick;
    size_t jitterbuffersStuck;
  };
  static KickCounts TeardownKicks();
  // Abandoned pipelines released by ReapAbandoned so far, process-wide.
  static size_t ReapedCount();
  void Close();

 private:
  static void CallJs(Napi::Env env, Napi::Function callback, Pipeline* self, PipelineEvent* event);
  using Tsfn = Napi::TypedThreadSafeFunction<Pipeline, PipelineEvent, CallJs>;

  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value CloseJs(const Napi::CallbackInfo& info);
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value SeekStart(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value SetMotionBypass(const Napi::CallbackInfo& info);
  Napi::Value SetFullFrame(const Napi::CallbackInfo& info);
  Napi::Value SetAnalysisInterval(const Napi::CallbackInfo& info);
  Napi::Value CaptureSource(const Napi::CallbackInfo& info);
  Napi::Value SetLiveTap(const Napi::CallbackInfo& info);

  static GstBusSyncReply OnBusMessage(GstBus* bus, GstMessage* msg, gpointer self);
  void ThrowIfClosed(Napi::Env env, const char* method);
  void StopInternal();
  // gst_element_set_state(NULL) on a thread of its own, waited for at most closeTimeoutMs_: false when it did not
  // finish (a deadlock inside an element, e.g. rtspsrc tearing itself down while the pipeline is stopped).
  bool SetNullBounded();
  // The NULL transition left running by a timed-out SetNullBounded has finished since.
  bool TeardownFinished();
  // The part of Close() an abandoned pipeline skipped (JS thread, once its teardown has finished).
  void ReleaseGraph();
  // The frame sink and its tensor pool (the bulk of a pipeline's own memory).
  void ReleaseSink();

  static gchar* OnFormatLocation(GstElement* splitmux, guint fragmentId, GstSample* first, gpointer self);
  void FinishRecording();
  void CountRecordedBuffers();
  int64_t WallClockOfRunningTime(GstClockTime runningTimeNs);
  // Live tap (web console): a buffer probe on the decoder's input (the parsed, still encoded stream) that, while
  // enabled, copies each access unit to JS. Nothing is decoded or re-encoded; disabled, the probe returns at once.
  void InstallLiveTap(GstElement* decoder);
  static GstPadProbeReturn OnLiveBuffer(GstPad* pad, GstPadProbeInfo* info, gpointer self);

  std::string cameraId_;
  ElementPtr pipeline_;
  // Recording branch (splitmuxsink named "rec"), when the description has one.
  ElementPtr recorder_;
  gulong formatLocationId_ = 0;
  std::string recordDirectory_;
  std::string recordPrefix_;
  std::string recordExtension_;
  std::mutex eosMutex_;
  std::condition_variable eosCv_;
  bool eosSeen_ = false;
  int openFragments_ = 0;        // segments opened and not yet closed (guarded by eosMutex_)
  bool finishing_ = false;       // stop in progress: segment events are kept for a synchronous hand-over
  std::vector<PipelineEvent*> finishingEvents_;
  // Record-only pipelines (a camera's record input) have no appsink and no frame sink (sink_ stays null).
  bool recordOnly_ = false;
  std::atomic<uint64_t> recordBuffers_{0};
  std::atomic<uint64_t> recordBytes_{0};
  std::atomic<int64_t> lastRecordMonotonicUs_{0};
  std::atomic<bool> liveTap_{false};
  std::atomic<bool> liveSendCaps_{false};  // the next sample carries the caps (a new viewer needs the codec data)
  std::atomic<bool> liveNeedKey_{true};    // after a drop, deltas are useless until the next keyframe
  std::atomic<int> liveInFlight_{0};       // samples queued to JS and not yet handled (bounded)
  std::atomic<uint64_t> liveSamples_{0};
  std::atomic<uint64_t> liveDropped_{0};
  std::unique_ptr<FrameSink> sink_;
  Napi::FunctionReference onEvent_;
  Tsfn tsfn_;
  bool tsfnRefed_ = false;
  bool running_ = false;
  bool closed_ = false;
  bool abandoned_ = false;   // a teardown timed out: the graph, sink and this object are kept (see Close)
  bool destroying_ = false;  // Close() called from the destructor: this object cannot be kept
  int closeTimeoutMs_ = 5000;
  // The NULL transition of the last SetNullBounded (its thread sets `done`); kept while abandoned_.
  struct Teardown {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
  };
  std::shared_ptr<Teardown> teardown_;
  int64_t externalBytes_ = 0;
  Napi::Env env_;
};

}  // namespace vigil
