#pragma once

#include <gst/gst.h>

namespace vigil {

// Wakes the rtpjitterbuffers inside `graph` (recursively) out of a teardown deadlock seen in the soak (issue 17,
// GStreamer 1.22): one thread deactivating a jitterbuffer's source pad waits in gst_pad_stop_task for the pad's
// stream lock, while the pad's task holds that lock waiting in g_cond_wait for data with its flow result back at
// OK (a concurrent flush-stop or reactivation undid the flush the deactivation started), so it never sees the
// stop. A flush-start sent into a jitterbuffer's sink pad sets its flow result to flushing and signals that wait:
// the task leaves its loop, gives up the lock, and the stop goes on. Harmless to a graph that is going to NULL
// anyway (data stops at the jitterbuffers). Blocks until each jitterbuffer's task has left its loop, so callers
// run it on a thread of their own.
struct KickResult {
  int flushed = 0;  // jitterbuffers sent a flush-start (their sink pad was not flushing yet)
  // Of those, the ones found in the deadlock's state before the kick: the source pad's task already taken away
  // by gst_pad_stop_task (GST_PAD_TASK is NULL) while its stream lock is still held (the old task's loop).
  int stuck = 0;
};
KickResult KickJitterBuffers(GstElement* graph);

}  // namespace vigil
