// Shared helpers for the libFuzzer targets (scripts/fuzz.sh builds them; they are not part of the addon).
// Each target mirrors the argument checks of the N-API wrapper in front of the code it fuzzes, so a finding is a
// defect of the native code for an input the JS layer can really pass, not a violation of a documented precondition.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

// A failed property: report and abort, so libFuzzer records the input as a crash.
#define FUZZ_CHECK(cond, ...)                                                  \
  do {                                                                         \
    if (!(cond)) {                                                             \
      std::fprintf(stderr, "property failed: %s (%s:%d): ", #cond, __FILE__, __LINE__); \
      std::fprintf(stderr, __VA_ARGS__);                                       \
      std::fprintf(stderr, "\n");                                              \
      std::abort();                                                            \
    }                                                                          \
  } while (0)

// Any 32-bit pattern as a float: NaN, infinities, denormals and huge values included (hostile model outputs).
inline float AnyFloat(FuzzedDataProvider& p) {
  uint32_t bits = p.ConsumeIntegral<uint32_t>();
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Mostly ordinary values, sometimes hostile ones: keeps the decoders' thresholds reachable.
inline float ModelFloat(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 7)) {
    case 0: return AnyFloat(p);
    case 1: return p.PickValueInArray({NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e30f, -1e30f, 3.4e38f});
    default: return p.ConsumeFloatingPointInRange<float>(-20.0f, 20.0f);
  }
}

// n floats, drawn from the input while it lasts, then a cheap deterministic pattern (sizes stay independent of
// how many bytes are left, so short inputs still reach big shapes).
inline std::vector<float> Floats(FuzzedDataProvider& p, size_t n, bool unit) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    if (p.remaining_bytes() > 0) v[i] = unit && p.ConsumeBool() ? p.ConsumeProbability<float>() : ModelFloat(p);
    else v[i] = static_cast<float>((i * 2654435761u) % 1000) / 1000.0f;
  }
  return v;
}
