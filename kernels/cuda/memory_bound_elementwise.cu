// Elementwise memory-bound kernels: activations and their gradients, add, channels-last bias,
// embedding lookup and scatter, and the SGD-momentum and AdamW updates.
//
// Each is a grid-stride loop that moves mb::kVec (4) elements per access where every pointer is
// aligned to that (and, for the row-structured ones, the row length a multiple of it), a scalar loop
// for the tail; none of them reuses data, so the only lever is full-width, coalesced traffic.
#include "kernels/cuda/memory_bound_device.cuh"

namespace trainrate::cuda_kernels {
namespace {

using mb::Pack;

struct Relu {
  __device__ static float apply(float x) { return x > 0.f ? x : 0.f; }
};
struct ReluGrad {
  __device__ static float apply(float x, float dy) { return x > 0.f ? dy : 0.f; }
};

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

struct Gelu {
  __device__ static float apply(float x) { return 0.5f * x * (1.f + erff(x * kInvSqrt2)); }
};
struct GeluGrad {
  __device__ static float apply(float x, float dy) {
    const float cdf = 0.5f * (1.f + erff(x * kInvSqrt2));
    const float pdf = kInvSqrt2Pi * expf(-0.5f * x * x);
    return dy * (cdf + x * pdf);
  }
};
struct Add {
  __device__ static float apply(float a, float b) { return a + b; }
};

// y = Op(x); y may alias x.
template <typename T, typename Op>
__global__ void map1_kernel(const T* x, T* y, int64_t n, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack v = mb::load_pack(x + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) v.v[k] = Op::apply(v.v[k]);
    mb::store_pack(y + i, v, width);
  });
}

// y = Op(a, b); y may alias a or b.
template <typename T, typename Op>
__global__ void map2_kernel(const T* a, const T* b, T* y, int64_t n, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack va = mb::load_pack(a + i, width);
    const Pack vb = mb::load_pack(b + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) va.v[k] = Op::apply(va.v[k], vb.v[k]);
    mb::store_pack(y + i, va, width);
  });
}

// With channels a multiple of kVec, a vector never crosses a row, so its channels are consecutive.
template <typename T>
__global__ void bias_add_kernel(const T* x, const T* bias, T* y, int64_t n, int channels, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack v = mb::load_pack(x + i, width);
    const Pack b = mb::load_pack(bias + int(i % channels), width);
#pragma unroll
    for (int k = 0; k < width; ++k) v.v[k] += b.v[k];
    mb::store_pack(y + i, v, width);
  });
}

__global__ void embedding_forward_kernel(const float* __restrict__ table, const int32_t* __restrict__ indices,
                                         float* __restrict__ y, int64_t n, int dim, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    const int64_t token = i / dim;
    const int d = int(i - token * dim);
    mb::store_pack(y + i, mb::load_pack(table + int64_t(indices[token]) * dim + d, width), width);
  });
}

// dtable was zeroed; tokens sharing an index add into the same row, hence atomics.
__global__ void embedding_backward_kernel(const float* __restrict__ dy, const int32_t* __restrict__ indices,
                                          float* __restrict__ dtable, int64_t n, int dim, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    const int64_t token = i / dim;
    const int d = int(i - token * dim);
    const Pack g = mb::load_pack(dy + i, width);
    float* row = dtable + int64_t(indices[token]) * dim + d;
#pragma unroll
    for (int k = 0; k < width; ++k) atomicAdd(row + k, g.v[k]);
  });
}

__global__ void sgd_momentum_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ v,
                                    int64_t n, float lr, float momentum, float wd, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack wp = mb::load_pack(w + i, width), vp = mb::load_pack(v + i, width);
    const Pack gp = mb::load_pack(g + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) {
      vp.v[k] = momentum * vp.v[k] + (gp.v[k] + wd * wp.v[k]);
      wp.v[k] -= lr * vp.v[k];
    }
    mb::store_pack(v + i, vp, width);
    mb::store_pack(w + i, wp, width);
  });
}

// inv_bc1/inv_bc2 = 1/(1 − β^step), computed once on the host in double.
__global__ void adamw_kernel(float* __restrict__ w, const float* __restrict__ g, float* __restrict__ m,
                             float* __restrict__ v, int64_t n, float lr, float beta1, float beta2, float eps, float wd,
                             float inv_bc1, float inv_bc2, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack wp = mb::load_pack(w + i, width), mp = mb::load_pack(m + i, width), vp = mb::load_pack(v + i, width);
    const Pack gp = mb::load_pack(g + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) {
      const float gk = gp.v[k];
      mp.v[k] = beta1 * mp.v[k] + (1.f - beta1) * gk;
      vp.v[k] = beta2 * vp.v[k] + (1.f - beta2) * gk * gk;
      const float m_hat = mp.v[k] * inv_bc1, v_hat = vp.v[k] * inv_bc2;
      wp.v[k] -= lr * (m_hat / (sqrtf(v_hat) + eps) + wd * wp.v[k]);
    }
    mb::store_pack(m + i, mp, width);
    mb::store_pack(v + i, vp, width);
    mb::store_pack(w + i, wp, width);
  });
}

// The passes of an optimizer's op chain (ChainOp in problems/problem.hpp, which NVRTC cannot include:
// the launcher checks these codes against it). out may alias a, b or c, as the frameworks' in-place
// ops do; the op is uniform over the grid, so the switch does not diverge.
namespace chain {
enum : int { scale, add_scalar, square, sqrt, add, sub, div, axpy, addcmul, addcdiv };
}

__device__ __forceinline__ float chain_value(int op, float k, float a, float b, float c) {
  switch (op) {
    case chain::scale: return k * a;
    case chain::add_scalar: return a + k;
    case chain::square: return a * a;
    case chain::sqrt: return sqrtf(a);
    case chain::add: return a + b;
    case chain::sub: return a - b;
    case chain::div: return a / b;
    case chain::axpy: return a + k * b;
    case chain::addcmul: return a + k * b * b;
    default: return a + k * b / c;  // addcdiv
  }
}

// b and c are read only when the op has them (reads = 1, 2 or 3).
__global__ void chain_pass_kernel(int op, float k, float* out, const float* a, const float* b, const float* c,
                                  int reads, int64_t n, bool vec) {
  mb::for_each_chunk(n, vec, [&](int64_t i, int width) {
    Pack r = mb::load_pack(a + i, width);
    const Pack pb = reads > 1 ? mb::load_pack(b + i, width) : Pack{};
    const Pack pc = reads > 2 ? mb::load_pack(c + i, width) : Pack{};
#pragma unroll
    for (int j = 0; j < width; ++j) r.v[j] = chain_value(op, k, r.v[j], pb.v[j], pc.v[j]);
    mb::store_pack(out + i, r, width);
  });
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
#define TRAINRATE_MB_PER_TYPE(T)                                                                      \
  &map1_kernel<T, Relu>, &map1_kernel<T, Gelu>, &map2_kernel<T, ReluGrad>, &map2_kernel<T, GeluGrad>, \
      &map2_kernel<T, Add>, &bias_add_kernel<T>
using RtcKernels = detail::RtcKernels<TRAINRATE_MB_PER_TYPE(float), TRAINRATE_MB_PER_TYPE(__half),
                                      TRAINRATE_MB_PER_TYPE(__nv_bfloat16), &embedding_forward_kernel,
                                      &embedding_backward_kernel, &sgd_momentum_kernel, &adamw_kernel,
                                      &chain_pass_kernel>;
#undef TRAINRATE_MB_PER_TYPE
#else
template <typename Op>
void launch_map1(Dtype dtype, const char* name, const void* x, void* y, int64_t n, cudaStream_t stream) {
  mb::require(n >= 0, "elementwise: n must not be negative");
  if (n == 0) return;
  mb::with_storage_type(dtype, name, [&](auto tag) {
    using T = decltype(tag);
    const bool vec = mb::vec_aligned<T>(x, y);
    map1_kernel<T, Op><<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(static_cast<const T*>(x),
                                                                                    static_cast<T*>(y), n, vec);
    TRAINRATE_CHECK_LAUNCH();
  });
}

template <typename Op>
void launch_map2(Dtype dtype, const char* name, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream) {
  mb::require(n >= 0, "elementwise: n must not be negative");
  if (n == 0) return;
  mb::with_storage_type(dtype, name, [&](auto tag) {
    using T = decltype(tag);
    const bool vec = mb::vec_aligned<T>(a, b, y);
    map2_kernel<T, Op><<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(
        static_cast<const T*>(a), static_cast<const T*>(b), static_cast<T*>(y), n, vec);
    TRAINRATE_CHECK_LAUNCH();
  });
}

// Shape checks shared by the embedding launchers; returns tokens·dim.
int64_t embedding_elements(int64_t tokens, int64_t dim) {
  mb::require(tokens >= 0, "embedding: tokens must not be negative");
  mb::require_positive_int(dim, "embedding: dim must be in [1, INT_MAX]");
  return tokens * dim;
}
#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void relu_forward(Dtype dtype, const void* x, void* y, int64_t n, cudaStream_t stream) {
  launch_map1<Relu>(dtype, "relu_forward", x, y, n, stream);
}
void relu_backward(Dtype dtype, const void* x, const void* dy, void* dx, int64_t n, cudaStream_t stream) {
  launch_map2<ReluGrad>(dtype, "relu_backward", x, dy, dx, n, stream);
}
void gelu_forward(Dtype dtype, const void* x, void* y, int64_t n, cudaStream_t stream) {
  launch_map1<Gelu>(dtype, "gelu_forward", x, y, n, stream);
}
void gelu_backward(Dtype dtype, const void* x, const void* dy, void* dx, int64_t n, cudaStream_t stream) {
  launch_map2<GeluGrad>(dtype, "gelu_backward", x, dy, dx, n, stream);
}
void add(Dtype dtype, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream) {
  launch_map2<Add>(dtype, "add", a, b, y, n, stream);
}

void bias_add(Dtype dtype, const void* x, const void* bias, void* y, int64_t rows, int64_t channels,
              cudaStream_t stream) {
  mb::require(rows >= 0, "bias_add: rows must not be negative");
  mb::require_positive_int(channels, "bias_add: channels must be in [1, INT_MAX]");
  const int64_t n = rows * channels;
  if (n == 0) return;
  mb::with_storage_type(dtype, "bias_add", [&](auto tag) {
    using T = decltype(tag);
    const bool vec = channels % mb::kVec == 0 && mb::vec_aligned<T>(x, bias, y);
    bias_add_kernel<T><<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(
        static_cast<const T*>(x), static_cast<const T*>(bias), static_cast<T*>(y), n, int(channels), vec);
    TRAINRATE_CHECK_LAUNCH();
  });
}

void embedding_forward(const float* table, const int32_t* indices, float* y, int64_t tokens, int64_t dim,
                       cudaStream_t stream) {
  const int64_t n = embedding_elements(tokens, dim);
  if (n == 0) return;
  const bool vec = dim % mb::kVec == 0 && mb::vec_aligned<float>(table, y);
  embedding_forward_kernel<<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(table, indices, y, n, int(dim),
                                                                                        vec);
  TRAINRATE_CHECK_LAUNCH();
}

void embedding_backward(const float* dy, const int32_t* indices, float* dtable, int64_t tokens, int64_t vocab,
                        int64_t dim, cudaStream_t stream) {
  const int64_t n = embedding_elements(tokens, dim);
  mb::require(vocab >= 1, "embedding_backward: vocab must be positive");
  TRAINRATE_CUDA_CHECK(cudaMemsetAsync(dtable, 0, size_t(vocab * dim) * sizeof(float), stream));
  if (n == 0) return;
  const bool vec = dim % mb::kVec == 0 && mb::vec_aligned<float>(dy);
  embedding_backward_kernel<<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(dy, indices, dtable, n,
                                                                                         int(dim), vec);
  TRAINRATE_CHECK_LAUNCH();
}

void sgd_momentum_update(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float wd,
                         cudaStream_t stream) {
  mb::require(n >= 0, "sgd_momentum_update: n must not be negative");
  if (n == 0) return;
  const bool vec = mb::vec_aligned<float>(w, g, v);
  sgd_momentum_kernel<<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(w, g, v, n, lr, momentum, wd, vec);
  TRAINRATE_CHECK_LAUNCH();
}

void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float wd, int64_t step, cudaStream_t stream) {
  mb::require(n >= 0, "adamw_update: n must not be negative");
  mb::require(step >= 1, "adamw_update: step counts from 1");
  if (n == 0) return;
  const double inv_bc1 = 1.0 / (1.0 - std::pow(double(beta1), double(step)));
  const double inv_bc2 = 1.0 / (1.0 - std::pow(double(beta2), double(step)));
  const bool vec = mb::vec_aligned<float>(w, g, m, v);
  adamw_kernel<<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(w, g, m, v, n, lr, beta1, beta2, eps, wd,
                                                                            float(inv_bc1), float(inv_bc2), vec);
  TRAINRATE_CHECK_LAUNCH();
}

static_assert(int(ChainOp::scale) == chain::scale && int(ChainOp::add_scalar) == chain::add_scalar &&
              int(ChainOp::square) == chain::square && int(ChainOp::sqrt) == chain::sqrt &&
              int(ChainOp::add) == chain::add && int(ChainOp::sub) == chain::sub && int(ChainOp::div) == chain::div &&
              int(ChainOp::axpy) == chain::axpy && int(ChainOp::addcmul) == chain::addcmul &&
              int(ChainOp::addcdiv) == chain::addcdiv);

void update_chain_pass(ChainOp op, float k, float* out, const float* a, const float* b, const float* c, int64_t n,
                       cudaStream_t stream) {
  mb::require(n >= 0, "update_chain_pass: n must not be negative");
  if (n == 0) return;
  const int reads = chain_reads(op);
  const bool vec = mb::vec_aligned<float>(out, a) && (reads < 2 || mb::vec_aligned<float>(b)) &&
                   (reads < 3 || mb::vec_aligned<float>(c));
  chain_pass_kernel<<<mb::elementwise_blocks(n, vec), mb::kThreads, 0, stream>>>(int(op), k, out, a, b, c, reads, n,
                                                                                 vec);
  TRAINRATE_CHECK_LAUNCH();
}
#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
