#include "analysis_decoder.h"

#include <gst/gst.h>
#include <gst/video/gstvideodecoder.h>
#include <gst/video/video.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
#include <libavutil/mem.h>
#include <libavutil/pixdesc.h>
}

#include <cstring>
#include <string>

GST_DEBUG_CATEGORY_STATIC(vigil_dec_debug);
#define GST_CAT_DEFAULT vigil_dec_debug

namespace {

// H.264's decoded picture buffer holds at most 16 frames: a pending frame older than that was dropped by libavcodec
// (an undecodable picture, P-frames before the first keyframe) and will never come out.
constexpr guint kMaxReorder = 16;

struct VigilDec {
  GstVideoDecoder parent;
  // Properties, set before the element starts.
  gboolean deblock;
  gint maxThreads;
  // libavcodec state, touched only from the streaming thread between start and stop.
  AVCodecContext* ctx;
  AVPacket* packet;
  AVFrame* picture;
  GstVideoCodecState* inputState;
  guint8* padded;  // the packet with AV_INPUT_BUFFER_PADDING_SIZE zeroed bytes after it, as libavcodec requires
  gsize paddedCapacity;
  gint outWidth;
  gint outHeight;
  // Downstream reads frames through GstVideoMeta (the allocation query said so): pictures go out as they are,
  // wrapped, not copied.
  gboolean wrapPictures;
  // Pictures libavcodec holds back for reordering (B-frames), as last reported as latency.
  gint reportedReorder;
};

struct VigilDecClass {
  GstVideoDecoderClass parent_class;
};

enum { PROP_0, PROP_DEBLOCK, PROP_MAX_THREADS };

#define VIGIL_TYPE_DEC (vigil_dec_get_type())
#define VIGIL_DEC(obj) (reinterpret_cast<VigilDec*>(obj))

GType vigil_dec_get_type();
G_DEFINE_TYPE(VigilDec, vigil_dec, GST_TYPE_VIDEO_DECODER)

GstStaticPadTemplate sinkTemplate = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264, stream-format = (string) { avc, avc3, byte-stream }, alignment = (string) au; "
                    "video/x-h265, stream-format = (string) { hvc1, hev1, byte-stream }, alignment = (string) au"));

GstStaticPadTemplate srcTemplate =
    GST_STATIC_PAD_TEMPLATE("src", GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS("video/x-raw, format = (string) I420"));

std::string AvError(int rc) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(rc, text, sizeof text);
  return text;
}

void CloseCodec(VigilDec* self) {
  avcodec_free_context(&self->ctx);
  if (self->inputState) gst_video_codec_state_unref(self->inputState);
  self->inputState = nullptr;
  self->outWidth = 0;
  self->outHeight = 0;
  if (self->reportedReorder) gst_video_decoder_set_latency(GST_VIDEO_DECODER(self), 0, 0);
  self->reportedReorder = 0;
}

// Frames libavcodec dropped never come out; give them back so the base class's list stays bounded.
void ReleaseStale(GstVideoDecoder* dec, guint32 decodedNumber) {
  GList* frames = gst_video_decoder_get_frames(dec);
  for (GList* l = frames; l; l = l->next) {
    auto* f = static_cast<GstVideoCodecFrame*>(l->data);
    if (decodedNumber > kMaxReorder && f->system_frame_number < decodedNumber - kMaxReorder) {
      GST_DEBUG_OBJECT(dec, "frame %u never came out of the decoder: released", f->system_frame_number);
      gst_video_decoder_release_frame(dec, f);  // takes the list's reference
    } else {
      gst_video_codec_frame_unref(f);
    }
  }
  g_list_free(frames);
}

void UnrefAvBuffer(gpointer owner) {
  auto* ref = static_cast<AVBufferRef*>(owner);
  av_buffer_unref(&ref);
}

// The picture's planes as a GstBuffer of three read-only memories, each holding a reference on the libavcodec
// buffer it lies in (libavcodec never writes into a referenced buffer: it takes another from its pool), described
// by a GstVideoMeta. Null when a plane is not inside one of the picture's buffers.
GstBuffer* WrapPicture(const AVFrame* pic) {
  GstBuffer* buffer = gst_buffer_new();
  gsize offsets[GST_VIDEO_MAX_PLANES] = {0};
  gint strides[GST_VIDEO_MAX_PLANES] = {0};
  gsize total = 0;
  for (int p = 0; p < 3; ++p) {
    const int rows = p == 0 ? pic->height : (pic->height + 1) / 2;
    if (pic->linesize[p] <= 0 || !pic->data[p]) {
      gst_buffer_unref(buffer);
      return nullptr;
    }
    const gsize size = static_cast<gsize>(pic->linesize[p]) * rows;
    AVBufferRef* owner = nullptr;
    for (AVBufferRef* b : pic->buf) {
      if (b && pic->data[p] >= b->data && pic->data[p] + size <= b->data + b->size) {
        owner = av_buffer_ref(b);
        break;
      }
    }
    if (!owner) {
      gst_buffer_unref(buffer);
      return nullptr;
    }
    gst_buffer_append_memory(buffer, gst_memory_new_wrapped(GST_MEMORY_FLAG_READONLY, pic->data[p], size, 0, size, owner, UnrefAvBuffer));
    offsets[p] = total;
    strides[p] = pic->linesize[p];
    total += size;
  }
  gst_buffer_add_video_meta_full(buffer, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_FORMAT_I420, pic->width, pic->height, 3, offsets, strides);
  return buffer;
}

GstFlowReturn PushPicture(VigilDec* self) {
  auto* dec = GST_VIDEO_DECODER(self);
  AVFrame* pic = self->picture;
  GstVideoCodecFrame* out = gst_video_decoder_get_frame(dec, static_cast<int>(pic->pts));
  if (!out) {
    GST_WARNING_OBJECT(self, "decoded picture %" G_GINT64_FORMAT " has no pending frame: dropped", pic->pts);
    return GST_FLOW_OK;
  }
  ReleaseStale(dec, out->system_frame_number);
  if (pic->format != AV_PIX_FMT_YUV420P && pic->format != AV_PIX_FMT_YUVJ420P) {
    const char* name = av_get_pix_fmt_name(static_cast<AVPixelFormat>(pic->format));
    GST_ELEMENT_ERROR(self, STREAM, FORMAT, ("vigildec decodes 8-bit 4:2:0 streams only; this stream is %s", name ? name : "unknown"),
                      ("decode it with the standard decoder (decodeDeblock: true)"));
    gst_video_decoder_release_frame(dec, out);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (pic->width != self->outWidth || pic->height != self->outHeight) {
    GstVideoCodecState* state =
        gst_video_decoder_set_output_state(dec, GST_VIDEO_FORMAT_I420, pic->width, pic->height, self->inputState);
    gst_video_codec_state_unref(state);
    if (!gst_video_decoder_negotiate(dec)) {
      gst_video_decoder_release_frame(dec, out);
      return GST_FLOW_NOT_NEGOTIATED;
    }
    self->outWidth = pic->width;
    self->outHeight = pic->height;
  }
  if (self->wrapPictures) {
    if (GstBuffer* wrapped = WrapPicture(pic)) {
      out->output_buffer = wrapped;
      return gst_video_decoder_finish_frame(dec, out);
    }
  }
  GstFlowReturn ret = gst_video_decoder_allocate_output_frame(dec, out);
  if (ret != GST_FLOW_OK) {
    gst_video_decoder_release_frame(dec, out);
    return ret;
  }
  GstVideoCodecState* state = gst_video_decoder_get_output_state(dec);
  GstVideoFrame vf;
  const gboolean mapped = gst_video_frame_map(&vf, &state->info, out->output_buffer, GST_MAP_WRITE);
  gst_video_codec_state_unref(state);
  if (!mapped) {
    gst_video_decoder_release_frame(dec, out);
    GST_ELEMENT_ERROR(self, RESOURCE, WRITE, ("vigildec could not map an output buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  for (int p = 0; p < 3; ++p) {
    const int rows = p == 0 ? pic->height : (pic->height + 1) / 2;
    const int cols = p == 0 ? pic->width : (pic->width + 1) / 2;
    auto* dst = static_cast<guint8*>(GST_VIDEO_FRAME_PLANE_DATA(&vf, p));
    const int dstStride = GST_VIDEO_FRAME_PLANE_STRIDE(&vf, p);
    const guint8* src = pic->data[p];
    for (int r = 0; r < rows; ++r) std::memcpy(dst + static_cast<gsize>(r) * dstStride, src + static_cast<gsize>(r) * pic->linesize[p], cols);
  }
  gst_video_frame_unmap(&vf);
  return gst_video_decoder_finish_frame(dec, out);
}

// A stream with B-frames comes out has_b_frames pictures late: downstream (a sink synced to the clock) must know.
void ReportLatency(VigilDec* self) {
  const gint reorder = self->ctx->has_b_frames;
  if (reorder == self->reportedReorder || !self->inputState) return;
  const GstVideoInfo& info = self->inputState->info;
  if (GST_VIDEO_INFO_FPS_N(&info) <= 0 || GST_VIDEO_INFO_FPS_D(&info) <= 0) return;
  const GstClockTime latency = gst_util_uint64_scale(static_cast<guint64>(reorder) * GST_SECOND, GST_VIDEO_INFO_FPS_D(&info),
                                                     GST_VIDEO_INFO_FPS_N(&info));
  gst_video_decoder_set_latency(GST_VIDEO_DECODER(self), latency, latency);
  self->reportedReorder = reorder;
}

GstFlowReturn ReceivePictures(VigilDec* self) {
  ReportLatency(self);
  for (;;) {
    const int rc = avcodec_receive_frame(self->ctx, self->picture);
    if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF) return GST_FLOW_OK;
    GstFlowReturn ret = GST_FLOW_OK;
    if (rc < 0) {
      GST_VIDEO_DECODER_ERROR(self, 1, STREAM, DECODE, ("vigildec could not decode a picture"),
                              ("avcodec_receive_frame: %s", AvError(rc).c_str()), ret);
      return ret;
    }
    ret = PushPicture(self);
    av_frame_unref(self->picture);
    if (ret != GST_FLOW_OK) return ret;
  }
}

GstFlowReturn Drain(VigilDec* self) {
  if (!self->ctx) return GST_FLOW_OK;
  avcodec_send_packet(self->ctx, nullptr);
  const GstFlowReturn ret = ReceivePictures(self);
  avcodec_flush_buffers(self->ctx);  // leaves draining mode: the next packet decodes again
  return ret;
}

gboolean vigil_dec_set_format(GstVideoDecoder* dec, GstVideoCodecState* state) {
  auto* self = VIGIL_DEC(dec);
  Drain(self);
  CloseCodec(self);
  const GstStructure* s = gst_caps_get_structure(state->caps, 0);
  const AVCodecID id = gst_structure_has_name(s, "video/x-h265") ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264;
  const AVCodec* codec = avcodec_find_decoder(id);
  if (!codec) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("libavcodec has no %s decoder", avcodec_get_name(id)), (nullptr));
    return FALSE;
  }
  self->ctx = avcodec_alloc_context3(codec);
  if (!self->ctx) return FALSE;
  if (state->codec_data) {
    GstMapInfo map;
    if (gst_buffer_map(state->codec_data, &map, GST_MAP_READ)) {
      self->ctx->extradata = static_cast<uint8_t*>(av_mallocz(map.size + AV_INPUT_BUFFER_PADDING_SIZE));
      if (self->ctx->extradata) {
        std::memcpy(self->ctx->extradata, map.data, map.size);
        self->ctx->extradata_size = static_cast<int>(map.size);
      }
      gst_buffer_unmap(state->codec_data, &map);
    }
  }
  self->ctx->thread_count = self->maxThreads;
  self->ctx->skip_loop_filter = self->deblock ? AVDISCARD_DEFAULT : AVDISCARD_ALL;
  const int rc = avcodec_open2(self->ctx, codec, nullptr);
  if (rc < 0) {
    GST_ELEMENT_ERROR(self, LIBRARY, INIT, ("libavcodec could not open its %s decoder", codec->name), ("%s", AvError(rc).c_str()));
    avcodec_free_context(&self->ctx);
    return FALSE;
  }
  self->inputState = gst_video_codec_state_ref(state);
  return TRUE;
}

GstFlowReturn vigil_dec_handle_frame(GstVideoDecoder* dec, GstVideoCodecFrame* frame) {
  auto* self = VIGIL_DEC(dec);
  if (!self->ctx) {
    gst_video_decoder_drop_frame(dec, frame);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  GstMapInfo map;
  if (!gst_buffer_map(frame->input_buffer, &map, GST_MAP_READ)) {
    gst_video_decoder_drop_frame(dec, frame);
    GST_ELEMENT_ERROR(self, RESOURCE, READ, ("vigildec could not map an input buffer"), (nullptr));
    return GST_FLOW_ERROR;
  }
  const gsize need = map.size + AV_INPUT_BUFFER_PADDING_SIZE;
  if (need > self->paddedCapacity) {
    g_free(self->padded);
    self->padded = static_cast<guint8*>(g_malloc(need));
    self->paddedCapacity = need;
  }
  std::memcpy(self->padded, map.data, map.size);
  std::memset(self->padded + map.size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  gst_buffer_unmap(frame->input_buffer, &map);

  self->packet->data = self->padded;
  self->packet->size = static_cast<int>(map.size);
  self->packet->pts = frame->system_frame_number;
  self->packet->flags = GST_VIDEO_CODEC_FRAME_IS_SYNC_POINT(frame) ? AV_PKT_FLAG_KEY : 0;
  int rc = avcodec_send_packet(self->ctx, self->packet);
  if (rc == AVERROR(EAGAIN)) {
    // Pictures waiting to be taken; take them, then the packet goes in.
    const GstFlowReturn ret = ReceivePictures(self);
    if (ret != GST_FLOW_OK) {
      gst_video_decoder_release_frame(dec, frame);
      return ret;
    }
    rc = avcodec_send_packet(self->ctx, self->packet);
  }
  self->packet->data = nullptr;
  self->packet->size = 0;
  if (rc < 0) {
    gst_video_decoder_release_frame(dec, frame);
    GstFlowReturn ret = GST_FLOW_OK;
    GST_VIDEO_DECODER_ERROR(self, 1, STREAM, DECODE, ("vigildec could not decode a frame"),
                            ("avcodec_send_packet: %s", AvError(rc).c_str()), ret);
    return ret;
  }
  // The base class keeps the frame in its list until a picture finishes it (or ReleaseStale gives it back).
  gst_video_codec_frame_unref(frame);
  return ReceivePictures(self);
}

gboolean vigil_dec_start(GstVideoDecoder* dec) {
  auto* self = VIGIL_DEC(dec);
  self->packet = av_packet_alloc();
  self->picture = av_frame_alloc();
  return self->packet && self->picture;
}

gboolean vigil_dec_stop(GstVideoDecoder* dec) {
  auto* self = VIGIL_DEC(dec);
  CloseCodec(self);
  av_packet_free(&self->packet);
  av_frame_free(&self->picture);
  g_free(self->padded);
  self->padded = nullptr;
  self->paddedCapacity = 0;
  return TRUE;
}

gboolean vigil_dec_flush(GstVideoDecoder* dec) {
  auto* self = VIGIL_DEC(dec);
  if (self->ctx) avcodec_flush_buffers(self->ctx);
  return TRUE;
}

gboolean vigil_dec_decide_allocation(GstVideoDecoder* dec, GstQuery* query) {
  VIGIL_DEC(dec)->wrapPictures = gst_query_find_allocation_meta(query, GST_VIDEO_META_API_TYPE, nullptr);
  GST_DEBUG_OBJECT(dec, "downstream %s GstVideoMeta", VIGIL_DEC(dec)->wrapPictures ? "reads" : "does not read");
  return GST_VIDEO_DECODER_CLASS(vigil_dec_parent_class)->decide_allocation(dec, query);
}

GstFlowReturn vigil_dec_drain(GstVideoDecoder* dec) { return Drain(VIGIL_DEC(dec)); }
GstFlowReturn vigil_dec_finish(GstVideoDecoder* dec) { return Drain(VIGIL_DEC(dec)); }

void vigil_dec_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = VIGIL_DEC(object);
  switch (id) {
    case PROP_DEBLOCK: self->deblock = g_value_get_boolean(value); break;
    case PROP_MAX_THREADS: self->maxThreads = g_value_get_int(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

void vigil_dec_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = VIGIL_DEC(object);
  switch (id) {
    case PROP_DEBLOCK: g_value_set_boolean(value, self->deblock); break;
    case PROP_MAX_THREADS: g_value_set_int(value, self->maxThreads); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

void vigil_dec_class_init(VigilDecClass* klass) {
  auto* objectClass = G_OBJECT_CLASS(klass);
  auto* elementClass = GST_ELEMENT_CLASS(klass);
  auto* decoderClass = GST_VIDEO_DECODER_CLASS(klass);
  objectClass->set_property = vigil_dec_set_property;
  objectClass->get_property = vigil_dec_get_property;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_property(
      objectClass, PROP_DEBLOCK,
      g_param_spec_boolean("deblock", "Deblock", "Run the in-loop deblocking filter (false: skip it, for analysis only)", TRUE, flags));
  g_object_class_install_property(
      objectClass, PROP_MAX_THREADS,
      g_param_spec_int("max-threads", "Max threads", "libavcodec decoding threads (0 = libavcodec's choice)", 0, 64, 1, flags));
  gst_element_class_add_static_pad_template(elementClass, &sinkTemplate);
  gst_element_class_add_static_pad_template(elementClass, &srcTemplate);
  gst_element_class_set_static_metadata(elementClass, "Vigil analysis decoder", "Codec/Decoder/Video",
                                        "H.264 / H.265 decode on libavcodec, optionally without the deblocking filter",
                                        "Vigil");
  decoderClass->start = vigil_dec_start;
  decoderClass->stop = vigil_dec_stop;
  decoderClass->set_format = vigil_dec_set_format;
  decoderClass->handle_frame = vigil_dec_handle_frame;
  decoderClass->flush = vigil_dec_flush;
  decoderClass->drain = vigil_dec_drain;
  decoderClass->decide_allocation = vigil_dec_decide_allocation;
  decoderClass->finish = vigil_dec_finish;
}

void vigil_dec_init(VigilDec* self) {
  self->deblock = TRUE;
  self->maxThreads = 1;
  gst_video_decoder_set_packetized(GST_VIDEO_DECODER(self), TRUE);
  gst_video_decoder_set_needs_format(GST_VIDEO_DECODER(self), TRUE);
}

gboolean PluginInit(GstPlugin* plugin) {
  GST_DEBUG_CATEGORY_INIT(vigil_dec_debug, "vigildec", 0, "Vigil analysis decoder");
  return gst_element_register(plugin, "vigildec", GST_RANK_NONE, VIGIL_TYPE_DEC);
}

}  // namespace

namespace vigil {

bool RegisterAnalysisDecoder() {
  // The project is Apache-2.0, which GStreamer 1.22's license list (LGPL, GPL, QPL, MPL, BSD, MIT/X11,
  // Proprietary) does not name: "unknown" is the honest choice it accepts.
  static const bool registered =
      gst_plugin_register_static(GST_VERSION_MAJOR, GST_VERSION_MINOR, "vigil", "Vigil's own elements", PluginInit,
                                 "1.0", GST_LICENSE_UNKNOWN, "vigil", "vigil", "vigil");
  return registered;
}

}  // namespace vigil
