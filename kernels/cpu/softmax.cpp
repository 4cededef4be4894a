// Row softmax (with an optional causal mask) and its backward, one row per task. A row is read
// from memory once per pass it needs; rows up to L2's size come back from cache for the others.
#include "kernels/cpu/memory_bound.hpp"

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

using detail::split_over_team;

void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale, int64_t causal_seq) {
  const auto& loops = detail::memory_bound_loops();
  split_over_team(rows, rows * cols, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      // Query position i sees keys 0..i.
      const int64_t valid = causal_seq > 0 ? r % causal_seq + 1 : cols;
      loops.softmax_row(x + r * cols, y + r * cols, cols, valid, scale, 1.0f);
    }
  });
}

void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale) {
  const auto& loops = detail::memory_bound_loops();
  split_over_team(rows, rows * cols, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      loops.softmax_row_backward(y + r * cols, dy + r * cols, dx + r * cols, cols, scale);
    }
  });
}

}  // namespace trainrate::kernels::cpu
