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


def loaded_openblas():
    """The OpenBLAS this process has loaded (a framework's BLAS: Debian's PyTorch calls it for matmuls),
    as a ctypes library, or None."""
    import ctypes
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.split()[-1]})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_set_num_threads  # raises AttributeError where the symbol is absent
            return lib
        except (OSError, AttributeError):
            continue
    return None


def cap_blas_threads(threads):
    """OpenBLAS keeps its own thread pool, sized to every core whatever the framework was told: a
    framework run at 1 thread would multiply on 2. Caps it at `threads` and says what was found."""
    lib = loaded_openblas()
    if lib is None:
        return {"blas": None}
    import ctypes
    lib.openblas_get_config.restype = ctypes.c_char_p
    found = lib.openblas_get_num_threads()
    if threads:
        lib.openblas_set_num_threads(threads)
    return {"blas": lib.openblas_get_config().decode(), "blas_threads_default": found,
            "blas_threads": lib.openblas_get_num_threads()}


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
