#!/usr/bin/env python3
"""Rewrites kernels/cuda (every .cu, .cuh and .hpp) into C++ that g++ compiles against cuda_emulation.hpp.

Only the two constructs no header can redefine are rewritten; everything else (qualifiers,
intrinsics, the PTX wrappers of kernels/cuda/ptx.cuh, WMMA) is the emulation header's job:
  * a launch `kernel<<<grid, block, smem, stream>>>(args)` becomes
    `kernel | ::cuda_host::LaunchConfig(grid, block, smem, stream) | ::cuda_host::KernelArgs(args)`;
  * a `__shared__ T name[dims];` becomes a reference into the block's shared-memory arena,
    `auto& name = ::cuda_host::shared<T[dims]>(align)`, and `extern __shared__ T name[];` a pointer
    to the launch's dynamic shared memory (a macro cannot give every block its own array).
Files keep their names (a .cu becomes a .cpp) under OUT_DIR/kernels/cuda, which goes first on the
include path; a `#line 1` directive keeps compiler messages pointing at the original file.

  hostify.py KERNELS_CUDA_DIR OUT_DIR
"""
import re
import sys
from pathlib import Path

ALIGN = r"(?:__align__\((\d+)\)\s+)?"
TYPE = r"([A-Za-z_][\w:]*)"
STATIC_SHARED = re.compile(r"__shared__\s+" + ALIGN + TYPE + r"\s+(\w+)\s*((?:\[[^\];]+\])+)\s*;")
EXTERN_SHARED = re.compile(r"extern\s+__shared__\s+" + ALIGN + TYPE + r"\s+(\w+)\s*\[\s*\]\s*;")


def hostify(text):
    text = EXTERN_SHARED.sub(lambda m: f"{m[2]}* {m[3]} = ::cuda_host::dynamic_shared<{m[2]}>({m[1] or 0});", text)
    text = STATIC_SHARED.sub(lambda m: f"auto& {m[3]} = ::cuda_host::shared<{m[2]}{m[4]}>({m[1] or 0});", text)
    text = text.replace("<<<", " | ::cuda_host::LaunchConfig(")
    text = re.sub(r">>>\s*\(", ") | ::cuda_host::KernelArgs(", text)
    leftover = [w for w in ("__shared__", "<<<", ">>>") if w in re.sub(r"//[^\n]*", "", text)]
    if leftover:
        raise SystemExit(f"hostify.py: cannot rewrite every {', '.join(leftover)} (an unusual declaration form?)")
    return text


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: hostify.py KERNELS_CUDA_DIR OUT_DIR")
    source_dir, out_dir = Path(sys.argv[1]), Path(sys.argv[2]) / "kernels" / "cuda"
    out_dir.mkdir(parents=True, exist_ok=True)
    for source in sorted(source_dir.iterdir()):
        if source.suffix not in (".cu", ".cuh", ".hpp"):
            continue
        target = out_dir / (source.stem + ".cpp" if source.suffix == ".cu" else source.name)
        text = f'#line 1 "{source}"\n' + hostify(source.read_text(encoding="utf-8"))
        if not target.exists() or target.read_text(encoding="utf-8") != text:  # unchanged files keep their mtime
            target.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
