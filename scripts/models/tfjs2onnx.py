#!/usr/bin/env python3
"""Converts a TF.js graph model (model.json + weight shards) into an ONNX model.

Written for Vigil's set-up (scripts/setup.d/30-models.sh); runs on Debian's python3-onnx and python3-numpy only.
It translates the TensorFlow ops that the shipped detector graphs use, one TF node at a time, keeping TF's NHWC
layout between ops: NHWC convolutions and pools are wrapped in transposes (onnxruntime's transpose optimizer
cancels the pairs when the session is created). Nodes whose inputs are all constants are folded with numpy.

Options:
  --input NAME            rename the graph input (default: keep the TF name without ':0')
  --dynamic-batch         declare the input's first dimension symbolic ("N") and keep reshapes batch-agnostic
  --dynamic-spatial       declare the input's height/width symbolic too (NHWC inputs only)
  --input-size HxW        build the graph for another fixed spatial input size (NCHW or NHWC input): the input is
                          declared HxW and every ResizeBilinear's constant output size is scaled by the same ratio
                          (it must come out whole); reshapes of the exported heads use -1 and need no change
  --output TF=ONNX        an output to keep, renamed (repeatable; default: the signature's outputs)
  --cut TFNODE            make TFNODE the only output (drops the rest of the graph)
  --append gap-l2         after the cut: global average pool over H,W (NHWC) and L2-normalise -> [N, C]
Usage: tfjs2onnx.py model.json out.onnx [options]
"""
import argparse
import base64
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
TF_DTYPES = {
    'DT_FLOAT': TensorProto.FLOAT, 'DT_INT32': TensorProto.INT32, 'DT_INT64': TensorProto.INT64,
    'DT_BOOL': TensorProto.BOOL,
}
NP_TO_ONNX = {np.dtype('float32'): TensorProto.FLOAT, np.dtype('int32'): TensorProto.INT32,
              np.dtype('int64'): TensorProto.INT64, np.dtype('bool'): TensorProto.BOOL}


def fail(msg):
    sys.stderr.write(f'tfjs2onnx: {msg}\n')
    sys.exit(1)


def load_weights(model_path, manifest):
    """Reads every weight of the manifest into numpy arrays (float16-quantized weights become float32)."""
    base = os.path.dirname(model_path)
    weights = {}
    for group in manifest:
        buf = b''.join(open(os.path.join(base, p), 'rb').read() for p in group['paths'])
        off = 0
        for w in group['weights']:
            shape = [int(d) for d in w['shape']]
            count = int(np.prod(shape)) if shape else 1
            q = w.get('quantization')
            if q:
                qd = q['dtype']
                if qd == 'float16':
                    arr = np.frombuffer(buf, dtype='<f2', count=count, offset=off).astype(np.float32)
                    off += 2 * count
                elif qd in ('uint8', 'uint16'):
                    npd = np.uint8 if qd == 'uint8' else np.uint16
                    raw = np.frombuffer(buf, dtype=npd, count=count, offset=off)
                    off += raw.itemsize * count
                    arr = (raw.astype(np.float32) * np.float32(q['scale']) + np.float32(q['min']))
                else:
                    fail(f'unsupported quantization {qd} for {w["name"]}')
                if w['dtype'] == 'int32':
                    arr = np.round(arr).astype(np.int32)
            else:
                dt = {'float32': '<f4', 'int32': '<i4', 'bool': '?'}.get(w['dtype'])
                if dt is None:
                    fail(f'unsupported weight dtype {w["dtype"]} for {w["name"]}')
                arr = np.frombuffer(buf, dtype=dt, count=count, offset=off)
                off += arr.itemsize * count
                arr = arr.astype({'float32': np.float32, 'int32': np.int32, 'bool': np.bool_}[w['dtype']])
            weights[w['name']] = arr.reshape(shape).copy()
    return weights


def attr_ints(node, key):
    return [int(i) for i in node.get('attr', {}).get(key, {}).get('list', {}).get('i', [])]


def attr_str(node, key, default=''):
    s = node.get('attr', {}).get(key, {}).get('s')
    return base64.b64decode(s).decode() if s is not None else default


def attr_strs(node, key):
    return [base64.b64decode(s).decode() for s in node.get('attr', {}).get(key, {}).get('list', {}).get('s', [])]


def attr_bool(node, key, default=False):
    return bool(node.get('attr', {}).get(key, {}).get('b', default))


def attr_int(node, key, default=0):
    return int(node.get('attr', {}).get(key, {}).get('i', default))


def attr_float(node, key, default=0.0):
    return float(node.get('attr', {}).get(key, {}).get('f', default))


def tensor_name(ref):
    """TF input reference 'node', 'node:1' or '^ctrl' -> canonical 'node:idx' (None for control inputs)."""
    if ref.startswith('^'):
        return None
    if ':' in ref:
        name, idx = ref.rsplit(':', 1)
        if idx.isdigit():
            return f'{name}:{idx}'
    return f'{ref}:0'


class Converter:
    def __init__(self, model_path, args):
        self.args = args
        spec = json.load(open(model_path))
        self.signature = spec.get('signature', {})
        self.nodes = spec['modelTopology']['node']
        self.by_name = {n['name']: n for n in self.nodes}
        self.consts = {}  # canonical tensor name -> numpy array
        weights = load_weights(model_path, spec['weightsManifest'])
        for n in self.nodes:
            if n['op'] == 'Const':
                if n['name'] not in weights:
                    fail(f'constant {n["name"]} has no weight in the manifest')
                self.consts[f'{n["name"]}:0'] = weights[n['name']]
        self.onnx_nodes = []
        self.initializers = {}
        self.counter = 0
        self.dynamic_batch = args.dynamic_batch

    # ---- helpers -------------------------------------------------------------------------------------------------
    def fresh(self, base):
        self.counter += 1
        return f'{base}__{self.counter}'

    def const_input(self, arr, base='const'):
        name = self.fresh(base)
        self.initializers[name] = numpy_helper.from_array(np.asarray(arr), name)
        return name

    def ref(self, canonical):
        """ONNX value name for a TF tensor, materialising constants as initializers on first use."""
        if canonical in self.consts and canonical not in self.initializers:
            self.initializers[canonical] = numpy_helper.from_array(np.asarray(self.consts[canonical]), canonical)
        return canonical

    def emit(self, op, inputs, outputs, **attrs):
        self.onnx_nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(op), **attrs))

    def const_of(self, node, i):
        c = tensor_name(node['input'][i])
        if c not in self.consts:
            fail(f'{node["name"]} ({node["op"]}): input {i} must be constant')
        return self.consts[c]

    # ---- constant folding ----------------------------------------------------------------------------------------
    def try_fold(self, node, ins):
        if not ins or not all(i in self.consts for i in ins):
            return False
        v = [self.consts[i] for i in ins]
        op = node['op']
        out = None
        if op in ('Add', 'AddV2'):
            out = v[0] + v[1]
        elif op == 'Sub':
            out = v[0] - v[1]
        elif op == 'Mul':
            out = v[0] * v[1]
        elif op == 'Identity':
            out = v[0]
        elif op == 'Cast':
            dst = node['attr']['DstT']['type']
            out = v[0].astype({'DT_FLOAT': np.float32, 'DT_INT32': np.int32, 'DT_INT64': np.int64}[dst])
        elif op == 'SparseToDense':
            idx, shape, vals, default = v
            dims = [int(s) for s in np.atleast_1d(shape)]
            out = np.full(dims, default, dtype=vals.dtype)
            idx = np.asarray(idx).reshape(-1, len(dims)) if np.asarray(idx).size else np.zeros((0, len(dims)), np.int64)
            vals_b = np.broadcast_to(vals, (idx.shape[0],))
            for k in range(idx.shape[0]):
                out[tuple(int(x) for x in idx[k])] = vals_b[k]
        elif op == 'Reshape':
            out = v[0].reshape([int(s) for s in v[1]])
        elif op == 'ConcatV2':
            out = np.concatenate(v[:-1], axis=int(v[-1]))
        elif op == 'ExpandDims':
            out = np.expand_dims(v[0], int(v[1]))
        if out is None:
            return False
        self.consts[f'{node["name"]}:0'] = np.asarray(out)
        return True

    # ---- per-op translation --------------------------------------------------------------------------------------
    def nhwc_wrap(self, x, build):
        """Transposes NHWC -> NCHW, lets build() add the op, transposes back; returns the NHWC output name."""
        nchw = self.fresh('nchw')
        self.emit('Transpose', [x], [nchw], perm=[0, 3, 1, 2])
        y = build(nchw)
        out = self.fresh('nhwc')
        self.emit('Transpose', [y], [out], perm=[0, 2, 3, 1])
        return out

    def conv(self, node, ins, depthwise):
        if attr_str(node, 'data_format', 'NHWC') != 'NHWC':
            fail(f'{node["name"]}: only NHWC convolutions are supported')
        w = self.const_of(node, 1)
        strides = attr_ints(node, 'strides') or [1, 1, 1, 1]
        dil = attr_ints(node, 'dilations') or [1, 1, 1, 1]
        padding = attr_str(node, 'padding', 'VALID')
        kh, kw = int(w.shape[0]), int(w.shape[1])
        if depthwise:  # [H, W, Cin, mult] -> [Cin*mult, 1, H, W]
            cin, mult = int(w.shape[2]), int(w.shape[3])
            wt = w.transpose(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
            group = cin
        else:  # [H, W, Cin, Cout] -> [Cout, Cin, H, W]
            wt = w.transpose(3, 2, 0, 1)
            group = 1
        inputs = [None, self.const_input(wt.astype(np.float32), node['name'] + '/W')]
        fused = attr_strs(node, 'fused_ops')
        post = []
        for f in fused:
            if f == 'BiasAdd':
                inputs.append(self.const_input(self.const_of(node, 2).astype(np.float32).reshape(-1), node['name'] + '/B'))
            elif f in ('Relu', 'Relu6'):
                post.append(f)
            else:
                fail(f'{node["name"]}: unsupported fused op {f}')
        attrs = dict(kernel_shape=[kh, kw], strides=strides[1:3], dilations=dil[1:3], group=group)
        if padding == 'SAME':
            attrs['auto_pad'] = 'SAME_UPPER'
        elif padding == 'VALID':
            attrs['pads'] = [0, 0, 0, 0]
        else:
            fail(f'{node["name"]}: unsupported padding {padding}')

        def build(x):
            inputs[0] = x
            y = self.fresh('conv')
            self.emit('Conv', inputs, [y], **attrs)
            for p in post:
                z = self.fresh(p)
                if p == 'Relu':
                    self.emit('Relu', [y], [z])
                else:
                    self.emit('Clip', [y, self.const_input(np.float32(0)), self.const_input(np.float32(6))], [z])
                y = z
            return y

        return self.nhwc_wrap(ins[0], build)

    def translate(self, node):
        op = node['op']
        name = node['name']
        ins = [tensor_name(r) for r in node.get('input', [])]
        ins = [i for i in ins if i is not None]
        if self.try_fold(node, ins):
            return
        out0 = f'{name}:0'
        R = lambda i: self.ref(ins[i])  # noqa: E731
        if op == 'Identity':
            self.emit('Identity', [R(0)], [out0])
        elif op in ('Add', 'AddV2'):
            self.emit('Add', [R(0), R(1)], [out0])
        elif op == 'Sub':
            self.emit('Sub', [R(0), R(1)], [out0])
        elif op == 'Mul':
            self.emit('Mul', [R(0), R(1)], [out0])
        elif op == 'FloorDiv':
            self.emit('Div', [R(0), R(1)], [out0])  # integer operands here are non-negative indices: trunc == floor
        elif op == 'FloorMod':
            self.emit('Mod', [R(0), R(1)], [out0], fmod=0)
        elif op == 'Relu':
            self.emit('Relu', [R(0)], [out0])
        elif op == 'Relu6':
            self.emit('Clip', [R(0), self.const_input(np.float32(0)), self.const_input(np.float32(6))], [out0])
        elif op == 'LeakyRelu':
            self.emit('LeakyRelu', [R(0)], [out0], alpha=attr_float(node, 'alpha', 0.2))
        elif op == 'Sigmoid':
            self.emit('Sigmoid', [R(0)], [out0])
        elif op == 'Transpose':
            self.emit('Transpose', [R(0)], [out0], perm=[int(p) for p in self.const_of(node, 1)])
        elif op in ('Pad', 'PadV2'):
            p = self.const_of(node, 1).astype(np.int64)
            pads = list(p[:, 0]) + list(p[:, 1])
            inputs = [R(0), self.const_input(np.array(pads, dtype=np.int64))]
            if op == 'PadV2':
                inputs.append(self.ref(ins[2]))
            self.emit('Pad', inputs, [out0], mode='constant')
        elif op in ('Conv2D', '_FusedConv2D'):
            y = self.conv(node, ins, depthwise=False)
            self.emit('Identity', [y], [out0])
        elif op in ('DepthwiseConv2dNative', 'FusedDepthwiseConv2dNative'):
            y = self.conv(node, ins, depthwise=True)
            self.emit('Identity', [y], [out0])
        elif op == 'MaxPool':
            k = attr_ints(node, 'ksize')
            s = attr_ints(node, 'strides')
            attrs = dict(kernel_shape=k[1:3], strides=s[1:3])
            if attr_str(node, 'padding') == 'SAME':
                attrs['auto_pad'] = 'SAME_UPPER'

            def build(x):
                y = self.fresh('pool')
                self.emit('MaxPool', [x], [y], **attrs)
                return y

            self.emit('Identity', [self.nhwc_wrap(R(0), build)], [out0])
        elif op == 'ResizeBilinear':
            size = self.scale_size(name, self.const_of(node, 1).astype(np.int64).reshape(-1))
            half = attr_bool(node, 'half_pixel_centers')
            if attr_bool(node, 'align_corners'):
                mode = 'align_corners'
            else:
                mode = 'half_pixel' if half else 'asymmetric'

            def build(x):
                shape = self.fresh('shape')
                self.emit('Shape', [x], [shape])
                nc = self.fresh('nc')
                self.emit('Slice', [shape, self.const_input(np.array([0], np.int64)),
                                    self.const_input(np.array([2], np.int64))], [nc])
                sizes = self.fresh('sizes')
                self.emit('Concat', [nc, self.const_input(size)], [sizes], axis=0)
                y = self.fresh('resize')
                self.emit('Resize', [x, '', '', sizes], [y], mode='linear', coordinate_transformation_mode=mode)
                return y

            self.emit('Identity', [self.nhwc_wrap(R(0), build)], [out0])
        elif op == 'ConcatV2':
            axis = int(self.const_of(node, len(ins) - 1))
            self.emit('Concat', [self.ref(i) for i in ins[:-1]], [out0], axis=axis)
        elif op == 'SplitV':
            sizes = self.const_of(node, 1).astype(np.int64)
            axis = int(self.const_of(node, 2))
            n = attr_int(node, 'num_split', len(sizes))
            self.emit('Split', [R(0), self.const_input(sizes)], [f'{name}:{k}' for k in range(n)], axis=axis)
        elif op == 'Reshape':
            shape = self.const_of(node, 1).astype(np.int64).reshape(-1).copy()
            if self.dynamic_batch and len(shape) > 0 and shape[0] == 1:
                shape[0] = 0  # copy the batch dimension from the input (ONNX Reshape semantics for 0)
            self.emit('Reshape', [R(0), self.const_input(shape)], [out0])
        elif op == 'Mean':
            axes = [int(a) for a in np.atleast_1d(self.const_of(node, 1))]
            self.emit('ReduceMean', [R(0)], [out0], axes=axes, keepdims=1 if attr_bool(node, 'keep_dims') else 0)
        elif op == 'Equal':
            self.emit('Equal', [R(0), R(1)], [out0])
        elif op == 'Cast':
            self.emit('Cast', [R(0)], [out0], to=TF_DTYPES[node['attr']['DstT']['type']])
        elif op == 'TopKV2':
            k = np.array([int(self.const_of(node, 1))], np.int64)
            idx64 = self.fresh('topk_idx')
            self.emit('TopK', [R(0), self.const_input(k)], [out0, idx64], axis=-1, largest=1, sorted=1)
            self.emit('Cast', [idx64], [f'{name}:1'], to=TensorProto.INT32)  # TF gives int32 indices
        elif op == 'ExpandDims':
            axis = int(self.const_of(node, 1))
            self.emit('Unsqueeze', [R(0), self.const_input(np.array([axis], np.int64))], [out0])
        elif op == 'GatherV2':
            axis = int(self.const_of(node, 2))
            if attr_int(node, 'batch_dims', 0) != 0:
                fail(f'{name}: batch_dims != 0 is not supported')
            self.emit('Gather', [R(0), R(1)], [out0], axis=axis)
        elif op == 'StridedSlice':
            begin = self.const_of(node, 1).astype(np.int64)
            end = self.const_of(node, 2).astype(np.int64)
            stride = self.const_of(node, 3).astype(np.int64)
            bm, em = attr_int(node, 'begin_mask'), attr_int(node, 'end_mask')
            if attr_int(node, 'ellipsis_mask') or attr_int(node, 'new_axis_mask'):
                fail(f'{name}: ellipsis/new-axis StridedSlice is not supported')
            shrink = attr_int(node, 'shrink_axis_mask')
            starts, ends = [], []
            big = np.iinfo(np.int64).max
            for d in range(len(begin)):
                starts.append(0 if (bm >> d) & 1 else int(begin[d]))
                if (em >> d) & 1:
                    ends.append(big if stride[d] > 0 else -big)
                elif (shrink >> d) & 1:
                    ends.append(int(begin[d]) + 1)
                else:
                    ends.append(int(end[d]))
            y = out0 if not shrink else self.fresh('slice')
            self.emit('Slice', [R(0), self.const_input(np.array(starts, np.int64)),
                                self.const_input(np.array(ends, np.int64)),
                                self.const_input(np.arange(len(begin), dtype=np.int64)),
                                self.const_input(stride)], [y])
            if shrink:
                axes = [d for d in range(len(begin)) if (shrink >> d) & 1]
                self.emit('Squeeze', [y, self.const_input(np.array(axes, np.int64))], [out0])
        else:
            fail(f'{name}: unsupported op {op}')

    def scale_size(self, name, size):
        """A resize's constant [H, W] at the --input-size (the export baked in sizes for its own input)."""
        r = getattr(self, 'size_ratio', None)
        if r is None:
            return size
        out = []
        for d, (num, den) in zip(size, r):
            if (int(d) * num) % den:
                fail(f'{name}: resize size {list(size)} does not scale to a whole size for --input-size')
            out.append(int(d) * num // den)
        return np.array(out, np.int64)

    # ---- graph ---------------------------------------------------------------------------------------------------
    def needed_nodes(self, outputs):
        seen, order = set(), []
        stack = [(o.split(':')[0], False) for o in outputs]
        while stack:
            n, done = stack.pop()
            if done:
                order.append(n)
                continue
            if n in seen:
                continue
            seen.add(n)
            stack.append((n, True))
            for r in self.by_name[n].get('input', []):
                t = tensor_name(r)
                if t is not None:
                    stack.append((t.split(':')[0], False))
        return order

    def convert(self):
        a = self.args
        if a.cut:
            outputs = {f'{a.cut}:0': a.cut_name}
        elif a.output:
            outputs = {}
            for o in a.output:
                tf, _, onx = o.partition('=')
                outputs[tensor_name(tf)] = onx or tf
        else:
            outputs = {tensor_name(k): k.split(':')[0] for k in self.signature.get('outputs', {})}
        order = self.needed_nodes(list(outputs))
        placeholders = [self.by_name[n] for n in order if self.by_name[n]['op'] == 'Placeholder']
        if len(placeholders) != 1:
            fail(f'expected one graph input, found {len(placeholders)}')
        ph = placeholders[0]
        in_name = a.input or ph['name']
        dims = [int(d.get('size', -1)) for d in ph['attr']['shape']['shape']['dim']]
        shape = list(dims)
        if a.dynamic_batch:
            shape[0] = 'N'
        if a.dynamic_spatial:
            shape[1], shape[2] = 'height', 'width'
        if a.input_size:
            m = a.input_size.lower().split('x')
            if len(m) != 2 or not all(x.isdigit() and int(x) > 0 for x in m):
                fail(f'--input-size must be HxW, got {a.input_size}')
            h, w = int(m[0]), int(m[1])
            sp = (2, 3) if dims[1] == 3 else (1, 2)  # NCHW export (channel dim 3) or NHWC
            self.size_ratio = [(h, dims[sp[0]]), (w, dims[sp[1]])]
            shape[sp[0]], shape[sp[1]] = h, w
        if a.input_shape:
            shape = [int(s) if s.lstrip('-').isdigit() else s for s in a.input_shape.split(',')]
        self.emit('Identity', [in_name], [f'{ph["name"]}:0'])
        for n in order:
            node = self.by_name[n]
            if node['op'] in ('Const', 'Placeholder'):
                continue
            self.translate(node)
        graph_outputs = []
        for tf, onx in outputs.items():
            src = self.ref(tf)
            if a.append == 'gap-l2':
                pooled = self.fresh('gap')
                self.emit('ReduceMean', [src], [pooled], axes=[1, 2], keepdims=0)
                norm = self.fresh('l2')
                self.emit('ReduceL2', [pooled], [norm], axes=[1], keepdims=1)
                safe = self.fresh('l2safe')
                self.emit('Max', [norm, self.const_input(np.float32(1e-12))], [safe])
                self.emit('Div', [pooled, safe], [onx])
            else:
                self.emit('Identity', [src], [onx])
            graph_outputs.append(helper.make_tensor_value_info(onx, TensorProto.FLOAT, None))
        graph = helper.make_graph(
            self.onnx_nodes, a.graph_name,
            [helper.make_tensor_value_info(in_name, TensorProto.FLOAT, shape)],
            graph_outputs, initializer=list(self.initializers.values()))
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                                  producer_name='vigil-tfjs2onnx', producer_version='1')
        model.ir_version = 7
        # Give the outputs their inferred shapes (the checker requires a shape on graph outputs).
        inferred = onnx.shape_inference.infer_shapes(model)
        known = {vi.name: vi for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
        for out in model.graph.output:
            vi = known.get(out.name)
            if vi is None or not vi.type.tensor_type.HasField('shape'):
                fail(f'could not infer the shape of output {out.name}')
            out.type.CopyFrom(vi.type)
        onnx.checker.check_model(model)
        return model


def main():
    p = argparse.ArgumentParser(description='TF.js graph model -> ONNX')
    p.add_argument('model')
    p.add_argument('out')
    p.add_argument('--input')
    p.add_argument('--input-shape', help='comma-separated dims, names for symbolic ones')
    p.add_argument('--dynamic-batch', action='store_true')
    p.add_argument('--dynamic-spatial', action='store_true')
    p.add_argument('--input-size', help='HxW: fixed spatial input size other than the export\'s')
    p.add_argument('--output', action='append')
    p.add_argument('--cut')
    p.add_argument('--cut-name', default='output')
    p.add_argument('--append', choices=['gap-l2'])
    p.add_argument('--graph-name', default='vigil')
    a = p.parse_args()
    model = Converter(a.model, a).convert()
    tmp = a.out + '.tmp'
    onnx.save(model, tmp)
    os.replace(tmp, a.out)
    print(f'wrote {a.out} ({os.path.getsize(a.out)} bytes, {len(model.graph.node)} nodes)')


if __name__ == '__main__':
    main()
