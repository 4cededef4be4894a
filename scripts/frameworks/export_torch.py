"""A PyTorch model to trainrate's network JSON, through torch.fx.

symbolic_trace gives the graph, ShapeProp on a sample input gives every tensor's shape, and each
node is mapped to a trainrate layer by what it computes. Attention is recognised as the pattern
Q·Kᵀ → (scale) → softmax → P·V; any other matmul is reported unmapped.
"""
import operator

import torch
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

import netjson

# Ops that only re-view a tensor (or read its size): no kernel of their own in the model.
VIEW_OPS = {"view", "reshape", "flatten", "unflatten", "transpose", "permute", "contiguous", "getitem", "size",
            "expand", "expand_as", "unsqueeze", "squeeze", "t", "identity", "dim", "getattr", "chunk", "split"}
ADD_OPS = {"add", "iadd", "add_"}
SCALE_OPS = {"mul", "imul", "truediv", "div"}


def op_name(gm, node):
    if node.op == "call_module":
        return type(gm.get_submodule(node.target)).__name__.lower()
    if node.op == "call_function":
        return getattr(node.target, "__name__", str(node.target)).lower()
    if node.op == "call_method":
        return node.target.lower()
    return node.op


def shape(node):
    meta = node.meta.get("tensor_meta") if isinstance(node, torch.fx.Node) else None
    return tuple(meta.shape) if meta is not None and hasattr(meta, "shape") else None


def numel(dims):
    total = 1
    for d in dims:
        total *= d
    return total


class TorchWalker:
    def __init__(self, gm, batch, export):
        self.gm, self.batch, self.ex = gm, batch, export
        self.needs_grad = {}
        self.handled = {}  # node -> scale folded into the softmax it feeds, or None for a consumed node
        self.views = 0

    def per_sample(self, node):
        return numel(shape(node)) // self.batch

    def run(self):
        for node in self.gm.graph.nodes:
            self.needs_grad[node] = self.grad_flows(node)
            if node in self.handled and node.op != "output":
                continue
            if node.op in ("placeholder", "get_attr", "output"):
                continue
            self.map_node(node, op_name(self.gm, node))
        if self.views:
            self.ex.notes.append(f"{self.views} view/shape ops cost nothing in the model (a reshape of a transposed "
                                 "tensor copies in PyTorch)")

    def grad_flows(self, node):
        """Whether a gradient reaches this node's output: false for inputs and what depends on inputs only."""
        if node.op == "placeholder":
            return False
        if node.op == "get_attr":
            value = self.attr(node.target)
            return isinstance(value, nn.Parameter) and value.requires_grad
        if node.op == "call_module":
            if any(p.requires_grad for p in self.gm.get_submodule(node.target).parameters()):
                return True
        return any(self.needs_grad.get(n, False) for n in node.all_input_nodes)

    def attr(self, target):
        value = self.gm
        for part in target.split("."):
            value = getattr(value, part)
        return value

    # ---- dispatch ------------------------------------------------------------------------------
    def map_node(self, node, op):
        if node.op == "call_module":
            module = self.gm.get_submodule(node.target)
            handler = MODULE_HANDLERS.get(type(module))
            if handler is not None:
                return handler(self, node, module)
        handler = FUNCTION_HANDLERS.get(op)
        if handler is not None:
            return handler(self, node)
        if op in VIEW_OPS:
            self.views += 1
            return None
        out = shape(node)
        what = f"{op}, {self.per_sample(node)} elements per sample" if out else op
        self.ex.skip(str(node.name), what, "no trainrate layer kind for it")
        return None

    # ---- modules ----------------------------------------------------------------------------------
    def conv2d(self, node, m):
        src = node.args[0]
        _, c, h, w = shape(src)
        why = None
        pad = m.padding if isinstance(m.padding, tuple) else None
        if m.groups != 1:
            why = f"groups={m.groups} (trainrate convs are dense)"
        elif m.dilation != (1, 1):
            why = f"dilation {m.dilation}"
        elif pad is None or pad[0] != pad[1] or m.stride[0] != m.stride[1] or m.padding_mode != "zeros":
            why = f"padding {m.padding} / stride {m.stride}: trainrate takes one square pad and stride"
        if why:
            return self.ex.skip(node.name, "Conv2d", why)
        self.ex.add(netjson.conv(node.target, c, h, w, m.out_channels, m.kernel_size[0], m.kernel_size[1], pad[0],
                                 m.stride[0], m.bias is not None, input_grad=self.needs_grad[src]))

    def linear(self, node, m):
        src = node.args[0]
        tokens = self.per_sample(src) // m.in_features
        tied = any(m.weight is e.weight for e in self.gm.modules() if isinstance(e, nn.Embedding))
        self.ex.add(netjson.linear(node.target, tokens, m.in_features, m.out_features, m.bias is not None,
                                   tied_weights=tied, input_grad=self.needs_grad[src]))

    def batchnorm(self, node, m):
        dims = shape(node.args[0])[1:]
        c, h, w = (tuple(dims) + (1, 1))[:3]
        self.ex.add(netjson.memory(node.target, "batchnorm", c=c, h=h, w=w))

    def layernorm(self, node, m):
        cols = numel(m.normalized_shape)
        self.ex.add(netjson.memory(node.target, "layernorm", rows=self.per_sample(node) // cols, cols=cols))

    def embedding(self, node, m):
        rows = self.per_sample(node.args[0])
        self.ex.add(netjson.memory(node.target, "embedding", rows=rows, cols=m.embedding_dim, vocab=m.num_embeddings))

    def maxpool(self, node, m):
        window, stride, pad = (_single(m.kernel_size), _single(m.stride), _single(m.padding))
        if None in (window, stride, pad) or m.dilation not in (1, (1, 1)) or m.ceil_mode:
            return self.ex.skip(node.name, "MaxPool2d", "non-square window/stride/pad, dilation or ceil_mode")
        self.pool(node, "maxpool", window, stride, pad)

    def avgpool(self, node, m):
        window, stride, pad = (_single(m.kernel_size), _single(m.stride), _single(m.padding))
        if None in (window, stride, pad) or m.ceil_mode:
            return self.ex.skip(node.name, "AvgPool2d", "non-square window/stride/pad or ceil_mode")
        self.pool(node, "avgpool", window, stride, pad)

    def adaptive_avgpool(self, node, m):
        _, _, h, w = shape(node.args[0])
        _, _, oh, ow = shape(node)
        if h % oh or w % ow or h // oh != w // ow:
            return self.ex.skip(node.name, "AdaptiveAvgPool2d", f"{h}x{w} -> {oh}x{ow} is not one square window")
        if oh == h:
            self.views += 1  # output size = input size: a copy-free identity
            return None
        self.pool(node, "avgpool", h // oh, h // oh, 0)

    def pool(self, node, op, window, stride, pad):
        _, c, h, w = shape(node.args[0])
        self.ex.add(netjson.memory(str(node.target), op, c=c, h=h, w=w, window=window, stride=stride, pad=pad))

    def dropout(self, node, m):
        if m.p == 0:
            self.views += 1
            return None
        self.ex.skip(node.name, f"Dropout(p={m.p})", "dropout is not modelled")

    # ---- functions and methods ----------------------------------------------------------------
    def elementwise(self, node, op, approximate="none"):
        if approximate != "none":
            self.ex.notes.append(f"{node.name}: gelu(approximate='{approximate}') counted as exact gelu")
        self.ex.add(netjson.memory(node.name, op, elements=self.per_sample(node)))

    def relu_fn(self, node):
        self.elementwise(node, "relu")

    def gelu_fn(self, node):
        self.elementwise(node, "gelu", node.kwargs.get("approximate", "none"))

    def add_fn(self, node):
        inputs = [a for a in node.args[:2]]
        kinds = [self.operand_kind(a) for a in inputs]
        if kinds == ["activation", "activation"]:
            layer = netjson.memory(node.name, "add", elements=self.per_sample(node))
            if self.forks_join(inputs[0], inputs[1]):
                layer["residual"] = True
            return self.ex.add(layer)
        if sorted(kinds) == ["activation", "parameter"] and len(shape(node)) >= 2:
            param = inputs[kinds.index("parameter")]
            cols = numel(shape(param))
            if cols == shape(node)[-1]:
                return self.ex.add(netjson.memory(node.name, "bias_add", rows=self.per_sample(node) // cols, cols=cols))
        self.ex.skip(node.name, f"add of {kinds[0]} and {kinds[1]}", "only activation+activation (add) and "
                     "activation+bias vector (bias_add) are trainrate kinds")

    def operand_kind(self, arg):
        if not isinstance(arg, torch.fx.Node):
            return "constant"
        if arg.op == "get_attr":
            return "parameter" if self.needs_grad[arg] else "buffer"
        return "activation" if self.needs_grad[arg] else "input-only tensor"

    def forks_join(self, a, b):
        """A residual add joins two paths from one fork (a node with several users), so its backward is
        the gradient sum at that fork. Adding independent tensors (embeddings) joins no fork."""
        return bool(self.ancestors(a) & self.ancestors(b))

    def ancestors(self, node):
        seen, todo = set(), [node]
        while todo:
            n = todo.pop()
            if n in seen or n.op in ("placeholder", "get_attr"):
                continue
            seen.add(n)
            todo.extend(n.all_input_nodes)
        return seen

    def softmax_fn(self, node, scale=1.0, dim=None):
        if dim is None:
            dim = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        out = shape(node)
        if dim not in (-1, len(out) - 1):
            return self.ex.skip(node.name, f"softmax over dim {dim}", "trainrate's softmax is over the last axis")
        cols = out[-1]
        layer = netjson.memory(node.name, "softmax", rows=self.per_sample(node) // cols, cols=cols)
        if scale != 1.0:
            layer["scale"] = scale
        self.ex.add(layer)

    def softmax_module(self, node, m):
        self.softmax_fn(node, dim=m.dim)

    def cross_entropy_fn(self, node):
        logits = shape(node.args[0])
        cols = logits[-1] if len(logits) == 2 else logits[1]
        self.ex.add(netjson.memory(node.name, "cross_entropy", rows=numel(logits) // cols // self.batch, cols=cols))
        self.ex.has_loss = True

    def cross_entropy_module(self, node, m):
        self.cross_entropy_fn(node)

    def matmul_fn(self, node):
        found = self.attention_pattern(node)
        if found is None:
            a, b = node.args[:2]
            return self.ex.skip(node.name, f"matmul {shape(a)} x {shape(b)}",
                                "not the Q·Kᵀ → softmax → P·V pattern (use nn.Linear for a product with weights)")
        heads, seq, head_dim, scale_node, scale, softmax, pv = found
        self.ex.add(netjson.attention(node.name, heads, seq, head_dim))
        if scale_node is not None:
            self.handled[scale_node] = None
        self.softmax_fn(softmax, scale)
        self.handled[softmax] = None
        self.handled[pv] = None

    def attention_pattern(self, qk):
        a, b = (shape(x) for x in qk.args[:2])
        if a is None or b is None or len(a) < 3 or a[-1] != b[-2] or a[-2] != b[-1]:
            return None
        node, scale_node, scale = _only_user(qk), None, 1.0
        if node is not None and op_name(self.gm, node) in SCALE_OPS:
            factor = next((x for x in node.args if isinstance(x, (int, float))), None)
            if factor is None:
                return None
            scale = float(factor) if op_name(self.gm, node) in ("mul", "imul") else 1.0 / float(factor)
            scale_node, node = node, _only_user(node)
        if node is None or op_name(self.gm, node) != "softmax":
            return None
        pv = _only_user(node)
        if pv is None or op_name(self.gm, pv) not in ("matmul", "bmm") or pv.args[0] is not node:
            return None
        v = shape(pv.args[1])
        if v is None or v[-2] != a[-2]:
            return None
        heads = numel(a[:-2]) // self.batch
        return heads, a[-2], a[-1], scale_node, scale, node, pv


def _activation_module(op):
    def handler(walker, node, m):
        walker.elementwise(node, op, getattr(m, "approximate", "none"))
    return handler


def _only_user(node):
    users = list(node.users)
    return users[0] if len(users) == 1 else None


def _single(value):
    if isinstance(value, int):
        return value
    return value[0] if len(set(value)) == 1 else None


MODULE_HANDLERS = {
    nn.Conv2d: TorchWalker.conv2d, nn.Linear: TorchWalker.linear,
    nn.BatchNorm2d: TorchWalker.batchnorm, nn.BatchNorm1d: TorchWalker.batchnorm, nn.LayerNorm: TorchWalker.layernorm,
    nn.Embedding: TorchWalker.embedding, nn.MaxPool2d: TorchWalker.maxpool, nn.AvgPool2d: TorchWalker.avgpool,
    nn.AdaptiveAvgPool2d: TorchWalker.adaptive_avgpool, nn.Dropout: TorchWalker.dropout,
    nn.ReLU: _activation_module("relu"), nn.GELU: _activation_module("gelu"),
    nn.Softmax: TorchWalker.softmax_module, nn.CrossEntropyLoss: TorchWalker.cross_entropy_module,
}
FUNCTION_HANDLERS = {
    "relu": TorchWalker.relu_fn, "relu_": TorchWalker.relu_fn, "gelu": TorchWalker.gelu_fn,
    "softmax": TorchWalker.softmax_fn, "cross_entropy": TorchWalker.cross_entropy_fn,
    "matmul": TorchWalker.matmul_fn, "bmm": TorchWalker.matmul_fn,
    **{name: TorchWalker.add_fn for name in ADD_OPS},
}


def export(model, example_inputs, name, optimizer, tokens_per_sample=1, loss="cross-entropy"):
    """Trace `model` on `example_inputs` (batch first, batch ≥ 2 so per-sample sizes are unambiguous)."""
    gm = torch.fx.symbolic_trace(model)
    ShapeProp(gm).propagate(*example_inputs)
    batch = example_inputs[0].shape[0]
    ex = netjson.Export(name, tokens_per_sample, optimizer)
    TorchWalker(gm, batch, ex).run()
    if loss == "cross-entropy" and not ex.has_loss:
        out = next(n for n in gm.graph.nodes if n.op == "output").args[0]
        dims = shape(out)
        ex.add(netjson.memory("loss", "cross_entropy", rows=numel(dims) // dims[-1] // batch, cols=dims[-1]))
    total = sum(p.numel() for p in model.parameters())  # shared (tied) parameters once
    return ex, total
