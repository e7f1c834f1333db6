#!/usr/bin/env python3
"""Static INT8 quantization of a float ONNX detector into QDQ form, on Debian's python3-onnx and python3-numpy only.

Input: a float model already simplified by onnxruntime at optimisation level 'basic' (scripts/models/ort-optimize.ts
folds the TF.js export's Transpose / Identity / Pad / Add clutter into Conv + bias). Three steps:

  prepare  IN OUT                 folds a -inf constant Pad into the MaxPool after it and turns Resize's computed
                                  `sizes` (Shape/Slice/Concat) into constant `scales`, so that no float side-graph
                                  stays between quantized ops
  probe    PREPARED OUT           the prepared graph with every activation that `quantize` needs exposed as a graph
                                  output (scripts/models/calibrate-nanodet.ts runs it on calibration frames)
  quantize PREPARED CALIB OUT     the QDQ model:
      - activations: uint8 asymmetric per tensor, range from the calibration table (a percentile of each tail;
        int8 activations measured slower here: ORT keeps many Convs float with them);
      - Conv weights: int8 symmetric per output channel in 7 bits (zero point 0, +-63): x86 CPUs without VNNI
        multiply uint8 activations by int8 weights with vpmaddubsw, which adds pairs of products into int16 and
        saturates past 32767 (2 x 255 x 127 does; 2 x 255 x 63 does not). Full +-127 weights lost 11 % of the
        float model's boxes on such a CPU (AMD EPYC Zen 1, AVX2 only) while agreeing on VNNI ones;
      - Conv bias: int32 through DequantizeLinear with scale = input scale x weight scale (a float bias stops ORT
        fusing DQ -> Conv -> Q into QLinearConv);
      - Q/DQ after the outputs of Conv, LeakyRelu, Concat, Add, MaxPool and Resize (ORT has QLinear / QDQ-drop
        fusions for each); MaxPool and Resize outputs reuse their input's parameters, which ORT's drop-QDQ rule
        requires. Split / Sigmoid / Reshape / Transpose of the heads stay float.
Output is a pure function of the prepared model and the table (numpy float32 arithmetic), so set-up can check
its sha256.
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ACT_OPS = ('Conv', 'LeakyRelu', 'Concat', 'Add', 'MaxPool', 'Resize')
INHERIT_OPS = ('MaxPool', 'Resize')  # output keeps the input's scale / zero point
WEIGHT_MAX = 63  # 7-bit weights: no int16 saturation in AVX2's u8 x s8 kernels (see the docstring)


def fail(msg, code=1):
    sys.stderr.write(f'qdq: {msg}\n')
    sys.exit(code)


def inits(model):
    return {i.name: i for i in model.graph.initializer}


def drop_dead(model):
    """Removes nodes whose outputs nobody reads and initializers nobody uses."""
    g = model.graph
    while True:
        used = {o.name for o in g.output}
        for n in g.node:
            used.update(i for i in n.input if i)
        keep = [n for n in g.node if any(o in used for o in n.output)]
        if len(keep) == len(g.node):
            break
        del g.node[:]
        g.node.extend(keep)
    used = {o.name for o in g.output}
    for n in g.node:
        used.update(i for i in n.input if i)
    keep_init = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep_init)


def static_shapes(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        shapes[vi.name] = [d.dim_value if d.HasField('dim_value') else None for d in dims]
    return shapes


def prepare(src, dst):
    model = onnx.load(src)
    g = model.graph
    init = inits(model)
    producers = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    # Pad(-inf) -> MaxPool == MaxPool with pads (MaxPool pads behave as -inf).
    for pad in [n for n in g.node if n.op_type == 'Pad']:
        users = consumers.get(pad.output[0], [])
        if len(users) != 1 or users[0].op_type != 'MaxPool' or len(pad.input) < 3 or pad.input[2] not in init:
            continue
        value = numpy_helper.to_array(init[pad.input[2]])
        pads = numpy_helper.to_array(init[pad.input[1]]).astype(np.int64)
        rank = len(pads) // 2
        if not np.isneginf(value) or rank != 4 or pads[0] or pads[1] or pads[4] or pads[5]:
            continue
        pool = users[0]
        attrs = {a.name: helper.get_attribute_value(a) for a in pool.attribute}
        old = attrs.get('pads', [0, 0, 0, 0])
        if attrs.get('auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
            continue
        new = [int(old[0] + pads[2]), int(old[1] + pads[3]), int(old[2] + pads[6]), int(old[3] + pads[7])]
        keep = [a for a in pool.attribute if a.name != 'pads']
        del pool.attribute[:]
        pool.attribute.extend(keep + [helper.make_attribute('pads', new)])
        pool.input[0] = pad.input[0]
    # Resize(x, sizes = Concat(Shape(x)[0:2], [H, W])) -> Resize(x, scales = [1, 1, H/h, W/w]).
    shapes = static_shapes(model)
    for rs in [n for n in g.node if n.op_type == 'Resize']:
        if len(rs.input) < 4 or not rs.input[3]:
            continue
        cat = producers.get(rs.input[3])
        xs = shapes.get(rs.input[0])
        if cat is None or cat.op_type != 'Concat' or cat.input[1] not in init or not xs or None in xs[2:]:
            fail(f'Resize {rs.name}: sizes are not Concat(shape, const) over a static spatial input')
        hw = numpy_helper.to_array(init[cat.input[1]]).astype(np.int64)
        scales = np.array([1, 1, hw[0] / xs[2], hw[1] / xs[3]], np.float32)
        if not np.all(np.floor(np.array(xs[2:]) * scales[2:]) == hw):
            fail(f'Resize {rs.name}: sizes {hw} are not a whole scale of {xs[2:]}')
        name = rs.name + '/scales'
        g.initializer.append(numpy_helper.from_array(scales, name))
        x = rs.input[0]
        del rs.input[:]
        rs.input.extend([x, '', name])
    drop_dead(model)
    onnx.checker.check_model(model)
    save(model, dst)


def save(model, dst):
    tmp = dst + '.tmp'
    onnx.save(model, tmp)
    os.replace(tmp, dst)
    print(f'wrote {dst} ({os.path.getsize(dst)} bytes, {len(model.graph.node)} nodes)')


def activations(model):
    """The float activations that get Q/DQ, in topological order: the graph input and the outputs of ACT_OPS."""
    init = inits(model)
    names = [i.name for i in model.graph.input if i.name not in init]
    for n in model.graph.node:
        if n.op_type in ACT_OPS:
            names.append(n.output[0])
    return names


def probe(src, dst):
    model = onnx.load(src)
    have = {o.name for o in model.graph.output}
    inputs = {i.name for i in model.graph.input}
    for name in activations(model):
        if name not in have and name not in inputs:
            model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    save(model, dst)


def act_range(stat, method):
    """[lo, hi] of one activation: 'max' (all frames), 'meanmax' (mean of per-frame extremes) or a percentile."""
    if method == 'max':
        return float(stat['min']), float(stat['max'])
    if method == 'meanmax':
        return float(stat['meanMin']), float(stat['meanMax'])
    lo_key = f'{100 - float(method):g}'
    if method not in stat['pct'] or lo_key not in stat['pct']:
        fail(f'the calibration table has no percentile {method} / {lo_key}')
    return float(stat['pct'][lo_key]), float(stat['pct'][method])


def act_params(stat, method):
    """uint8 asymmetric scale / zero point covering the calibrated range and 0."""
    lo, hi = act_range(stat, method)
    lo, hi = min(0.0, lo), max(0.0, hi)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = np.float32((hi - lo) / 255.0)
    zp = int(np.clip(np.round(-lo / float(scale)), 0, 255))
    return scale, np.uint8(zp)


def quantize(src, calib_path, dst, percentile, float_heads):
    model = onnx.load(src)
    g = model.graph
    init = inits(model)
    keep_float = set()
    if float_heads:  # the Convs whose output the heads split into scores and box logits
        split_in = {n.input[0] for n in g.node if n.op_type == 'Split'}
        keep_float = {n.name for n in g.node if n.op_type == 'Conv' and n.output[0] in split_in}
    calib = json.load(open(calib_path))
    table = calib['tensors']
    producers = {o: n for n in g.node for o in n.output}
    params = {}
    for name in activations(model):
        node = producers.get(name)
        if node is not None and node.name in keep_float:
            continue
        if node is not None and node.op_type in INHERIT_OPS and node.input[0] in params:
            params[name] = params[node.input[0]]
            continue
        if name not in table:
            fail(f'calibration table {calib_path} has no range for {name}: regenerate it with '
                 'scripts/models/calibrate-nanodet.ts (the optimised graph changed)', 3)
        params[name] = act_params(table[name], percentile)

    new_nodes, new_inits = [], []
    qname = {}
    for name, (scale, zp) in params.items():
        s, z = name + '/q_scale', name + '/q_zp'
        new_inits += [numpy_helper.from_array(np.array(scale, np.float32), s),
                      numpy_helper.from_array(np.array(zp, np.uint8), z)]
        q, dq = name + '/q', name + '/dq'
        new_nodes.append((name, [helper.make_node('QuantizeLinear', [name, s, z], [q], name=name + '/Q'),
                                 helper.make_node('DequantizeLinear', [q, s, z], [dq], name=name + '/DQ')]))
        qname[name] = dq

    out_nodes = []
    after = {n: qd for n, qd in new_nodes}
    for name in [i.name for i in g.input if i.name in after]:
        out_nodes += after[name]
    convs = 0
    for n in g.node:
        for k, i in enumerate(n.input):
            if i in qname:
                n.input[k] = qname[i]
        if n.op_type == 'Conv' and n.name not in keep_float:
            src_act = [k for k, v in qname.items() if v == n.input[0]]
            if not src_act:
                fail(f'Conv {n.name}: its input is not quantized')
            s_in = params[src_act[0]][0]
            w = numpy_helper.to_array(init[n.input[1]]).astype(np.float32)
            amax = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
            s_w = np.where(amax > 0, amax / np.float32(WEIGHT_MAX), np.float32(1)).astype(np.float32)
            wq = np.clip(np.round(w / s_w.reshape(-1, 1, 1, 1)), -WEIGHT_MAX, WEIGHT_MAX).astype(np.int8)
            wn = n.input[1]
            new_inits += [numpy_helper.from_array(wq, wn + '/int8'),
                          numpy_helper.from_array(s_w, wn + '/w_scale'),
                          numpy_helper.from_array(np.zeros(len(s_w), np.int8), wn + '/w_zp')]
            out_nodes.append(helper.make_node('DequantizeLinear', [wn + '/int8', wn + '/w_scale', wn + '/w_zp'],
                                              [wn + '/dq'], name=wn + '/DQ', axis=0))
            n.input[1] = wn + '/dq'
            if len(n.input) > 2 and n.input[2]:
                bn = n.input[2]
                b = numpy_helper.to_array(init[bn]).astype(np.float32)
                s_b = (np.float32(s_in) * s_w).astype(np.float32)
                bq = np.clip(np.round(b / s_b), -2**31, 2**31 - 1).astype(np.int32)
                new_inits += [numpy_helper.from_array(bq, bn + '/int32'),
                              numpy_helper.from_array(s_b, bn + '/b_scale'),
                              numpy_helper.from_array(np.zeros(len(s_b), np.int32), bn + '/b_zp')]
                out_nodes.append(helper.make_node('DequantizeLinear', [bn + '/int32', bn + '/b_scale', bn + '/b_zp'],
                                                  [bn + '/dq'], name=bn + '/DQ', axis=0))
                n.input[2] = bn + '/dq'
            convs += 1
        out_nodes.append(n)
        for o in n.output:
            if o in after:
                out_nodes += after[o]
    del g.node[:]
    g.node.extend(out_nodes)
    g.initializer.extend(new_inits)
    drop_dead(model)
    model.producer_name = 'vigil-qdq'
    onnx.checker.check_model(model)
    save(model, dst)
    print(f'quantized {convs} Conv, {len(params)} activations (range {percentile}'
          f'{", float heads" if float_heads else ""})')


def main():
    p = argparse.ArgumentParser(description='float ONNX -> QDQ INT8')
    sub = p.add_subparsers(dest='cmd', required=True)
    a = sub.add_parser('prepare')
    a.add_argument('src')
    a.add_argument('dst')
    b = sub.add_parser('probe')
    b.add_argument('src')
    b.add_argument('dst')
    c = sub.add_parser('quantize')
    c.add_argument('src')
    c.add_argument('calib')
    c.add_argument('dst')
    c.add_argument('--range', dest='percentile', default='max',
                   help="activation range: 'max', 'meanmax' or a percentile of the table (99.99: both tails)")
    c.add_argument('--float-heads', action='store_true', help='keep the Convs before the heads\' Split float')
    args = p.parse_args()
    if args.cmd == 'prepare':
        prepare(args.src, args.dst)
    elif args.cmd == 'probe':
        probe(args.src, args.dst)
    else:
        quantize(args.src, args.calib, args.dst, args.percentile, args.float_heads)


if __name__ == '__main__':
    main()
