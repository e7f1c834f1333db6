// Test tool (test/native/teardown-kick.test.ts): puts a real rtpjitterbuffer into the state the soak's teardown
// deadlock left it in (issue 17) and checks that KickJitterBuffers ends it.
//
// The state: the jitterbuffer's source-pad task waits for data inside its loop, holding the pad's stream lock,
// with its flow result OK, while another thread stops that task (gst_pad_stop_task waits for the stream lock).
// In the soak the flow result was OK again because a concurrent flush-stop undid the deactivation's flush-start;
// here the stop is simply made without one. Prints one JSON line; exit status 0 when every step behaved.
#include <gst/gst.h>

#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

#include "../teardown_kick.h"

namespace {

using Clock = std::chrono::steady_clock;

long long MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch(
      "appsrc is-live=true caps=application/x-rtp,media=video,clock-rate=90000,encoding-name=H264,payload=96 "
      "! rtpjitterbuffer name=jb ! fakesink async=false",
      &error);
  if (!pipeline) {
    std::printf("{\"error\":\"%s\"}\n", error ? error->message : "parse failed");
    return 2;
  }
  // An empty bin kicks nothing.
  GstElement* empty = gst_bin_new("empty");
  const int emptyKicked = vigil::KickJitterBuffers(empty).flushed;
  gst_object_unref(empty);

  if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    std::printf("{\"error\":\"the pipeline did not start\"}\n");
    return 2;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the loop is waiting for data now

  GstElement* jb = gst_bin_get_by_name(GST_BIN(pipeline), "jb");
  GstPad* src = gst_element_get_static_pad(jb, "src");
  const auto stopStarted = Clock::now();
  std::promise<void> stopped;
  std::future<void> stoppedFuture = stopped.get_future();
  std::thread stopper([&] {
    gst_pad_stop_task(src);
    stopped.set_value();
  });
  // Stuck: without a kick the stop does not return (the loop never looks at its task's state).
  const bool stuck = stoppedFuture.wait_for(std::chrono::milliseconds(1500)) == std::future_status::timeout;
  const auto kickStarted = Clock::now();
  const vigil::KickResult kick = vigil::KickJitterBuffers(pipeline);
  const int kicked = kick.flushed;
  const bool released = stoppedFuture.wait_for(std::chrono::seconds(5)) == std::future_status::ready;
  const long long releasedMs = MsSince(kickStarted);
  if (!released) {
    std::printf("{\"stuck\":%s,\"kicked\":%d,\"released\":false}\n", stuck ? "true" : "false", kicked);
    std::fflush(stdout);
    std::_Exit(3);  // the stopper thread cannot be joined
  }
  stopper.join();
  // A second kick finds the sink pad flushing already: nothing to do.
  const int kickedAgain = vigil::KickJitterBuffers(pipeline).flushed;
  const GstStateChangeReturn toNull = gst_element_set_state(pipeline, GST_STATE_NULL);
  std::printf(
      "{\"emptyKicked\":%d,\"stuck\":%s,\"stuckMs\":%lld,\"kicked\":%d,\"foundStuck\":%d,\"released\":true,\"releasedMs\":%lld,"
      "\"kickedAgain\":%d,\"toNull\":\"%s\"}\n",
      emptyKicked, stuck ? "true" : "false", static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(kickStarted - stopStarted).count()),
      kicked, kick.stuck, releasedMs, kickedAgain, gst_element_state_change_return_get_name(toNull));
  gst_object_unref(src);
  gst_object_unref(jb);
  gst_object_unref(pipeline);
  return stuck && kicked == 1 && kick.stuck == 1 && kickedAgain == 0 && emptyKicked == 0 && toNull == GST_STATE_CHANGE_SUCCESS ? 0 : 1;
}
