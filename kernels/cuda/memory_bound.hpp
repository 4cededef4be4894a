// Host-callable launchers for the memory-bound rest of a training step: activations, adds, batch
// and layer normalization, pooling, softmax, cross-entropy, embeddings and optimizer updates.
//
// Plain C++ (no CUDA syntax) so host code compiled by g++ can include it, like launch.hpp. Every
// launcher enqueues its kernels (and any cudaMemsetAsync) on `stream`, returns without
// synchronizing, and throws std::runtime_error when CUDA rejects a launch, or std::invalid_argument
// for a shape it does not take: a negative size, a zero where the operation needs at least one
// (rows, columns, channels, classes, N·HW; an elementwise n of 0 is a no-op), or an extent beyond
// INT_MAX where a kernel indexes with int. All pointers are device pointers; sizes count elements.
//
// Storage types: fp32 everywhere. The launchers that take a Dtype (activations, add, bias_add,
// softmax, layer norm) also take fp16 and bf16 storage, `void*` pointing at __half or
// __nv_bfloat16 as the dtype says (tf32 is a compute mode, rejected here); math is always fp32.
// Layer-norm parameters and statistics (gamma, beta, mean, rstd, dgamma, dbeta) stay fp32 for
// every storage type, as mixed-precision training keeps them.
//
// Reductions that span many blocks (batch-norm statistics and gradients, layer-norm dgamma/dbeta)
// write per-block partial sums to a caller-provided workspace and finish in a second kernel, so
// results are deterministic; *_workspace_bytes gives the size (16-byte aligned pointer).
// Cross-entropy's loss and the scatter-adds of maxpool and embedding backward use atomicAdd, so
// their float rounding may differ between runs in the last bits.
#pragma once
// Host-only, so empty under NVRTC, which compiles just the kernels (see common.cuh).
#ifndef __CUDACC_RTC__

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "problems/problem.hpp"

namespace trainrate::cuda_kernels {

// ---- Elementwise, n elements ----
void relu_forward(Dtype dtype, const void* x, void* y, int64_t n, cudaStream_t stream);  // y = max(x, 0)
// dx = x > 0 ? dy : 0
void relu_backward(Dtype dtype, const void* x, const void* dy, void* dx, int64_t n, cudaStream_t stream);
// Exact-erf GELU: y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)).
void gelu_forward(Dtype dtype, const void* x, void* y, int64_t n, cudaStream_t stream);
// dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density.
void gelu_backward(Dtype dtype, const void* x, const void* dy, void* dx, int64_t n, cudaStream_t stream);
void add(Dtype dtype, const void* a, const void* b, void* y, int64_t n, cudaStream_t stream);  // y = a + b
// Channels-last bias: y[r·channels + c] = x[r·channels + c] + bias[c]; bias has the storage dtype.
void bias_add(Dtype dtype, const void* x, const void* bias, void* y, int64_t rows, int64_t channels,
              cudaStream_t stream);

// ---- Batch normalization, training mode, NCHW fp32 (HW = H·W, M = N·HW values per channel) ----
size_t batchnorm_workspace_bytes(int64_t n, int64_t c, int64_t hw);
// Per-channel mean and biased variance over M; saved_inv_std = 1/√(var + eps);
// y = gamma·(x − mean)·inv_std + beta.
void batchnorm_forward_training(const float* x, const float* gamma, const float* beta, float* y, float* saved_mean,
                                float* saved_inv_std, int64_t n, int64_t c, int64_t hw, float eps, void* workspace,
                                cudaStream_t stream);
// dbeta = Σ dy, dgamma = Σ dy·x̂, dx = gamma·inv_std·(dy − dbeta/M − x̂·dgamma/M).
void batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* saved_mean,
                        const float* saved_inv_std, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                        int64_t hw, void* workspace, cudaStream_t stream);

// ---- Layer normalization over the last dimension of a rows × cols matrix ----
// mean/rstd (rows values, fp32) are saved for the backward pass; y = (x − mean)·rstd·gamma + beta.
void layernorm_forward(Dtype dtype, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t rows, int64_t cols, float eps, cudaStream_t stream);
size_t layernorm_backward_workspace_bytes(int64_t rows, int64_t cols);
// x̂ = (x − mean)·rstd, g = dy·gamma: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) per row;
// dgamma = Σ_rows dy·x̂, dbeta = Σ_rows dy.
void layernorm_backward(Dtype dtype, const void* x, const void* dy, const float* gamma, const float* mean,
                        const float* rstd, void* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols,
                        void* workspace, cudaStream_t stream);

// ---- Pooling, NCHW fp32 ----
// Window r × s, stride sh × sw, padding ph × pw: output P = (H + 2ph − r)/sh + 1, Q likewise.
struct PoolShape {
  int64_t n, c, h, w;
  int64_t r, s, stride_h, stride_w, pad_h, pad_w;
  int64_t p() const { return (h + 2 * pad_h - r) / stride_h + 1; }
  int64_t q() const { return (w + 2 * pad_w - s) / stride_w + 1; }
};
// Padding counts as −inf.
void maxpool_forward(const PoolShape& shape, const float* x, float* y, cudaStream_t stream);
// dx is zeroed, then each output's dy goes to the first maximum of its window (row-major scan),
// recomputed from x.
void maxpool_backward(const PoolShape& shape, const float* x, const float* dy, float* dx, cudaStream_t stream);
// The divisor is always r·s (padding counts as zeros).
void avgpool_forward(const PoolShape& shape, const float* x, float* y, cudaStream_t stream);
void avgpool_backward(const PoolShape& shape, const float* dy, float* dx, cudaStream_t stream);

// ---- Row softmax over a rows × cols matrix ----
// y = softmax(scale·x) per row. causal_seq > 0 masks columns j > r % causal_seq (y = 0 there),
// the attention-score layout [batch·heads·seq] × seq; 0 masks nothing.
void softmax_forward(Dtype dtype, const void* x, void* y, int64_t rows, int64_t cols, float scale, int64_t causal_seq,
                     cudaStream_t stream);
// dx = scale·y·(dy − Σ_j dy·y), the backward of y = softmax(scale·x) (masked columns get 0 as y is 0).
void softmax_backward(Dtype dtype, const void* y, const void* dy, void* dx, int64_t rows, int64_t cols, float scale,
                      cudaStream_t stream);

// ---- Cross-entropy over fp32 logits, rows × classes, int32 labels in [0, classes) ----
// *loss_out = mean over rows of (logsumexp(row) − logit[label]); a label outside the range gives NaN.
void cross_entropy_forward(const float* logits, const int32_t* labels, float* loss_out, int64_t rows, int64_t classes,
                           cudaStream_t stream);
// dlogits = (softmax(row) − onehot(label)) / rows.
void cross_entropy_backward(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t classes,
                            cudaStream_t stream);

// ---- Embedding, fp32 table vocab × dim, int32 indices in [0, vocab) ----
void embedding_forward(const float* table, const int32_t* indices, float* y, int64_t tokens, int64_t dim,
                       cudaStream_t stream);
// dtable is zeroed, then every token's dy row is added to its index's row.
void embedding_backward(const float* dy, const int32_t* indices, float* dtable, int64_t tokens, int64_t vocab,
                        int64_t dim, cudaStream_t stream);

// ---- Optimizer updates, in place over n fp32 parameters ----
// g' = g + wd·w; v = momentum·v + g'; w −= lr·v.
void sgd_momentum_update(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float wd,
                         cudaStream_t stream);
// m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; m̂ = m/(1−β1^step); v̂ = v/(1−β2^step);
// w −= lr·(m̂/(√v̂ + eps) + wd·w). step counts from 1.
void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float wd, int64_t step, cudaStream_t stream);
// One pass of a framework's optimizer op chain: out = op(a, b, c) with the scalar k (problem.hpp's
// ChainOp); out may be a, b or c. b and c are read only where the op has them.
void update_chain_pass(ChainOp op, float k, float* out, const float* a, const float* b, const float* c, int64_t n,
                       cudaStream_t stream);

}  // namespace trainrate::cuda_kernels

#endif  // __CUDACC_RTC__
