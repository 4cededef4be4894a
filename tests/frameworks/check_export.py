#!/usr/bin/env python3
"""scripts/export-network on tiny torch models, checked against shapes worked out by hand, and read
back by `trainrate predict --network-file`.

Usage: check_export.py TRAINRATE_CLI
Exit 0 on success, 1 on a mismatch, 77 (skipped) when no Python here can import torch
(Debian: apt-get install python3-torch python3-torchvision; scripts/setup python3-torch ...).
"""
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
EXPORT = os.path.join(REPO, "scripts", "export-network")
SKIP = 77
failures = []


def torch_python():
    for python in (sys.executable, "/usr/bin/python3"):
        if os.path.exists(python) and subprocess.run([python, "-c", "import torch.fx"], capture_output=True).returncode == 0:
            return python
    return None


def export(python, callable_name, *extra):
    cmd = [python, EXPORT, "--framework", "torch", "--model",
           f"module:{os.path.join(HERE, 'tiny_models.py')}:{callable_name}", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)}: exit {result.returncode}\n{result.stderr}")
    return json.loads(result.stdout), result.stderr


def check(what, got, want):
    if got == want:
        return
    if isinstance(got, list) and isinstance(want, list):
        first = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
        got, want = (x[first] if first < len(x) else "(none)" for x in (got, want))
        what = f"{what}[{first}]"
    failures.append(f"{what}: got {got!r}, want {want!r}")


def shapes(net):
    """Layers without their names (fx names them by order of appearance, not by meaning)."""
    return [{k: v for k, v in layer.items() if k != "name"} for layer in net["layers"]]


def conv(c, hw, k, r, pad, stride, bias, **extra):
    return {"kind": "conv", "c": c, "h": hw, "w": hw, "k": k, "r": r, "s": r, "pad": pad, "stride": stride,
            "bias": bias, **extra}


def linear(tokens, n_in, n_out, **extra):
    return {"kind": "linear", "tokens": tokens, "in": n_in, "out": n_out, "bias": True, "tied_weights": False, **extra}


def memory(op, **fields):
    return {"kind": "memory", "op": op, **fields}


# TinyResidualCnn on 3×8×8: conv 3→8 (3×3, pad 1) keeps 8×8, the 2×2 pool halves it to 4×4.
CNN_CONV = [conv(3, 8, 8, 3, 1, 1, False, input_grad=False), conv(8, 4, 8, 3, 1, 1, True)]
CNN_FC = linear(1, 8, 10)
CNN = [CNN_CONV[0], memory("batchnorm", c=8, h=8, w=8), memory("relu", elements=8 * 8 * 8),
       memory("maxpool", c=8, h=8, w=8, window=2, stride=2, pad=0), CNN_CONV[1], memory("batchnorm", c=8, h=4, w=4),
       memory("add", elements=8 * 4 * 4, residual=True),  # the pooled tensor forks into conv2 and the add
       memory("avgpool", c=8, h=4, w=4, window=4, stride=4, pad=0), CNN_FC, memory("cross_entropy", rows=1, cols=10)]
# Parameters: conv1 8·3·9 = 216, bn1 16, conv2 8·8·9 + 8 = 584, bn2 16, PReLU 8, fc 8·10 + 10 = 90.
CNN_PARAMETERS = 216 + 16 + 584 + 16 + 8 + 90


def check_cnn(python):
    net, log = export(python, "tiny_cnn")
    check("cnn layers", shapes(net), CNN)
    check("cnn other_parameters (the unmapped PReLU's)", net["other_parameters"], 8)
    check("cnn optimizer", net["optimizer"], "sgd")
    check("cnn reports the PReLU", "unmapped: prelu" in log, True)
    gemm_only, _ = export(python, "tiny_cnn", "--gemm-only")
    check("cnn --gemm-only layers", shapes(gemm_only), CNN_CONV + [CNN_FC])
    check("cnn --gemm-only other_parameters (norms + PReLU)", gemm_only["other_parameters"], 16 + 16 + 8)
    check("cnn --gemm-only has no optimizer field", "optimizer" in gemm_only, False)
    return net


def check_bert(python):
    """BertEncoder at hidden 16, 2 heads (head_dim 8), ffn 32, 2 blocks, seq 6, vocab 50, 8 positions, 3 classes."""
    net, log = export(python, "tiny_bert", "--tokens-per-sample", "6", "--optimizer", "adamw")
    layers = shapes(net)
    embeddings = [memory("embedding", rows=6, cols=16, vocab=8), memory("embedding", rows=6, cols=16, vocab=50),
                  memory("add", elements=6 * 16), memory("embedding", rows=6, cols=16, vocab=2),
                  memory("add", elements=6 * 16), memory("layernorm", rows=6, cols=16)]
    block = [linear(6, 16, 16, repeat=3), {"kind": "attention", "heads": 2, "seq_len": 6, "head_dim": 8},
             memory("softmax", rows=2 * 6, cols=6, scale=1 / math.sqrt(8)), linear(6, 16, 16),
             memory("add", elements=96, residual=True), memory("layernorm", rows=6, cols=16), linear(6, 16, 32),
             memory("gelu", elements=6 * 32), linear(6, 32, 16), memory("add", elements=96, residual=True),
             memory("layernorm", rows=6, cols=16)]
    head = [linear(1, 16, 16), linear(1, 16, 3), memory("cross_entropy", rows=1, cols=3)]
    check("bert layers", layers, embeddings + block + block + head)
    check("bert tokens_per_sample", net["tokens_per_sample"], 6)
    check("bert optimizer", net["optimizer"], "adamw")
    check("bert other_parameters (all in layers)", net["other_parameters"], 0)
    check("bert reports the pooler's tanh", "unmapped: tanh" in log, True)


def check_trainrate_reads(trainrate, net):
    """predict reads the file (memory layers included) and counts the same parameters as torch; the tiny
    shapes are measured now."""
    with tempfile.TemporaryDirectory() as tmp:
        path, out = os.path.join(tmp, "net.json"), os.path.join(tmp, "prediction.json")
        with open(path, "w") as f:
            json.dump(net, f)
        results = os.path.join(REPO, "tests", "data", "results", "good.json")
        cmd = [trainrate, "predict", "--results", results, "--network-file", path, "--batch", "2", "--backend",
               "onednn", "--measure-missing", "--budget-ms", "5", "--threads", "1", "--json", out]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            failures.append(f"{' '.join(cmd)}: exit {result.returncode}: {result.stderr[-2000:]}")
            return
        with open(out) as f:
            prediction = json.load(f)
        check("trainrate's parameter count", prediction["parameters"], CNN_PARAMETERS)
        check("prediction has GEMM/conv time", prediction["compute_time_s"] > 0, True)
        check("prediction has memory-bound time (norms, pools, adds, loss, SGD step)", prediction["memory_time_s"] > 0, True)
        check("no pass without a rate", prediction["missing_passes"], 0)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    python = torch_python()
    if python is None:
        print("SKIP: no Python here imports torch (apt-get install python3-torch python3-torchvision)")
        return SKIP
    cnn = check_cnn(python)
    check_bert(python)
    check_trainrate_reads(sys.argv[1], cnn)
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    print("ok: tiny CNN and BERT exported with the hand-computed shapes; trainrate reads the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
