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

namespace {
// The passes stream from and to memory: threads over blocks of elements, a vector loop in each.
// One loop per op (not a switch inside one loop), so every body vectorises.
constexpr int64_t chain_block = 8192;

template <class Element>
void stream_pass(int64_t n, Element element) {
  detail::for_each_block(n, chain_block, [&](int64_t begin, int64_t count) {
#pragma omp simd
    for (int64_t i = begin; i < begin + count; ++i) element(i);
  });
}
}  // namespace

void update_chain_pass(ChainOp op, float k, float* out, const float* a, const float* b, const float* c, int64_t n) {
  switch (op) {
    case ChainOp::scale: return stream_pass(n, [=](int64_t i) { out[i] = k * a[i]; });
    case ChainOp::add_scalar: return stream_pass(n, [=](int64_t i) { out[i] = a[i] + k; });
    case ChainOp::square: return stream_pass(n, [=](int64_t i) { out[i] = a[i] * a[i]; });
    case ChainOp::sqrt: return stream_pass(n, [=](int64_t i) { out[i] = __builtin_sqrtf(a[i]); });
    case ChainOp::add: return stream_pass(n, [=](int64_t i) { out[i] = a[i] + b[i]; });
    case ChainOp::sub: return stream_pass(n, [=](int64_t i) { out[i] = a[i] - b[i]; });
    case ChainOp::div: return stream_pass(n, [=](int64_t i) { out[i] = a[i] / b[i]; });
    case ChainOp::axpy: return stream_pass(n, [=](int64_t i) { out[i] = a[i] + k * b[i]; });
    case ChainOp::addcmul: return stream_pass(n, [=](int64_t i) { out[i] = a[i] + k * b[i] * b[i]; });
    case ChainOp::addcdiv: return stream_pass(n, [=](int64_t i) { out[i] = a[i] + k * b[i] / c[i]; });
  }
}

}  // namespace trainrate::kernels::cpu
