#include "teardown_kick.h"

#include <vector>

namespace vigil {

namespace {

bool IsJitterBuffer(GstElement* element) {
  GstElementFactory* factory = gst_element_get_factory(element);  // borrowed
  return factory && g_strcmp0(GST_OBJECT_NAME(factory), "rtpjitterbuffer") == 0;
}

// The jitterbuffers now inside `graph`, each with a reference. rtspsrc adds and removes its rtpbin (and rtpbin its
// jitterbuffers) from its own thread, possibly during the walk: a resync starts the walk again.
std::vector<GstElement*> CollectJitterBuffers(GstElement* graph) {
  std::vector<GstElement*> found;
  if (!GST_IS_BIN(graph)) return found;
  GstIterator* it = gst_bin_iterate_recurse(GST_BIN(graph));
  GValue item = G_VALUE_INIT;
  bool done = false;
  while (!done) {
    switch (gst_iterator_next(it, &item)) {
      case GST_ITERATOR_OK: {
        auto* element = GST_ELEMENT(g_value_get_object(&item));
        if (IsJitterBuffer(element)) found.push_back(GST_ELEMENT(gst_object_ref(element)));
        g_value_reset(&item);
        break;
      }
      case GST_ITERATOR_RESYNC:
        for (GstElement* e : found) gst_object_unref(e);
        found.clear();
        gst_iterator_resync(it);
        break;
      case GST_ITERATOR_ERROR:
      case GST_ITERATOR_DONE:
        done = true;
        break;
    }
  }
  g_value_unset(&item);
  gst_iterator_free(it);
  return found;
}

}  // namespace

// The deadlock's signature on a source pad: gst_pad_stop_task has taken the task away (it does so before it
// waits for the stream lock) and someone still holds the stream lock: the old task's loop, which never returns.
// A healthy stop takes the lock within milliseconds, so a kick a second into the teardown does not see one.
bool StopStuck(GstPad* src) {
  GST_OBJECT_LOCK(src);
  const bool taskGone = GST_PAD_TASK(src) == nullptr;
  GST_OBJECT_UNLOCK(src);
  if (!taskGone) return false;
  GRecMutex* streamLock = GST_PAD_GET_STREAM_LOCK(src);
  if (!g_rec_mutex_trylock(streamLock)) return true;
  g_rec_mutex_unlock(streamLock);
  return false;
}

KickResult KickJitterBuffers(GstElement* graph) {
  KickResult r;
  for (GstElement* jb : CollectJitterBuffers(graph)) {
    GstPad* sink = gst_element_get_static_pad(jb, "sink");
    GstPad* src = gst_element_get_static_pad(jb, "src");
    if (sink && src) {
      // A sink pad already flushing (deactivated) drops the event: that jitterbuffer is past its source pad's stop,
      // so it is not the stuck one. The event's own result says nothing here: the flush-start goes on downstream
      // to pads that are flushing already.
      GST_OBJECT_LOCK(sink);
      const bool flushing = GST_PAD_IS_FLUSHING(sink);
      GST_OBJECT_UNLOCK(sink);
      if (!flushing) {
        if (StopStuck(src)) ++r.stuck;
        gst_pad_send_event(sink, gst_event_new_flush_start());
        ++r.flushed;
      }
    }
    if (sink) gst_object_unref(sink);
    if (src) gst_object_unref(src);
    gst_object_unref(jb);
  }
  return r;
}

}  // namespace vigil
