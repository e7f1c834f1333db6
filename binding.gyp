{
  "targets": [
    {
      "target_name": "vigil",
      "sources": [
        "native/addon.cc",
        "native/analysis_decoder.cc",
        "native/common.cc",
        "native/diagnostics.cc",
        "native/frame_sink.cc",
        "native/jpeg_decode.cc",
        "native/motion.cc",
        "native/pipeline.cc",
        "native/postprocess.cc",
        "native/preprocess.cc",
        "native/snapshot.cc",
        "native/source_frame.cc",
        "native/teardown_kick.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O3", "-Wno-missing-field-initializers", "<!@(pkg-config --cflags gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 libjpeg libavcodec libavutil)"],
      "libraries": ["<!@(pkg-config --libs gstreamer-1.0 gstreamer-app-1.0 gstreamer-video-1.0 libjpeg libavcodec libavutil)"]
    }
  ]
}
