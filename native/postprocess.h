// Model output decoding and NMS (issue 3). The pure C++ part (decoders, class-wise NMS, letterbox undo) has no
// N-API types so the native frame worker can call it; InitPostprocess adds the JS-callable wrappers.
//
// Boxes are x1, y1, x2, y2 in model-input pixels until MapToSource turns them into source-frame pixels.
#pragma once

#include <napi.h>

#include <cstdint>
#include <vector>

namespace vigil {

struct Candidate {
  float x1, y1, x2, y2;
  float score;
  int32_t classId;
};

// Which candidates survive decoding. A class passes when it is allowed (allowed empty = every class) and its score
// is >= its threshold (perClass[c] when present and >= 0, else threshold).
struct ScoreFilter {
  float threshold = 0.35f;
  std::vector<float> perClass;
  std::vector<uint8_t> allowed;  // size numClasses when a class filter is set, else empty

  bool Passes(int32_t cls, float score) const {
    if (!allowed.empty() && (cls < 0 || static_cast<size_t>(cls) >= allowed.size() || !allowed[cls])) return false;
    float t = threshold;
    if (cls >= 0 && static_cast<size_t>(cls) < perClass.size() && perClass[cls] >= 0.0f) t = perClass[cls];
    return score >= t;
  }
};

// One NanoDet output level: scores [n, numClasses] (already sigmoid) and box distributions [n, 4 * bins]
// (left, top, right, bottom; bins logits each), for a grid of ceil(inputW / stride) x ceil(inputH / stride) cells.
struct NanodetLevel {
  const float* scores;
  const float* boxes;
  int cells;
  int stride;
};

// NanoDet (GFL head): per cell and class with a passing score, the distance to each side is the softmax
// expectation over the bins times the stride, measured from the cell centre ((col + 0.5) * stride,
// (row + 0.5) * stride); boxes are clamped to the input. Throws std::invalid_argument on inconsistent shapes.
std::vector<Candidate> DecodeNanodet(const std::vector<NanodetLevel>& levels, int numClasses, int bins,
                                     int inputW, int inputH, const ScoreFilter& filter);

// CenterNet rows [count, 6]: x1, y1, x2, y2 (input pixels), score, class (float, 0-based).
std::vector<Candidate> DecodeCenternet(const float* rows, int count, int numClasses, const ScoreFilter& filter);

// YOLO, boxes cx, cy, w, h in input pixels. v8: data [4 + numClasses, n] (attribute-major, class scores);
// v5: data [n, 5 + numClasses] (row-major, objectness then class probabilities; score = objectness * class).
// Every passing class of a box becomes a candidate.
enum class YoloLayout { V8, V5 };
std::vector<Candidate> DecodeYolo(const float* data, int n, int numClasses, YoloLayout layout,
                                  const ScoreFilter& filter);

// Greedy NMS per class: candidates sorted by score (stable, so equal scores keep decode order); a candidate is
// dropped when its IoU with a kept one of the same class is > iouThreshold. classAgnostic compares across classes.
// At most maxDetections are returned (0 = no limit), highest score first.
std::vector<Candidate> Nms(std::vector<Candidate> candidates, float iouThreshold, int maxDetections,
                           bool classAgnostic = false);

float Iou(const Candidate& a, const Candidate& b);

// Undoes the letterbox: x_src = (x - padX) / scale, clamped to [0, sourceW] (y likewise). Boxes that become
// empty (entirely in the border) are removed.
struct LetterboxMap {
  float scale = 1.0f;
  float padX = 0.0f;
  float padY = 0.0f;
  int sourceW = 0;
  int sourceH = 0;
};
void MapToSource(std::vector<Candidate>& boxes, const LetterboxMap& map);

// Adds decodeNanodet, decodeCenternet, decodeYolo, nms, mapToSource, MotionDetector (motion.h) and encodeJpeg
// (snapshot.h) to the module's exports.
void InitPostprocess(Napi::Env env, Napi::Object exports);

}  // namespace vigil
