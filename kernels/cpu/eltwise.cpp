// Activations and adds: one streaming pass each. The plain loops vectorise at baseline width,
// which keeps up with memory; relu forward, the bias add's rows and GELU's erf and exp go through
// the widest vector loops.
#include <algorithm>
#include <cstdint>

#include "kernels/cpu/gemm_internal.hpp"
#include "kernels/cpu/memory_bound.hpp"
#include "kernels/cpu/memory_bound_internal.hpp"
#include "kernels/cpu/memory_bound_stores.hpp"

namespace trainrate::kernels::cpu {

using detail::split_over_team;
using detail::write_output;

namespace {
// Chunks of GELU handed to the vector loops: long enough to amortise the call, short enough that
// the last thread's share is not much longer than the others'.
constexpr int64_t gelu_block = 4096;

}  // namespace

void relu_forward(const float* x, float* y, int64_t n) {
  const auto& loops = detail::memory_bound_loops();
  split_over_team(n, n, [&](int64_t begin, int64_t end) {
    write_output(y, n, begin, end,
                 [&](int64_t first, int64_t last, float* out) { loops.relu_forward(x + first, out, last - first); });
  });
}

void relu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  split_over_team(n, n, [&](int64_t begin, int64_t end) {
    write_output(dx, n, begin, end, [&](int64_t first, int64_t last, float* out) {
#pragma omp simd
      for (int64_t i = first; i < last; ++i) {
        const float grad = dy[i];  // read unconditionally, so the select needs no branch
        out[i - first] = x[i] > 0.0f ? grad : 0.0f;
      }
    });
  });
}

void gelu_forward(const float* x, float* y, int64_t n) {
  const auto& loops = detail::memory_bound_loops();
  detail::for_each_block(n, gelu_block,
                         [&](int64_t begin, int64_t count) { loops.gelu_forward(x + begin, y + begin, count); });
}

void gelu_backward(const float* x, const float* dy, float* dx, int64_t n) {
  const auto& loops = detail::memory_bound_loops();
  detail::for_each_block(n, gelu_block, [&](int64_t begin, int64_t count) {
    loops.gelu_backward(x + begin, dy + begin, dx + begin, count);
  });
}

// The plain loop: through the widest vector loops the streamed add ran at half the rate (docs/results).
void add(const float* a, const float* b, float* y, int64_t n) {
  split_over_team(n, n, [&](int64_t begin, int64_t end) {
    write_output(y, n, begin, end, [&](int64_t first, int64_t last, float* out) {
#pragma omp simd
      for (int64_t i = first; i < last; ++i) out[i - first] = a[i] + b[i];
    });
  });
}

void bias_add(const float* x, const float* bias, float* y, int64_t rows, int64_t channels) {
  const auto& loops = detail::memory_bound_loops();
  split_over_team(rows, rows * channels, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) loops.add(x + r * channels, bias, y + r * channels, channels);
  });
}

}  // namespace trainrate::kernels::cpu
