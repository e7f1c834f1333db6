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

int KickJitterBuffers(GstElement* graph) {
  int kicked = 0;
  for (GstElement* jb : CollectJitterBuffers(graph)) {
    if (GstPad* sink = gst_element_get_static_pad(jb, "sink")) {
      // A sink pad already flushing (deactivated) drops the event: that jitterbuffer is past its source pad's stop,
      // so it is not the stuck one. The event's own result says nothing here: the flush-start goes on downstream
      // to pads that are flushing already.
      GST_OBJECT_LOCK(sink);
      const bool flushing = GST_PAD_IS_FLUSHING(sink);
      GST_OBJECT_UNLOCK(sink);
      if (!flushing) {
        gst_pad_send_event(sink, gst_event_new_flush_start());
        ++kicked;
      }
      gst_object_unref(sink);
    }
    gst_object_unref(jb);
  }
  return kicked;
}

}  // namespace vigil
