"""A Keras (3, functional) model to trainrate's network JSON, walking its operations in order.

Shapes come from the model's own shape inference (each operation's input and output KerasTensors,
batch axis None). Keras-specific forms: ZeroPadding2D before a 'valid' conv or pool becomes that
layer's pad (the padded copy TensorFlow makes is reported, not modelled); a Dense or Conv2D with
a relu/gelu activation adds that activation's memory layer.
"""
import math

import numpy as np
from keras import layers

import keras_models
import netjson

# Operations that only re-view a tensor: no kernel of their own in the model.
VIEW_OPS = {"InputLayer", "Flatten", "Reshape", "GetItem", "Identity"}


def numel(dims):
    return int(np.prod([d for d in dims])) if dims else 1


def inputs_of(op):
    value = op.input
    return list(value) if isinstance(value, (list, tuple)) else [value]


def producer(tensor):
    return tensor._keras_history.operation


class KerasWalker:
    def __init__(self, model, export):
        self.model, self.ex = model, export
        self.needs_grad = {}
        self.pending_pad = {}  # ZeroPadding2D op -> its symmetric pad, folded into the layer that reads it
        self.views = 0

    def run(self):
        for op in self.model.operations:
            self.needs_grad[id(op)] = self.grad_flows(op)
            self.map_op(op)
        if self.views:
            self.ex.notes.append(f"{self.views} view/shape ops cost nothing in the model")

    def grad_flows(self, op):
        if isinstance(op, layers.InputLayer):
            return False
        if getattr(op, "trainable_weights", None):
            return True
        return any(self.needs_grad.get(id(producer(t)), False) for t in inputs_of(op))

    def map_op(self, op):
        kind = type(op).__name__
        handler = HANDLERS.get(kind)
        if handler is not None:
            return handler(self, op)
        if kind in VIEW_OPS or (kind == "Dropout" and op.rate == 0):
            self.views += 1
            return None
        self.ex.skip(op.name, kind, "no trainrate layer kind for it")

    # ---- helpers ---------------------------------------------------------------------------------
    def source(self, op):
        """(input shape, pad) of a conv or pool, looking through a ZeroPadding2D that feeds it."""
        src = inputs_of(op)[0]
        pad_op = producer(src)
        if id(pad_op) in self.pending_pad:
            return tuple(inputs_of(pad_op)[0].shape), self.pending_pad[id(pad_op)], inputs_of(pad_op)[0]
        return tuple(src.shape), 0, src

    def input_grad(self, tensor):
        return self.needs_grad.get(id(producer(tensor)), True)

    def activation(self, op, name, elements):
        """The activation of `op` (an Activation layer, or a Dense/Conv2D's own) as layer `name`."""
        act = getattr(op.activation, "__name__", str(op.activation))
        if act in ("relu", "gelu"):
            self.ex.add(netjson.memory(name, act, elements=elements))
        elif act == "softmax":
            cols = op.output.shape[-1]
            self.ex.add(netjson.memory(name, "softmax", rows=elements // cols, cols=cols))
        elif act != "linear":
            self.ex.skip(name, f"{act}, {elements} elements per sample", "no trainrate layer kind for it")

    # ---- layers -----------------------------------------------------------------------------------
    def conv2d(self, op):
        (_, h, w, c), pad, src = self.source(op)
        r, s = op.kernel_size
        stride = op.strides[0]
        if op.groups != 1 or tuple(op.dilation_rate) != (1, 1) or op.strides[0] != op.strides[1] \
                or op.data_format != "channels_last":
            return self.ex.skip(op.name, "Conv2D", "groups, dilation, unequal strides or channels_first")
        if op.padding == "same":
            pad = self.same_pad(op, h, r, stride)
            if pad is None:
                return
        self.ex.add(netjson.conv(op.name, c, h, w, op.filters, r, s, pad, stride, op.use_bias,
                                 input_grad=self.input_grad(src)))
        self.activation(op, f"{op.name}.activation", numel(op.output.shape[1:]))

    def same_pad(self, op, size, window, stride):
        total = max((math.ceil(size / stride) - 1) * stride + window - size, 0)
        if total % 2:
            self.ex.skip(op.name, type(op).__name__, f"'same' padding of {total} is asymmetric")
            return None
        return total // 2

    def zero_padding(self, op):
        (top, bottom), (left, right) = op.padding
        if len({top, bottom, left, right}) != 1:
            return self.ex.skip(op.name, "ZeroPadding2D", "asymmetric padding")
        self.pending_pad[id(op)] = top
        self.ex.skip(op.name, "ZeroPadding2D", f"the padded copy TensorFlow makes is not modelled; pad {top} is "
                     "folded into the conv or pool that reads it")

    def dense(self, op):
        shape = inputs_of(op)[0].shape
        tokens = numel(shape[1:-1])
        self.ex.add(netjson.linear(op.name, tokens, shape[-1], op.units, op.use_bias,
                                   input_grad=self.input_grad(inputs_of(op)[0])))
        self.activation(op, f"{op.name}.activation", tokens * op.units)

    def batchnorm(self, op):
        dims = tuple(op.output.shape[1:])
        if len(dims) == 3:
            h, w, c = dims
        else:
            c, h, w = dims[-1], numel(dims[:-1]), 1
        self.ex.add(netjson.memory(op.name, "batchnorm", c=c, h=h, w=w))

    def layernorm(self, op):
        shape = op.output.shape
        self.ex.add(netjson.memory(op.name, "layernorm", rows=numel(shape[1:-1]), cols=shape[-1]))

    def activation_layer(self, op):
        self.activation(op, op.name, numel(op.output.shape[1:]))

    def relu_layer(self, op):
        if op.max_value is not None or op.negative_slope != 0 or op.threshold != 0:
            return self.ex.skip(op.name, "ReLU", "a clipped, leaky or thresholded ReLU")
        self.ex.add(netjson.memory(op.name, "relu", elements=numel(op.output.shape[1:])))

    def softmax_layer(self, op):
        shape = op.output.shape
        self.ex.add(netjson.memory(op.name, "softmax", rows=numel(shape[1:-1]), cols=shape[-1]))

    def pool(self, op, kind):
        (_, h, w, c), pad, _ = self.source(op)
        window, stride = op.pool_size[0], op.strides[0]
        if op.pool_size[0] != op.pool_size[1] or op.strides[0] != op.strides[1]:
            return self.ex.skip(op.name, type(op).__name__, "non-square window or stride")
        if op.padding == "same":
            pad = self.same_pad(op, h, window, stride)
            if pad is None:
                return
        self.ex.add(netjson.memory(op.name, kind, c=c, h=h, w=w, window=window, stride=stride, pad=pad))

    def maxpool(self, op):
        self.pool(op, "maxpool")

    def avgpool(self, op):
        self.pool(op, "avgpool")

    def global_avgpool(self, op):
        _, h, w, c = inputs_of(op)[0].shape
        if h != w:
            return self.ex.skip(op.name, "GlobalAveragePooling2D", f"{h}x{w} is not square")
        self.ex.add(netjson.memory(op.name, "avgpool", c=c, h=h, w=w, window=h, stride=h, pad=0))

    def add(self, op):
        tensors = inputs_of(op)
        elements = numel(op.output.shape[1:])
        residual = len(tensors) == 2 and bool(self.ancestors(tensors[0]) & self.ancestors(tensors[1]))
        for i in range(len(tensors) - 1):  # an n-way sum is n − 1 adds
            layer = netjson.memory(op.name if len(tensors) == 2 else f"{op.name}.{i}", "add", elements=elements)
            if residual:
                layer["residual"] = True
            self.ex.add(layer)

    def ancestors(self, tensor):
        """Operations a tensor depends on (inputs excluded): two that share one join at a fork."""
        seen, todo = set(), [producer(tensor)]
        while todo:
            op = todo.pop()
            if id(op) in seen or isinstance(op, layers.InputLayer):
                continue
            seen.add(id(op))
            todo.extend(producer(t) for t in inputs_of(op))
        return seen

    def embedding(self, op):
        rows = numel(inputs_of(op)[0].shape[1:])
        self.ex.add(netjson.memory(op.name, "embedding", rows=rows, cols=op.output_dim, vocab=op.input_dim))

    def attention_products(self, op):
        _, seq, hidden = inputs_of(op)[0].shape
        head_dim = hidden // op.heads
        self.ex.add(netjson.attention(op.name, op.heads, seq, head_dim))
        self.ex.add(netjson.memory(f"{op.name}.softmax", "softmax", rows=op.heads * seq, cols=seq,
                                   scale=1.0 / math.sqrt(head_dim)))


HANDLERS = {
    "Conv2D": KerasWalker.conv2d, "ZeroPadding2D": KerasWalker.zero_padding, "Dense": KerasWalker.dense,
    "BatchNormalization": KerasWalker.batchnorm, "LayerNormalization": KerasWalker.layernorm,
    "Activation": KerasWalker.activation_layer, "ReLU": KerasWalker.relu_layer, "Softmax": KerasWalker.softmax_layer,
    "MaxPooling2D": KerasWalker.maxpool, "AveragePooling2D": KerasWalker.avgpool,
    "GlobalAveragePooling2D": KerasWalker.global_avgpool, "Add": KerasWalker.add, "Embedding": KerasWalker.embedding,
    keras_models.AttentionProducts.__name__: KerasWalker.attention_products,
}


def export(model, name, optimizer, tokens_per_sample=1, loss="cross-entropy"):
    ex = netjson.Export(name, tokens_per_sample, optimizer)
    KerasWalker(model, ex).run()
    if loss == "cross-entropy":
        shape = model.output.shape
        ex.add(netjson.memory("loss", "cross_entropy", rows=numel(shape[1:-1]), cols=shape[-1]))
    total = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return ex, total
