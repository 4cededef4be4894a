"""trainrate's network JSON (docs/models.md), built from a framework's layers.

The exporters (export_torch.py, export_keras.py) walk a model and call the builders below; every
op they cannot map goes to `Export.unmapped`, which is printed, never dropped in silence. Shapes are
per sample: trainrate applies the batch when it lowers the network.
"""
import json
import sys

# Memory-bound ops and the shape fields each one takes (the per-sample axis is rows / elements / c·h·w).
MEMORY_FIELDS = {
    "relu": ("elements",), "gelu": ("elements",), "add": ("elements", "residual"),
    "bias_add": ("rows", "cols"), "layernorm": ("rows", "cols"),
    "softmax": ("rows", "cols", "scale", "causal_seq"), "cross_entropy": ("rows", "cols"),
    "embedding": ("rows", "cols", "vocab"), "batchnorm": ("c", "h", "w"),
    "maxpool": ("c", "h", "w", "window", "stride", "pad"), "avgpool": ("c", "h", "w", "window", "stride", "pad"),
}


def conv(name, c, h, w, k, r, s, pad, stride, bias, input_grad=True):
    layer = {"name": name, "kind": "conv", "c": c, "h": h, "w": w, "k": k, "r": r, "s": s, "pad": pad,
             "stride": stride, "bias": bias}
    if not input_grad:
        layer["input_grad"] = False
    return layer


def linear(name, tokens, in_features, out_features, bias, tied_weights=False, input_grad=True):
    layer = {"name": name, "kind": "linear", "tokens": tokens, "in": in_features, "out": out_features,
             "bias": bias, "tied_weights": tied_weights}
    if not input_grad:
        layer["input_grad"] = False
    return layer


def attention(name, heads, seq_len, head_dim):
    return {"name": name, "kind": "attention", "heads": heads, "seq_len": seq_len, "head_dim": head_dim}


def memory(name, op, **shape):
    unknown = set(shape) - set(MEMORY_FIELDS[op])
    if unknown:
        raise ValueError(f"{op}: fields {sorted(unknown)} are not {op}'s")
    return {"name": name, "kind": "memory", "op": op, **shape}


def layer_parameters(layer):
    """Parameters trainrate counts from a layer (one copy), as src/problems/network.cpp counts them."""
    kind = layer["kind"]
    if kind == "conv":
        return layer["k"] * layer["c"] * layer["r"] * layer["s"] + (layer["k"] if layer["bias"] else 0)
    if kind == "linear":
        if layer["tied_weights"]:
            return 0
        return layer["in"] * layer["out"] + (layer["out"] if layer["bias"] else 0)
    if kind == "memory":
        if layer["op"] == "batchnorm":
            return 2 * layer["c"]
        if layer["op"] == "layernorm":
            return 2 * layer["cols"]
        if layer["op"] == "embedding":
            return layer["vocab"] * layer["cols"]
    return 0


def merge_repeats(layers):
    """Identical consecutive layers (all but the name) become one entry with "repeat"."""
    merged = []
    for layer in layers:
        if merged and _same_shape(merged[-1], layer):
            merged[-1]["repeat"] = merged[-1].get("repeat", 1) + 1
            merged[-1]["name"] = merged[-1]["name"].split("..")[0] + ".." + layer["name"]
        else:
            merged.append(dict(layer))
    return merged


def _same_shape(a, b):
    strip = lambda layer: {k: v for k, v in layer.items() if k not in ("name", "repeat")}
    return strip(a) == strip(b)


class Export:
    """Layers found so far, the ops that could not be mapped, and the framework's parameter total."""

    def __init__(self, name, tokens_per_sample, optimizer):
        self.name = name
        self.tokens_per_sample = tokens_per_sample
        self.optimizer = optimizer
        self.layers = []
        self.unmapped = []  # (op name, what it is, why)
        self.notes = []     # mapped, with an approximation worth saying
        self.has_loss = False  # the model computes its own loss (else the exporter may add one)

    def add(self, layer):
        self.layers.append(layer)

    def skip(self, name, what, why):
        self.unmapped.append((name, what, why))

    def to_json(self, total_parameters, gemm_only=False):
        """The network file. `gemm_only` writes the format without memory layers and optimizer (trainrate
        before the memory-bound kinds): their parameters then go to other_parameters."""
        layers = [l for l in self.layers if not (gemm_only and l["kind"] == "memory")]
        counted = sum(layer_parameters(l) * l.get("repeat", 1) for l in layers)
        other = total_parameters - counted
        if other < 0:
            # trainrate counts 2 per norm channel; a norm without scale and shift has none.
            self.notes.append(f"layers count {counted:,} parameters, the model has {total_parameters:,}")
            other = 0
        net = {"name": self.name, "tokens_per_sample": self.tokens_per_sample}
        if not gemm_only:
            net["optimizer"] = self.optimizer
        net["other_parameters"] = other
        net["other_parameters_note"] = self._other_note(gemm_only, other)
        net["layers"] = merge_repeats(layers)
        return net

    def _other_note(self, gemm_only, other):
        parts = []
        if gemm_only:
            parts.append("norm scales/shifts and embedding tables (memory layers omitted)")
        if self.unmapped and other:
            parts.append("parameters of unmapped ops")
        return "; ".join(parts) if parts else "none"

    def report(self, stream=sys.stderr):
        for name, what, why in self.unmapped:
            print(f"export-network: unmapped: {name} ({what}): {why}", file=stream)
        for note in self.notes:
            print(f"export-network: note: {note}", file=stream)
        kinds = {}
        for layer in self.layers:
            key = layer["op"] if layer["kind"] == "memory" else layer["kind"]
            kinds[key] = kinds.get(key, 0) + layer.get("repeat", 1)
        summary = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
        print(f"export-network: {self.name}: {summary}; {len(self.unmapped)} unmapped", file=stream)


def write(net, path):
    # One layer per line: a network file is read (and diffed) layer by layer.
    head = {k: v for k, v in net.items() if k != "layers"}
    lines = [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    layers = ",\n".join("  " + json.dumps(layer) for layer in net["layers"])
    text = "{\n" + "\n".join(lines) + '\n "layers": [\n' + layers + "\n ]\n}\n"
    if path in (None, "-"):
        sys.stdout.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)
