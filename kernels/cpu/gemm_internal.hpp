// Pieces of the packed GEMM shared between its files: micro-kernel signatures and tile shapes,
// the packing routines, and the cache blocking. Not part of the public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/gemm.hpp"

namespace trainrate::kernels::cpu::detail {

// A micro-kernel computes one tile of C and nothing else:
//   C[0:rows, 0:cols] = alpha · Σ_p a_panel[p·MR + i] · b_panel[p·NR + j] + beta · C
// from packed panels (A: MR floats per k step, B: NR floats per k step, zero-padded at the edges
// of the matrices), C column-major with leading dimension ldc. rows ≤ MR and cols ≤ NR: a partial
// tile at the bottom or right edge of C must not touch C outside [0, rows) × [0, cols), and
// beta == 0 must not read C.
using MicroKernelFn = void (*)(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                               float alpha, float beta, int rows, int cols);

// For micro-kernels without partial-tile code: they compute the full tile into `tile`
// (column-major, leading dimension mr, alpha applied) and add its rows×cols corner to C here.
inline void store_tile_corner(const float* tile, int mr, int rows, int cols, float beta, float* c, int64_t ldc) {
  for (int j = 0; j < cols; ++j) {
    float* cj = c + j * ldc;
    const float* tj = tile + j * mr;
    if (beta == 0.0f) {
      for (int i = 0; i < rows; ++i) cj[i] = tj[i];
    } else {
      for (int i = 0; i < rows; ++i) cj[i] = tj[i] + beta * cj[i];
    }
  }
}

// Portable plain-C++ kernel, the fallback every CPU runs: 8 rows (two SSE vectors) × 6 columns.
inline constexpr int portable_mr = 8, portable_nr = 6;
void microkernel_portable_8x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols);

// AVX2+FMA: 16 rows (two ymm) × 6 columns = 12 ymm accumulators, 2 for A, 1 broadcast of B.
// Rows rather than columns are vectorised because C is column-major: each column of the tile is
// two contiguous ymm stores.
inline constexpr int avx2_mr = 16, avx2_nr = 6;
void microkernel_avx2_16x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                           float alpha, float beta, int rows, int cols);

// AVX-512F: 48 rows (three zmm) × 8 columns = 24 zmm accumulators, 3 for A, 1 broadcast of B.
inline constexpr int avx512_mr = 48, avx512_nr = 8;
void microkernel_avx512_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols);

// AVX512-BF16: the 48×8 AVX-512 tile over bf16 pair units (gemm_pack_bf16.cpp's pair layout for
// both operands), VDPBF16PS for the FMA.
void microkernel_avx512_bf16_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                                  float alpha, float beta, int rows, int cols);

// Whether this CPU (and OS) can run the family: what available_micro_kernels lists, asked for one.
bool cpu_supports(MicroKernel id);

// The vector families' ceiling loops (peak_loop), each compiled in its micro-kernel's file.
double avx2_peak_loop(int64_t iterations);
double avx512_peak_loop(int64_t iterations);
double avx512_bf16_peak_loop(int64_t iterations);

// AMX-BF16: 32 rows × 32 columns as four 16×16 tiles. Its panels hold 32-bit units of two bf16
// (gemm_pack_bf16.cpp) and it consumes k in chunks of amx_k_step units (32 k), so every KC block
// and every depth split of its GEMMs is a multiple of that. amx_begin loads the tile configuration
// in the calling thread and amx_end releases the tiles; the loops call them around the kernel's
// calls. amx_bf16_usable checks the CPU and the OS, and asks Linux for the tile state once.
inline constexpr int amx_mr = 32, amx_nr = 32, amx_k_step = 16;
void microkernel_amx_32x32(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                           float alpha, float beta, int rows, int cols);
void amx_begin();
void amx_end();
bool amx_bf16_usable();
double amx_peak_loop(int64_t iterations);  // its ceiling loop (see peak_loop)

// Packing. `a` points at op(A)(0, 0) of the block, `b` at op(B)(0, 0); both routines zero-pad the
// last sliver to a full MR (NR), so micro-kernels always read whole slivers. All four transposes
// are absorbed here: after packing, the loops and micro-kernels never look at Op again.
//   pack_a: op(A) block mc×kc → ⌈mc/mr⌉ slivers, each kc steps of mr contiguous floats.
//   pack_b: op(B) block kc×nc → ⌈nc/nr⌉ slivers, each kc steps of nr contiguous floats.
void pack_a(Op op, const float* a, int64_t lda, int64_t mc, int64_t kc, int mr, float* dst);
void pack_b(Op op, const float* b, int64_t ldb, int64_t kc, int64_t nc, int nr, float* dst);

#if defined(__SSE2__)
// Four lanes × four k steps of a sliver whose lanes are runs along k in the source (starting at
// r0..r3): four loads along k, one 4×4 register transpose, four stores of four lanes each, the
// k steps `width` floats apart in the sliver.
inline void transpose_4x4(const float* r0, const float* r1, const float* r2, const float* r3, float* dst,
                          int64_t width) {
  __m128 a = _mm_loadu_ps(r0), b = _mm_loadu_ps(r1), c = _mm_loadu_ps(r2), d = _mm_loadu_ps(r3);
  _MM_TRANSPOSE4_PS(a, b, c, d);
  _mm_storeu_ps(dst, a);
  _mm_storeu_ps(dst + width, b);
  _mm_storeu_ps(dst + 2 * width, c);
  _mm_storeu_ps(dst + 3 * width, d);
}
#endif

// Lanes [0, lanes) of a sliver of `width`, lane l being the contiguous run of `steps` floats
// from run_start(l), written across the lanes (step t of lane l at sliver[t·width + l]): four
// lanes × four steps per SSE transpose where SSE is there, the rest one float at a time. Lanes
// from `lanes` to `width` are not written.
template <class RunStart>
void pack_lane_runs(RunStart run_start, int64_t lanes, int64_t steps, int width, float* sliver) {
  int64_t l = 0;
#if defined(__SSE2__)
  for (; l + 4 <= lanes; l += 4) {
    const float* r0 = run_start(l);
    const float* r1 = run_start(l + 1);
    const float* r2 = run_start(l + 2);
    const float* r3 = run_start(l + 3);
    int64_t t = 0;
    for (; t + 4 <= steps; t += 4) transpose_4x4(r0 + t, r1 + t, r2 + t, r3 + t, sliver + t * width + l, width);
    for (; t < steps; ++t) {
      float* out = sliver + t * width + l;
      out[0] = r0[t], out[1] = r1[t], out[2] = r2[t], out[3] = r3[t];
    }
  }
#endif
  for (; l < lanes; ++l) {
    const float* run = run_start(l);
    for (int64_t t = 0; t < steps; ++t) sliver[t * width + l] = run[t];
  }
}

// Pointer to op(X)(row, col) of a column-major X stored with leading dimension ld.
inline const float* op_element(Op op, const float* x, int64_t ld, int64_t row, int64_t col) {
  return op == Op::N ? x + row + col * ld : x + col + row * ld;
}

// An operand the GEMM packs through a callback instead of reading a stored matrix, so that
// convolutions can pack im2col patches straight into the panel format (implicit GEMM) and never
// build a column matrix. `pack` writes lanes [first, first + extent) (rows of op(A), columns of
// op(B)) for k steps [pc, pc + kc) as ⌈extent/width⌉ zero-padded slivers, exactly as pack_a/pack_b
// do. Threads call it concurrently on disjoint lane ranges, so it must not mutate state.
struct PackedPanels;
struct PackSource {
  void (*pack)(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width, float* dst);
  const void* context;
  // The same operand already packed (pack_panels); used instead of packing when its layout matches
  // this GEMM's blocking, else ignored. A window into it (a thread's slice of the lanes) starts
  // `packed_first_lane` lanes in, a multiple of the panels' width.
  const PackedPanels* packed = nullptr;
  int64_t packed_first_lane = 0;
};

// An operand packed once, ahead of the GEMMs that read it, in exactly the order sgemm's loops
// consume it: for each KC block of its `depth` k steps, all `lanes` as zero-padded slivers of
// `width`. Worth it for operands reused across calls, such as a convolution's filters.
struct PackedPanels {
  PackedPanels() = default;
  PackedPanels(PackedPanels&&) = default;  // moving keeps the buffer, so alignment holds
  PackedPanels(const PackedPanels&) = delete;

  int64_t lanes = 0, depth = 0, kc = 0;
  int width = 0;
  // Over-allocated so the panels can start 64-byte aligned: the micro-kernels load A aligned.
  std::vector<float> storage;
  int64_t offset = 0;
  float* data() { return storage.data() + offset; }
  // The slivers from lane `first` (a multiple of width) for the KC block starting at step pc.
  const float* at(int64_t pc, int64_t first) const {
    const int64_t padded_lanes = (lanes + width - 1) / width * width;
    return storage.data() + offset + pc * padded_lanes + first * std::min(kc, depth - pc);
  }
};
// Packs `lanes` × `depth` of `source` as op(A) (as_a, lanes are rows) or op(B) for the blocking
// sgemm_sources would use with this micro-kernel.
PackedPanels pack_panels(const PackSource& source, int64_t lanes, int64_t depth, bool as_a, MicroKernel variant);

// C = alpha · op(A) · op(B) + beta · C with both operands packed by callbacks (op(A) m×k, op(B)
// k×n); same blocking, threading and micro-kernels as sgemm, which is this over matrix sources.
// gemm_bf16 is this too, with k counted in the units of its bf16 sources and options.micro_kernel
// set to the bf16 kernel (unforced, this picks best_micro_kernel(), an fp32 one).
void sgemm_sources(int64_t m, int64_t n, int64_t k, float alpha, const PackSource& a, const PackSource& b, float beta,
                   float* c, int64_t ldc, const GemmOptions& options);

// The source that packs a stored column-major matrix X (op(X) as in BLAS).
struct MatrixOperand {
  Op op;
  const float* x;
  int64_t ld;
};
PackSource matrix_a_source(const MatrixOperand& a);  // op(A), lanes are rows
PackSource matrix_b_source(const MatrixOperand& b);  // op(B), lanes are columns

// A stored column-major bf16 matrix as the bf16 GEMM's operand: op(X) as in BLAS, `depth` the
// GEMM's k (packing zero-fills past it). Its sources pack in 32-bit units of k pairs, so their
// pc and kc count pairs.
struct Bf16Operand {
  Op op;
  const bf16_bits* x;
  int64_t ld;
  int64_t depth;
};
// op(A) into pair slivers, op(B) into chunked slivers (the AMX layouts, gemm_pack_bf16.cpp). The
// AVX512-BF16 kernel packs op(B) into pair slivers too, as the op(A) that op(B)ᵀ is.
void pack_a_bf16_pairs(const Bf16Operand& a, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                       float* dst);
void pack_b_bf16_chunks(const Bf16Operand& b, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                        float* dst);

// Cache blocking: MC rows of A and KC steps form the L2-resident packed A block, KC×NC the
// L3-resident packed B panel, KC×NR the L1-resident B sliver.
struct Blocking {
  int64_t mc = 0, kc = 0, nc = 0;
};
// The size in bytes of this CPU's level 1 (data), 2 or 3 cache: Linux's sysfs, else sysconf, else
// fallback. sysfs first: glibc derives the L3 from CPUID, which a hypervisor may fill oddly
// (docs/results/cpu-2026-12-07-memory-bound.md).
int64_t cache_size(int level, int64_t fallback);
// Sizes derived from this CPU's caches (sysconf, with fallbacks) for a kernel's MR×NR and a GEMM
// of depth k (KC already balanced over k).
// k_step: the kernel's k granularity (amx_k_step for AMX, 1 for the fp32 kernels).
Blocking blocking_for_depth(int mr, int nr, int64_t k, int k_step = 1);
// The KC a GEMM of depth k runs with: the fewest steps kc_max allows, of nearly equal size (a
// multiple of 8 floats, so NR=6 B slivers stay 64-byte aligned, and of k_step). Splitting
// k = 576 as 272 + 272 + 32 would pay the C tile's load and store for only 32 FMAs per element
// in the last step.
int64_t balanced_kc(int64_t kc_max, int64_t k, int k_step = 1);
// Tuning hook for benchmarks: a non-zero field overrides the derived value. Not thread-safe
// against concurrent sgemm calls; set it before timing.
void set_blocking_override(const Blocking& blocking);

}  // namespace trainrate::kernels::cpu::detail
