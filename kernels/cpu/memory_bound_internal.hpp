// Pieces shared by the memory-bound kernels' files: when to use the team, and the compute-heavy
// row and chunk loops compiled once per vector family. Not part of the public API.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>

#include "kernels/cpu/gemm.hpp"

namespace trainrate::kernels::cpu::detail {

// Below this many elements a kernel stays on the calling thread: waking the team costs a few
// microseconds, about as long as streaming these 128 KiB.
inline constexpr int64_t parallel_min_elements = int64_t(1) << 15;

// The loops whose arithmetic would otherwise outlast the memory traffic at SSE2 width: exp, erf,
// square root and division per element, several passes over a row held in cache, or a plain add
// of operands in L2. One table per vector family, each compiled with that family's -m flags
// (memory_bound_loops*.cpp); all work on contiguous data on the calling thread.
struct MemoryBoundLoops {
  // y = a + b, n elements (a bias-add row with b the bias), and y = max(x, 0). At SSE2 width their
  // instructions, not L2, set the pace on tensors that fit there.
  void (*add)(const float* a, const float* b, float* y, int64_t n);
  void (*relu_forward)(const float* x, float* y, int64_t n);
  // y = x·Φ(x); dx = dy·(Φ(x) + x·φ(x)). n elements.
  void (*gelu_forward)(const float* x, float* y, int64_t n);
  void (*gelu_backward)(const float* x, const float* dy, float* dx, int64_t n);
  // One row: y[j] = out_scale·softmax(scale·x[0:valid])[j] for j < valid, and 0 for valid ≤ j < cols.
  void (*softmax_row)(const float* x, float* y, int64_t cols, int64_t valid, float scale, float out_scale);
  // One row of softmax's backward: dx[j] = scale·y[j]·(dy[j] − Σ_k dy[k]·y[k]).
  void (*softmax_row_backward)(const float* y, const float* dy, float* dx, int64_t cols, float scale);
  // log Σ_j e^{x[j]} of one row, without overflow.
  double (*logsumexp_row)(const float* x, int64_t cols);
  // One layer-norm row: y, and its mean and rstd = 1/√(biased variance + eps).
  void (*layernorm_row_forward)(const float* x, const float* gamma, const float* beta, float* y, int64_t cols,
                                float eps, float* mean, float* rstd);
  // One layer-norm row's backward: dx, and dy·xhat and dy added into dgamma_sums and dbeta_sums.
  void (*layernorm_row_backward)(const float* x, const float* dy, const float* gamma, float mean, float rstd,
                                 float* dx, float* dgamma_sums, float* dbeta_sums, int64_t cols);
  // One output row of a max pool: column maxima over the window's input rows (rows[0, count), count
  // ≥ 1) into column_max[0, w), then y[q] = max over ss < s of column_max[q·sw − pw + ss] for the
  // columns inside the row, q < q_count; [inner_begin, inner_end) are the q whose columns all are.
  void (*maxpool_row)(const float* const* rows, int64_t count, int64_t w, float* column_max, float* y,
                      int64_t q_count, int64_t s, int64_t sw, int64_t pw, int64_t inner_begin, int64_t inner_end);
  // Batch norm's pieces over one contiguous run: Σ x, Σ (x − mean)² (both as blocked_sum adds them)
  // and y = (x − mean)·scale + shift.
  double (*sum)(const float* x, int64_t n);
  double (*squared_deviations)(const float* x, int64_t n, float mean);
  void (*scale_shift)(const float* x, float* y, int64_t n, float mean, float scale, float shift);
  // The AdamW step on n elements; bias1 = 1 − β1^step and bias2 = 1 − β2^step.
  void (*adamw)(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                float eps, float weight_decay, float bias1, float bias2);
};

const MemoryBoundLoops& memory_bound_loops_portable();
const MemoryBoundLoops& memory_bound_loops_avx2();
const MemoryBoundLoops& memory_bound_loops_avx512();
// The table for one fp32 family (portable, avx2, avx512; std::invalid_argument for others, and
// std::runtime_error where the CPU cannot run it), and the widest family this CPU runs.
const MemoryBoundLoops& memory_bound_loops(MicroKernel family);
const MemoryBoundLoops& memory_bound_loops();

// Calls body(begin, end) over [0, count) (rows, planes, elements): one contiguous part per thread,
// in order, as schedule(static) splits, when the kernel's `elements` repay waking the team; else
// once over the whole range on the calling thread, with no parallel region at all: libgomp sets up
// a team even for `omp parallel if (false)` or a team of one, which outlasts a small kernel's work.
template <class Body>
void split_over_team(int64_t count, int64_t elements, Body&& body) {
  if (elements < parallel_min_elements || omp_get_max_threads() == 1) {
    body(int64_t(0), count);
    return;
  }
#pragma omp parallel
  {
    const int64_t team = omp_get_num_threads(), thread = omp_get_thread_num();
    body(count * thread / team, count * (thread + 1) / team);
  }
}

// Calls chunk(begin, count) over [0, n) in pieces of block elements, the pieces split over the
// team as split_over_team does.
template <class Chunk>
void for_each_block(int64_t n, int64_t block, Chunk&& chunk) {
  split_over_team((n + block - 1) / block, n, [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) chunk(b * block, std::min(block, n - b * block));
  });
}

}  // namespace trainrate::kernels::cpu::detail
