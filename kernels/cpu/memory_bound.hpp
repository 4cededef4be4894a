// Our hand-written CPU kernels for the memory-bound rest of a training step: activations,
// residual and bias adds, normalisations, pooling, softmax, the loss, embeddings and optimizer
// updates. fp32 throughout, plain pointers and shapes; the same semantics as the CUDA kernels.
//
// Every kernel runs on the calling thread's OpenMP team (omp_get_max_threads; the caller sets it)
// once its tensor is large enough to repay waking the team, and on the calling thread below that.
// Outputs may not alias inputs unless a comment says so. Sizes are element counts (≥ 0).
#pragma once

#include <cstdint>

#include "problems/problem.hpp"

namespace trainrate::kernels::cpu {

// --- Activations (eltwise.cpp) --------------------------------------------------------------
// y = max(x, 0).
void relu_forward(const float* x, float* y, int64_t n);
// dx = x > 0 ? dy : 0.
void relu_backward(const float* x, const float* dy, float* dx, int64_t n);
// y = x·Φ(x) = 0.5·x·(1 + erf(x/√2)), the exact-erf GELU, to about 1e-6 relative.
void gelu_forward(const float* x, float* y, int64_t n);
// dx = dy·(Φ(x) + x·φ(x)), φ the standard normal density.
void gelu_backward(const float* x, const float* dy, float* dx, int64_t n);

// --- Adds (eltwise.cpp) ---------------------------------------------------------------------
// y = a + b (the residual add); y may be a or b.
void add(const float* a, const float* b, float* y, int64_t n);
// y[r·channels + c] = x[r·channels + c] + bias[c] (channels-last); y may be x.
void bias_add(const float* x, const float* bias, float* y, int64_t rows, int64_t channels);

// --- Normalisations (norm.cpp) --------------------------------------------------------------
// Batch norm in training mode over NCHW x (HW = H·W): per channel c, mean and biased variance over
// the M = N·HW values of that channel, inv_std = 1/√(var + eps), and
// y = gamma[c]·(x − mean)·inv_std + beta[c]. Saves mean and inv_std (C values each) for backward.
// Needs M ≥ 1.
void batchnorm_forward_training(const float* x, const float* gamma, const float* beta, float* y, float* saved_mean,
                                float* saved_inv_std, int64_t n, int64_t c, int64_t hw, float eps);
// With xhat = (x − mean)·inv_std per channel: dbeta = Σ dy, dgamma = Σ dy·xhat, and
// dx = gamma·inv_std·(dy − dbeta/M − xhat·dgamma/M).
void batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* saved_mean,
                        const float* saved_inv_std, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                        int64_t hw);
// Layer norm over each row of a rows×cols matrix (row-major): mean and biased variance over the
// row, rstd = 1/√(var + eps), y = gamma[j]·(x − mean)·rstd + beta[j]. Saves mean and rstd per row.
void layernorm_forward(const float* x, const float* gamma, const float* beta, float* y, float* mean, float* rstd,
                       int64_t rows, int64_t cols, float eps);
// With xhat = (x − mean)·rstd and g = gamma·dy per row: dx = rstd·(g − mean_j(g) − xhat·mean_j(g·xhat));
// dgamma[j] = Σ_rows dy·xhat, dbeta[j] = Σ_rows dy (both overwritten, zero when rows = 0).
void layernorm_backward(const float* x, const float* dy, const float* gamma, const float* mean, const float* rstd,
                        float* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols);

// --- Pooling (pool.cpp) ---------------------------------------------------------------------
// NCHW, an r×s window moved by stride (sh, sw) over x padded by (ph, pw) on each side; y is
// N×C×P×Q with P = (H + 2·ph − r)/sh + 1 and Q = (W + 2·pw − s)/sw + 1. Needs H + 2·ph ≥ r and
// W + 2·pw ≥ s.
// y = the largest in-bounds value of each window (padding is −inf, so it never wins).
void maxpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw);
// where = the plane index (row·W + column) of each output's window maximum, the first in row-major
// window order on ties, or −1 for a window wholly in the padding: what the forward pass keeps for
// the backward, as frameworks keep indices (and oneDNN its workspace).
void maxpool_argmax(const float* x, int32_t* where, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                    int64_t sh, int64_t sw, int64_t ph, int64_t pw);
// dx = 0, then each output's dy is added at where[output] of its plane, none where it is −1
// (planes = N·C of plane_size = H·W values and outputs_per_plane = P·Q each).
void maxpool_backward(const int32_t* where, const float* dy, float* dx, int64_t planes, int64_t plane_size,
                      int64_t outputs_per_plane);
// y = (sum of the window's in-bounds values)/(r·s): padding counts in the divisor (PyTorch's
// count_include_pad=True).
void avgpool_forward(const float* x, float* y, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                     int64_t sh, int64_t sw, int64_t ph, int64_t pw);
// dx = 0, then each output's dy/(r·s) is added at every in-bounds position of its window.
void avgpool_backward(const float* dy, float* dx, int64_t n, int64_t c, int64_t h, int64_t w, int64_t r, int64_t s,
                      int64_t sh, int64_t sw, int64_t ph, int64_t pw);

// --- Softmax (softmax.cpp) ------------------------------------------------------------------
// y = softmax of each row of scale·x (rows×cols, row-major). With causal_seq > 0 (then cols must
// equal causal_seq), row r is query position i = r % causal_seq and its columns j > i are masked
// (−inf before the softmax, so y = 0 there).
void softmax_forward(const float* x, float* y, int64_t rows, int64_t cols, float scale, int64_t causal_seq);
// dx = scale·y·(dy − Σ_j dy·y) per row: the backward of softmax_forward given its output y.
void softmax_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t cols, float scale);

// --- Loss (loss.cpp) ------------------------------------------------------------------------
// *loss_out = mean over rows of (logsumexp(row) − row[label]); rows ≥ 1, labels in [0, classes).
void cross_entropy_forward(const float* logits, const int32_t* labels, float* loss_out, int64_t rows,
                           int64_t classes);
// dlogits = (softmax(row) − onehot(label))/rows: the gradient of cross_entropy_forward's loss.
void cross_entropy_backward(const float* logits, const int32_t* labels, float* dlogits, int64_t rows,
                            int64_t classes);

// --- Embedding (embedding.cpp) --------------------------------------------------------------
// y[t, :] = table[indices[t], :] for t < tokens; rows of dim floats, indices in [0, vocab).
void embedding_forward(const float* table, const int32_t* indices, float* y, int64_t tokens, int64_t dim);
// dtable = 0, then dtable[indices[t], :] += dy[t, :] for every token, repeated indices included
// (each thread owns a range of rows, so no two threads add into the same float).
void embedding_backward(const float* dy, const int32_t* indices, float* dtable, int64_t tokens, int64_t vocab,
                        int64_t dim);

// --- Optimizers (optimizer.cpp), in place on w and the state -------------------------------
// g' = g + weight_decay·w; v = momentum·v + g'; w −= lr·v.
void sgd_momentum_update(float* w, const float* g, float* v, int64_t n, float lr, float momentum, float weight_decay);
// m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²; mhat = m/(1 − β1^step); vhat = v/(1 − β2^step);
// w −= lr·(mhat/(√vhat + eps) + weight_decay·w) (decoupled weight decay). step counts from 1.
void adamw_update(float* w, const float* g, float* m, float* v, int64_t n, float lr, float beta1, float beta2,
                  float eps, float weight_decay, int64_t step);
// One pass of a framework's optimizer op chain (ChainOp in problems/problem.hpp) over n elements:
// out = op(a, b, c) with the scalar k; out may be a, b or c (in place), as the framework's ops are.
void update_chain_pass(ChainOp op, float k, float* out, const float* a, const float* b, const float* c, int64_t n);

}  // namespace trainrate::kernels::cpu
