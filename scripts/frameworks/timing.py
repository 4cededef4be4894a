"""Shared by the per-framework step timers: command line and the JSON record they print."""
import argparse
import json
import statistics
import sys
import time

from precision import PRECISIONS


def parse_args(description, cuda=False):
    """`cuda`: whether the timer can run on a CUDA device, and so in the AMP precisions."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--network", required=True, choices=("resnet50", "bert-base"))
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--threads", type=int, help="CPU threads (default: the framework's own choice)")
    p.add_argument("--device", choices=("cpu", "cuda") if cuda else ("cpu",), default="cpu")
    p.add_argument("--precision", choices=tuple(PRECISIONS) if cuda else ("fp32",), default="fp32")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (graph building, allocator, caches)")
    p.add_argument("--steps", type=int, default=10)
    args = p.parse_args()
    if PRECISIONS[args.precision].needs_cuda and args.device != "cuda":
        p.error(f"--precision {args.precision} needs --device cuda")
    return args


def time_steps(step, warmup, steps, wait=lambda: None):
    """Seconds of each timed call of `step`; `wait` returns when all work queued so far is done (a GPU's
    queue: called before the clock starts and before it stops), and does nothing where work is synchronous."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        wait()
        start = time.perf_counter()
        step()
        wait()
        times.append(time.perf_counter() - start)
    return times


def emit(args, framework, version, times, extra):
    record = {"framework": framework, "version": version, "network": args.network, "batch": args.batch,
              "seq_len": args.seq_len if args.network == "bert-base" else None, "threads": args.threads,
              "device": args.device, "precision": args.precision, "warmup": args.warmup, "steps_s": times,
              "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), **extra}
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")
