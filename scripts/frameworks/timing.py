"""Shared by the per-framework step timers: command line and the JSON record they print."""
import argparse
import json
import statistics
import sys
import time


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--network", required=True, choices=("resnet50", "bert-base"))
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (graph building, allocator, caches)")
    p.add_argument("--steps", type=int, default=10)
    return p.parse_args()


def time_steps(step, warmup, steps):
    """Seconds of each timed call of `step` (which must return only when the step's work is done)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def emit(args, framework, version, times, extra):
    record = {"framework": framework, "version": version, "network": args.network, "batch": args.batch,
              "seq_len": args.seq_len if args.network == "bert-base" else None, "threads": args.threads,
              "warmup": args.warmup, "steps_s": times, "median_s": statistics.median(times),
              "min_s": min(times), "max_s": max(times), **extra}
    json.dump(record, sys.stdout)
    sys.stdout.write("\n")
