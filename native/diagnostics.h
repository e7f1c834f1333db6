// Process upkeep and introspection: glibc heap trimming, GStreamer live-object counts (leaks tracer).
#pragma once

#include <napi.h>

namespace vigil {

void InitDiagnostics(Napi::Env env, Napi::Object exports);

}  // namespace vigil
