// Softmax cross-entropy over rows of logits, one row per task.
#include "kernels/cpu/memory_bound.hpp"

#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

using detail::parallel_min_elements;

void cross_entropy_forward(const float* logits, const int32_t* labels, float* loss_out, int64_t rows,
                           int64_t classes) {
  const auto& loops = detail::memory_bound_loops();
  double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if (rows * classes >= parallel_min_elements)
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = logits + r * classes;
    total += loops.logsumexp_row(row, classes) - double(row[labels[r]]);
  }
  *loss_out = float(total / double(rows));
}

void cross_entropy_backward(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                            int64_t classes) {
  const auto& loops = detail::memory_bound_loops();
  const float inv_rows = 1.0f / float(rows);
#pragma omp parallel for schedule(static) if (rows * classes >= parallel_min_elements)
  for (int64_t r = 0; r < rows; ++r) {
    float* grad = dlogits + r * classes;
    loops.softmax_row(logits + r * classes, grad, classes, classes, 1.0f, inv_rows);
    grad[labels[r]] -= inv_rows;
  }
}

}  // namespace trainrate::kernels::cpu
