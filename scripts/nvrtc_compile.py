#!/usr/bin/env python3
"""Compile the device code of kernels/cuda/*.cu with NVRTC, for architectures nvcc may not target.

Used by scripts/check-sm70: CUDA 13's nvcc cannot build for Volta (sm_70), and PyPI has no CUDA 12
nvcc, but it has NVRTC 12.9 (nvidia-cuda-nvrtc-cu12), which still compiles for sm_70 and runs its
built-in ptxas, so we get real sm_70 PTX and CUBIN from C++ source without a GPU and without a
compiled host program (ctypes calls libnvrtc directly).

NVRTC compiles device code only. The files in kernels/cuda hide their host launchers from it with
`#ifndef __CUDACC_RTC__` and name the kernel template instantiations the launchers would make in a
`detail::RtcKernels<...>` alias instead (see kernels/cuda/common.cuh).

For each file and architecture this checks that
  * NVRTC compiles it to PTX (`.target sm_XX`) and CUBIN (an EM_CUDA ELF for sm_XX);
  * a file with `__global__` functions yields at least one kernel;
  * the tensor-core paths are the ones the architecture should get: a file using WMMA has fp16
    WMMA in its PTX on every architecture (so it compiles in on sm_70) and bf16 WMMA exactly on
    sm_80+, and the
    sm_80-only instructions (cp.async, ldmatrix, mma.sync m16n8k16) appear on sm_80+ in files that
    use them and never below sm_80 (their `__CUDA_ARCH__` guards compile them out);
  * with --nvcc, the set of kernels NVRTC compiled equals the set nvcc compiles for --nvcc-arch
    from the same file through its real launchers (so no RtcKernels list misses an instantiation).
Outputs (PTX, CUBIN, NVRTC log with ptxas -v) go to --out/<arch>/. Exit status 1 when any check fails.

  nvrtc_compile.py [--arch sm_70[,sm_75,...]] [--nvcc PATH] [--out DIR] FILE...
"""

import argparse
import ctypes
import functools
import os
import re
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def wheel_dir(component):
    """site-packages/nvidia/<component> of an installed nvidia-* wheel (e.g. cuda_nvrtc)."""
    import importlib

    module = importlib.import_module(f"nvidia.{component}")
    return Path(list(module.__path__)[0])


class Nvrtc:
    def __init__(self, library):
        self.lib = ctypes.CDLL(str(library))
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        self.version = f"{major.value}.{minor.value}"

    def _check(self, status, what):
        if status != 0:
            raise RuntimeError(f"{what}: {self.lib.nvrtcGetErrorString(status).decode()}")

    def _get(self, prog, name):
        size = ctypes.c_size_t()
        if getattr(self.lib, f"nvrtcGet{name}Size")(prog, ctypes.byref(size)) != 0 or size.value == 0:
            return b""
        buf = ctypes.create_string_buffer(size.value)
        self._check(getattr(self.lib, f"nvrtcGet{name}")(prog, buf), f"nvrtcGet{name}")
        return buf.raw[: size.value]

    def compile(self, source, name, options):
        """Returns (ok, log, ptx, cubin)."""
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), source, name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            opts = [o.encode() for o in options]
            status = self.lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
            log = self._get(prog, "ProgramLog").rstrip(b"\0").decode(errors="replace")
            if status != 0:
                return False, log, b"", b""
            return True, log, self._get(prog, "PTX").rstrip(b"\0"), self._get(prog, "CUBIN")
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


def entries(ptx):
    return re.findall(r"\.entry\s+(\S+?)\s*\(", ptx)


def demangle(names):
    """Readable signatures, comparable between compilers: c++filt hides the anonymous namespace's
    per-compiler hash, and int64_t is long for nvcc (glibc) but long long under NVRTC (libcu++)."""
    run = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, check=True)
    return {line.replace("long long", "long") for line in run.stdout.splitlines()}


def cubin_sm(cubin):
    """The SM an NVIDIA CUBIN (ELF64, e_machine EM_CUDA = 190) was built for, or None."""
    if len(cubin) < 64 or cubin[:4] != b"\x7fELF" or struct.unpack_from("<H", cubin, 18)[0] != 190:
        return None
    return struct.unpack_from("<I", cubin, 48)[0] & 0xFF  # EF_CUDA_SM (CUDA 12 ELF ABI)


@functools.lru_cache(maxsize=None)
def nvcc_entries(nvcc, source, arch):
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "x.ptx"
        cmd = [nvcc, "-std=c++20", "-O3", f"-arch={arch}", "-ptx", f"-I{REPO}", f"-I{REPO / 'src'}", str(source),
               "-o", str(out)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{run.stderr}")
        return entries(out.read_text())


def check_file(nvrtc, path, arch, include_dirs, out_dir, nvcc, nvcc_arch):
    """Returns (ok, summary, details)."""
    sm = int(arch.removeprefix("sm_"))
    rel = os.path.relpath(path, REPO)
    source = path.read_bytes()
    text = source.decode()
    # 177 (declared but never referenced): the launchers that reference the kernels are hidden.
    options = [f"--gpu-architecture={arch}", "-std=c++20", "--ptxas-options=-v", "--diag-suppress=177"] + [f"-I{d}" for d in include_dirs]
    ok, log, ptx_bytes, cubin = nvrtc.compile(source, rel, options)
    stem = out_dir / path.stem
    out_dir.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".log").write_text(log)
    if not ok:
        return False, "NVRTC failed", log
    stem.with_suffix(".ptx").write_bytes(ptx_bytes)
    stem.with_suffix(".cubin").write_bytes(cubin)
    ptx = ptx_bytes.decode()
    problems = []
    if not re.search(rf"^\.target\s+sm_{sm}\b", ptx, re.M):
        problems.append(f"PTX does not target sm_{sm}")
    if cubin_sm(cubin) != sm:
        problems.append(f"CUBIN is not an sm_{sm} ELF (got {cubin_sm(cubin)})")
    kernels = entries(ptx)
    # A __global__ outside comments (the file may mention the word in prose).
    code = re.sub(r"//[^\n]*", "", text)
    if "__global__" in code and not kernels:
        problems.append("has __global__ functions but NVRTC compiled no kernel (missing RtcKernels?)")
    features = []
    if "wmma::mma_sync" in code:
        # Fragment types as loaded: fp16 must be there on every architecture, bf16 exactly on sm_80+.
        types = set(re.findall(r"wmma\.load\.[ab]\.sync\.aligned\.\w+\.m16n16k16\.(?:\w+\.)?(f16|bf16)\b", ptx))
        if "wmma.mma.sync" not in ptx or "f16" not in types:
            problems.append("uses WMMA but its PTX has no fp16 wmma.mma.sync (tensor-core path compiled out)")
        elif sm < 80 and "bf16" in types:
            problems.append(f"bf16 WMMA in sm_{sm} PTX (needs sm_80; its __CUDA_ARCH__ guard is missing)")
        elif sm >= 80 and "__nv_bfloat16" in code and "bf16" not in types:
            problems.append(f"bf16 WMMA missing from sm_{sm} PTX")
        else:
            features.append("wmma " + "+".join(sorted(types, key=len)))
    # Instruction in the PTX → its label and the kernels/cuda/ptx.cuh wrapper a file calls it through.
    sm80_only = {"cp.async": ("cp.async", "ptx::cp_async_16"), "ldmatrix": ("ldmatrix", "ptx::ldmatrix_x4"),
                 "mma.sync.aligned.m16n8k16": ("mma m16n8k16", "ptx::mma_m16n8k16")}
    for needle, (label, wrapper) in sm80_only.items():
        in_source, in_ptx = needle in code or wrapper in code, needle in ptx
        if sm < 80 and in_ptx:
            problems.append(f"{label} in sm_{sm} PTX (needs sm_80; its __CUDA_ARCH__ guard is missing)")
        elif sm >= 80 and in_source:
            if in_ptx:
                features.append(label)
            else:
                problems.append(f"{label} missing from sm_{sm} PTX")
    if nvcc and "__global__" in code:
        theirs, ours = demangle(nvcc_entries(nvcc, path, nvcc_arch)), demangle(kernels)
        if theirs != ours:
            missing, extra = sorted(theirs - ours), sorted(ours - theirs)
            problems.append(f"kernel set differs from nvcc {nvcc_arch}: missing {missing}, extra {extra}")
    regs = [int(r) for r in re.findall(r"Used (\d+) registers", log)]
    spills = sum(int(s) for s in re.findall(r"(\d+) bytes spill stores", log))
    summary = f"{len(kernels)} kernel{'s' if len(kernels) != 1 else ''}"
    if regs:
        summary += f", max {max(regs)} regs"
    if spills:
        summary += f", {spills} B spilled"
    if features:
        summary += ", " + ", ".join(features)
    warnings = "\n".join(line for line in log.splitlines()
                         if ("warning" in line or "error" in line) and "Architectures prior to" not in line)
    return not problems, summary if not problems else "; ".join(problems), warnings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--arch", default="sm_70", help="comma-separated real architectures (default sm_70)")
    parser.add_argument("--out", type=Path, default=REPO / "build" / "check-sm70")
    parser.add_argument("--nvcc", help="also compare kernel sets with this nvcc (e.g. CUDA 13's); needs c++filt")
    parser.add_argument("--nvcc-arch", default="sm_75", help="architecture for the --nvcc comparison")
    args = parser.parse_args()

    nvrtc_dir = wheel_dir("cuda_nvrtc")
    nvrtc = Nvrtc(nvrtc_dir / "lib" / "libnvrtc.so.12")
    # Header search: the repository root (for "kernels/cuda/..."), then the wheels' CUDA headers:
    # runtime (cuda_fp16.h, mma.h, ...), nvcc (crt/mma.h and friends), CCCL (cuda/std/...).
    include_dirs = [REPO, REPO / "kernels" / "cuda"] + [wheel_dir(c) / "include"
                                                       for c in ("cuda_runtime", "cuda_nvcc", "cuda_cccl")]
    print(f"nvrtc_compile: NVRTC {nvrtc.version} ({nvrtc_dir / 'lib'})")
    failures = 0
    for arch in args.arch.split(","):
        for path in sorted(f.resolve() for f in args.files):
            try:
                ok, summary, details = check_file(nvrtc, path, arch, include_dirs, args.out / arch, args.nvcc,
                                                  args.nvcc_arch)
            except RuntimeError as error:
                ok, summary, details = False, "error", str(error)
            rel = os.path.relpath(path, REPO)
            print(f"  {'ok  ' if ok else 'FAIL'}  {arch}  {rel:<36} {summary}", flush=True)
            if details:
                lines = details.splitlines()
                if len(lines) > 30:  # the whole log is in --out/<arch>/<file>.log
                    lines = lines[:30] + [f"... {len(lines) - 30} more lines in {args.out / arch / path.stem}.log"]
                print("\n".join("        " + line for line in lines), file=sys.stderr if not ok else sys.stdout)
            failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
