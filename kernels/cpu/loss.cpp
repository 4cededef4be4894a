// Softmax cross-entropy over rows of logits, one row per task.
#include "kernels/cpu/memory_bound.hpp"

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

using detail::split_over_team;

void cross_entropy_forward(const float* logits, const int32_t* labels, float* loss_out, int64_t rows,
                           int64_t classes) {
  const auto& loops = detail::memory_bound_loops();
  double total = 0.0;
  split_over_team(rows, rows * classes, [&](int64_t first, int64_t last) {
    double part = 0.0;
    for (int64_t r = first; r < last; ++r) {
      const float* row = logits + r * classes;
      part += loops.logsumexp_row(row, classes) - double(row[labels[r]]);
    }
#pragma omp atomic
    total += part;
  });
  *loss_out = float(total / double(rows));
}

void cross_entropy_backward(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                            int64_t classes) {
  const auto& loops = detail::memory_bound_loops();
  const float inv_rows = 1.0f / float(rows);
  split_over_team(rows, rows * classes, [&](int64_t first, int64_t last) {
    for (int64_t r = first; r < last; ++r) {
      float* grad = dlogits + r * classes;
      loops.softmax_row(logits + r * classes, grad, classes, classes, 1.0f, inv_rows);
      grad[labels[r]] -= inv_rows;
    }
  });
}

}  // namespace trainrate::kernels::cpu
