#!/usr/bin/env python3
"""scripts/framework-check's GPU form where no GPU is needed: the refusal where PyTorch sees no CUDA
device (exit 3, one line, nothing measured), the argument checks, and what each precision asks of
trainrate (dtype, backends) and of the step timer (device, autocast dtype, loss scaling).

Usage: check_framework_check.py
Exit 0 on success, 1 on a mismatch, 77 (skipped) when no Python here can import torch
(Debian: apt-get install python3-torch python3-torchvision). CUDA_VISIBLE_DEVICES is emptied for the
refusal, so it holds on a GPU machine too.
"""
import contextlib
import importlib.machinery
import importlib.util
import io
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(REPO, "scripts", "framework-check")
sys.path.insert(0, os.path.join(REPO, "scripts", "frameworks"))
import timing  # noqa: E402
from precision import PRECISIONS  # noqa: E402

SKIP = 77
NO_CUDA_DEVICE = 3
failures = []


def check(what, got, want):
    if got != want:
        failures.append(f"{what}: got {got!r}, want {want!r}")


def torch_python():
    for python in (sys.executable, "/usr/bin/python3"):
        imports = os.path.exists(python) and subprocess.run([python, "-c", "import torch"], capture_output=True)
        if imports and imports.returncode == 0:
            return python
    return None


def framework_check(python, *args):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run([python, SCRIPT, *args], capture_output=True, text=True, env=env)


def check_refusal(python):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out")
        result = framework_check(python, "--device", "cuda", "--out", out)
        check("no CUDA device: exit status", result.returncode, NO_CUDA_DEVICE)
        errors = [line for line in result.stderr.splitlines() if "error" in line]
        check("no CUDA device: error lines", len(errors), 1)
        check("no CUDA device: the line says so", bool(errors) and errors[0].startswith(
            "framework-check: error: --device cuda: PyTorch ") and "sees no CUDA device" in errors[0], True)
        check("TensorFlow left out, said once", result.stderr.count("TensorFlow is not installed on the GPU node"), 1)
        check("nothing measured or written", os.path.exists(out), False)


def check_bad_arguments(python):
    cases = [(["--precision", "amp-fp16"], "--precision amp-fp16 needs --device cuda"),
             (["--device", "cuda", "--threads", "2"], "--threads is for --device cpu"),
             (["--device", "cuda", "--frameworks", "tensorflow"], "--device cuda times pytorch only"),
             (["--device", "cuda", "--precision", "amp-fp8"], "amp-fp8: not one of fp32, amp-fp16, amp-bf16"),
             (["--device", "cuda", "--budget-ms", "0"], "--budget-ms must be > 0")]
    for args, message in cases:
        result = framework_check(python, *args)
        check(f"{' '.join(args)}: exit status", result.returncode, 2)
        last = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
        check(f"{' '.join(args)}: message", message in last, True)
    timer = subprocess.run([python, os.path.join(REPO, "scripts", "frameworks", "time_torch.py"), "--network",
                            "resnet50", "--batch", "2", "--precision", "amp-bf16"], capture_output=True, text=True)
    check("time_torch.py --precision amp-bf16 on the CPU: exit status", timer.returncode, 2)
    check("time_torch.py --precision amp-bf16 on the CPU: message",
          "--precision amp-bf16 needs --device cuda" in timer.stderr, True)


def load_framework_check():
    loader = importlib.machinery.SourceFileLoader("framework_check", SCRIPT)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


def value_after(cmd, flag):
    return cmd[cmd.index(flag) + 1] if flag in cmd else None


def check_commands():
    """What each precision asks of trainrate and of the timer, on the GPU and (fp32) on the CPU."""
    fc = load_framework_check()
    gpu = fc.parse_args(["--device", "cuda", "--precision", "fp32,amp-fp16,amp-bf16", "--budget-ms", "30"])
    check("GPU backends, cuDNN first (predicted from)", gpu.backends, ["cudnn", "cublas", "custom-cuda"])
    check("GPU batches", (fc.DEFAULT_BATCH["cuda"]["resnet50"], fc.DEFAULT_BATCH["cuda"]["bert-base"]), (32, 32))
    for precision, dtype in (("fp32", "fp32"), ("amp-fp16", "fp16"), ("amp-bf16", "bf16")):
        rates = fc.rates_command("T", "bert-base", 32, 128, None, precision, gpu, "r.json")
        check(f"{precision}: run --dtype", value_after(rates, "--dtype"), dtype)
        check(f"{precision}: run --backends", value_after(rates, "--backends"), "cudnn,cublas,custom-cuda")
        check(f"{precision}: run --budget-ms", value_after(rates, "--budget-ms"), "30.0")
        check(f"{precision}: run has no --threads on the GPU", "--threads" in rates, False)
        predicted = fc.predict_command("T", "r.json", ["--network", "bert-base"], 32, 128, None, precision, "torch",
                                       fc.predicted_from({}, gpu), gpu, "p.json")
        check(f"{precision}: predict --dtype", value_after(predicted, "--dtype"), dtype)
        check(f"{precision}: predict --optimizer-form", value_after(predicted, "--optimizer-form"), "torch")
        check(f"{precision}: predict --backend", value_after(predicted, "--backend"), "cudnn")
        check(f"{precision}: predict has no --threads on the GPU", "--threads" in predicted, False)
        timer = fc.timer_command("py", "pytorch", "bert-base", 32, 128, None, precision, gpu)
        check(f"{precision}: timer --device", value_after(timer, "--device"), "cuda")
        check(f"{precision}: timer --precision", value_after(timer, "--precision"), precision)
    cpu = fc.parse_args([])
    rates = fc.rates_command("T", "resnet50", 4, 128, 2, "fp32", cpu, "r.json")
    check("CPU: run --threads, --dtype, --backends",
          [value_after(rates, flag) for flag in ("--threads", "--dtype", "--backends")],
          ["2", "fp32", "onednn,onednn-plain,custom-cpu,openblas"])
    check("CPU: frameworks", cpu.frameworks, ["pytorch", "tensorflow"])
    # Predicted from the library the framework's matmuls ran on, as its timer found it.
    openblas = {"blas": "OpenBLAS 0.3.21 DYNAMIC_ARCH", "blas_threads": 1}
    check("CPU: a step on OpenBLAS is predicted from openblas", fc.predicted_from(openblas, cpu), "openblas")
    check("CPU: a step on no BLAS is predicted from the first backend", fc.predicted_from({"blas": None}, cpu), "onednn")
    no_openblas = fc.parse_args(["--backends", "onednn,custom-cpu"])
    check("CPU: OpenBLAS not measured: the first backend", fc.predicted_from(openblas, no_openblas), "onednn")


FAKE_TIMER = """#!/bin/sh
echo '{"version": "2.11.0+cu130", "gpu": "NVIDIA H100", "tf32_allowed_by_default": {"matmul": false, "cudnn": true}, \
"tf32_allowed": {"matmul": false, "cudnn": false}, "cudnn_benchmark": true, "median_s": 0.1}'
"""


def executable(folder, name, script):
    """A shell script at folder/name, executable: the stand-ins for the timer and for trainrate."""
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, 0o755)
    return path


def check_tf32_said():
    """On the GPU, the timer's TF32 settings (PyTorch's defaults and what was set) are said in the output."""
    fc = load_framework_check()
    args = fc.parse_args(["--device", "cuda"])
    with tempfile.TemporaryDirectory() as tmp:
        timer = executable(tmp, "timer", FAKE_TIMER)
        said = io.StringIO()
        with contextlib.redirect_stderr(said):
            fc.time_framework(timer, "pytorch", "resnet50", 32, 128, None, "fp32", args)
    check("TF32 line", said.getvalue().splitlines()[-1],
          "framework-check: PyTorch 2.11.0+cu130 on NVIDIA H100: TF32 for fp32 matmuls off and cuDNN convolutions on "
          "by default; set off and off here, so fp32 is fp32; cudnn.benchmark on")


# A `trainrate run` that writes --output (complete or not, with one FAILED row) and exits with $EXIT.
FAKE_RUN = """#!/bin/sh
while [ "$1" != --output ]; do shift; done
[ -z "$WRITE" ] || echo "$WRITE" > "$2"
exit $EXIT
"""
FAILED_ROW = ('{"complete": %s, "results": [{"name": "conv fwd", "backend": "cudnn", "status": "ok"}, '
              '{"name": "gemm 8x8x8", "backend": "custom-cuda", "status": "FAILED"}]}')


def check_failed_rows_tolerated():
    """A rates file with FAILED rows (exit 1) is warned about and used; exit 1 without a complete file stops."""
    fc = load_framework_check()
    args = fc.parse_args(["--device", "cuda"])
    with tempfile.TemporaryDirectory() as tmp:
        fake = executable(tmp, "trainrate", FAKE_RUN)
        for complete in ("true", "false"):
            os.environ.update(WRITE=FAILED_ROW % complete, EXIT="1")
            out = os.path.join(tmp, complete)
            os.makedirs(out)
            said, status = io.StringIO(), 0
            with contextlib.redirect_stderr(said):
                try:
                    fc.measure_rates(fake, "bert-base", 32, 128, None, "fp32", args, out)
                except SystemExit as stop:
                    status = stop.code
            if complete == "true":
                check("complete file with a FAILED row: goes on", status, 0)
                check("complete file with a FAILED row: warned", "1 rows FAILED or INVALID (gemm 8x8x8 on custom-cuda)"
                      in said.getvalue(), True)
            else:
                check("exit 1 without a complete file: stops", status, 2)
        del os.environ["WRITE"], os.environ["EXIT"]


def check_precisions(python):
    """The timer's autocast dtype is the dtype trainrate measures; only fp16 scales the loss."""
    probe = ("import torch, sys; sys.path.insert(0, sys.argv[1]); from precision import PRECISIONS; "
             "print({p.name: str(getattr(torch, p.autocast_dtype)) for p in PRECISIONS.values() if p.autocast_dtype})")
    result = subprocess.run([python, "-c", probe, os.path.join(REPO, "scripts", "frameworks")], capture_output=True,
                            text=True)
    check("autocast dtypes", result.stdout.strip(), str({"amp-fp16": "torch.float16", "amp-bf16": "torch.bfloat16"}))
    check("loss scaling", {p.name: p.grad_scaler for p in PRECISIONS.values()},
          {"fp32": False, "amp-fp16": True, "amp-bf16": False})
    check("AMP needs CUDA", {p.name: p.needs_cuda for p in PRECISIONS.values()},
          {"fp32": False, "amp-fp16": True, "amp-bf16": True})


# The timer's step on a one-layer model, on the CPU (whose autocast takes bf16): the layer's output
# dtype inside the step and whether the optimizer moved the weights.
STEP_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import torch
import time_torch
from precision import PRECISIONS
seen = {}
for name in ("fp32", "amp-bf16"):
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    model.register_forward_hook(lambda module, inputs, out: seen.__setitem__(name, str(out.dtype)))
    before = model.weight.detach().clone()
    step = time_torch.make_step(model, torch.optim.SGD(model.parameters(), lr=0.1), (torch.randn(2, 8),),
                                torch.tensor([0, 3]), PRECISIONS[name], "cpu")
    step()
    seen[name + " updated"] = not torch.equal(before, model.weight.detach())
print(seen)
"""


def check_step_autocast(python):
    """The step runs its forward under autocast at the precision's dtype (bf16 here; fp16 with GradScaler
    needs CUDA), fp32 without it, and takes an optimizer step either way."""
    result = subprocess.run([python, "-c", STEP_PROBE, os.path.join(REPO, "scripts", "frameworks")],
                            capture_output=True, text=True)
    check("step: output dtypes and updates", result.stdout.strip() or result.stderr[-500:],
          str({"fp32": "torch.float32", "fp32 updated": True, "amp-bf16": "torch.bfloat16", "amp-bf16 updated": True}))


def check_timing_waits():
    """Each timed step lies between two waits for the device, so queued GPU work is inside the clock."""
    events = []
    timing.time_steps(lambda: events.append("step"), 1, 2, lambda: events.append("wait"))
    check("warm-up then wait, step, wait per timed step", events, ["step"] + ["wait", "step", "wait"] * 2)


def main():
    python = torch_python()
    if python is None:
        print("SKIP: no Python here imports torch (apt-get install python3-torch python3-torchvision)")
        return SKIP
    check_refusal(python)
    check_bad_arguments(python)
    check_commands()
    check_precisions(python)
    check_step_autocast(python)
    check_timing_waits()
    check_tf32_said()
    check_failed_rows_tolerated()
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    print("ok: --device cuda refuses with exit 3 where PyTorch sees no GPU; arguments, precisions, the step "
          "and its waits as stated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
