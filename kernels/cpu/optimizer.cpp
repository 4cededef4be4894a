// Optimizer updates, in place, one streaming pass over the weights and their state.
#include <cmath>

#include "kernels/cpu/memory_bound.hpp"
#include "kernels/cpu/memory_bound_internal.hpp"

namespace trainrate::kernels::cpu {

namespace {
// AdamW's chunks for the vector loops (square root and division per element).
constexpr int64_t adamw_block = 4096;
}  // namespace

void sgd_momentum_update(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weight_decay) {
  detail::split_over_team(n, n, [&](int64_t begin, int64_t end) {
#pragma omp simd
    for (int64_t i = begin; i < end; ++i) {
      const float vi = momentum * v[i] + (g[i] + weight_decay * w[i]);
      v[i] = vi;
      w[i] -= lr * vi;
    }
  });
}

void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step) {
  // The bias corrections in double: 1 − β2^step is tiny for early steps with β2 near 1.
  const float bias1 = float(1.0 - std::pow(double(beta1), double(step)));
  const float bias2 = float(1.0 - std::pow(double(beta2), double(step)));
  const auto& loops = detail::memory_bound_loops();
  detail::for_each_block(n, adamw_block, [&](int64_t begin, int64_t count) {
    loops.adamw(w + begin, g + begin, m + begin, v + begin, count, lr, beta1, beta2, eps, weight_decay, bias1, bias2);
  });
}

}  // namespace trainrate::kernels::cpu
