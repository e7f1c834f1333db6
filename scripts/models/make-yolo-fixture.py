#!/usr/bin/env python3
"""Writes two tiny YOLO-shaped ONNX models for tests of the detector's YOLO path (no real YOLO ships in a package).

Both take input [N,3,32,32] float and return fixed detections plus a part that depends on the frame's mean value m:
  yolov8.onnx  output0 [N, 84, 3]  (cx, cy, w, h, 80 class scores per anchor column)
  yolov5.onnx  output0 [N, 3, 85]  (cx, cy, w, h, objectness, 80 class probabilities per anchor row)
Anchor 0: box centre (16,16) size 8x8, class 0 (score 0.9 / objectness 1 x 0.9).
Anchor 1: box centre (4,4) size 4x4, class 2: v8 score 0.2 + 0.6 m; v5 objectness 0.5 x (0.4 + 0.6 m).
Anchor 2: all scores 0.
Usage: make-yolo-fixture.py OUTDIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build(kind):
    if kind == 'v8':
        c = np.zeros((1, 84, 3), np.float32)
        c[0, 0:4, 0] = [16, 16, 8, 8]
        c[0, 4 + 0, 0] = 0.9
        c[0, 0:4, 1] = [4, 4, 4, 4]
        c[0, 4 + 2, 1] = 0.2
        d = np.zeros_like(c)
        d[0, 4 + 2, 1] = 0.6
        shape = ['N', 84, 3]
    else:
        c = np.zeros((1, 3, 85), np.float32)
        c[0, 0, 0:5] = [16, 16, 8, 8, 1.0]
        c[0, 0, 5 + 0] = 0.9
        c[0, 1, 0:5] = [4, 4, 4, 4, 0.5]
        c[0, 1, 5 + 2] = 0.4
        d = np.zeros_like(c)
        d[0, 1, 5 + 2] = 0.6
        shape = ['N', 3, 85]
    inits = [numpy_helper.from_array(c, 'C'), numpy_helper.from_array(d, 'D')]
    nodes = [
        helper.make_node('ReduceMean', ['images'], ['m4'], axes=[1, 2, 3], keepdims=1),  # [N,1,1,1]
        helper.make_node('Squeeze', ['m4', 'ax3'], ['m']),  # [N,1,1]
        helper.make_node('Mul', ['m', 'D'], ['md']),  # [N,84,3]
        helper.make_node('Add', ['md', 'C'], ['output0']),
    ]
    inits.append(numpy_helper.from_array(np.array([3], np.int64), 'ax3'))
    graph = helper.make_graph(nodes, f'yolo{kind}-fixture',
                              [helper.make_tensor_value_info('images', TensorProto.FLOAT, ['N', 3, 32, 32])],
                              [helper.make_tensor_value_info('output0', TensorProto.FLOAT, shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)], producer_name='vigil-fixture')
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for kind in ('v8', 'v5'):
        onnx.save(build(kind), os.path.join(out, f'yolo{kind}.onnx'))


if __name__ == '__main__':
    main()
