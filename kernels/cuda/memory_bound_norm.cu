// Batch normalization (training mode, NCHW fp32) and layer normalization (rows × cols, fp32/fp16/bf16).
//
// Batch norm reduces each channel over N·HW values spread across the whole tensor, too few
// channels to give every SM work with one block per channel, so the reduction is two-level: a
// (splits × C) grid writes partial sums to the workspace, a finish kernel combines each channel's
// splits, and an elementwise pass applies the result. The statistics sum x − K and (x − K)² with K
// the channel's first value, so the variance does not cancel when |mean| ≫ std.
//
// Layer norm rows are reduced by one warp (or one block for long rows) with shuffles; the mean
// and variance are separate passes over the row, which the second time comes from cache. The
// column sums dgamma/dbeta are two-level like batch norm's.
#include "kernels/cuda/memory_bound_device.cuh"

namespace trainrate::cuda_kernels {
namespace {

using mb::Pack;

// ---- Batch norm ------------------------------------------------------------------------------

// Walks this block's slice [begin, end) of channel c's M = N·HW values in units of W floats (W = kVec
// needs HW % kVec == 0), calling f(x offset of the unit). Units advance by blockDim.x, carried
// from hw into n without dividing per step.
template <int W, typename F>
__device__ __forceinline__ void for_each_channel_unit(int c, int channels, int64_t hw, int64_t begin, int64_t end,
                                                      F f) {
  const int64_t hw_units = hw / W;
  int64_t u = begin + threadIdx.x;
  if (u >= end) return;
  int64_t n = u / hw_units, h = u - n * hw_units;
  const int64_t step_n = blockDim.x / hw_units, step_h = blockDim.x % hw_units;
  for (; u < end; u += blockDim.x) {
    f((n * channels + c) * hw + h * W);
    n += step_n, h += step_h;
    if (h >= hw_units) h -= hw_units, ++n;
  }
}

// Each channel's units split into gridDim.x contiguous slices.
__device__ __forceinline__ void channel_slice(int64_t units, int64_t& begin, int64_t& end) {
  const int64_t per = (units + gridDim.x - 1) / gridDim.x;
  begin = blockIdx.x * per;
  end = begin + per < units ? begin + per : units;
}

// partial[c·splits + s] = (Σ (x − K), Σ (x − K)²) over slice s of channel c; K = x[n=0, c, 0].
template <int W>
__global__ void bn_stats_partial_kernel(const float* __restrict__ x, float2* __restrict__ partial, int channels,
                                        int64_t n, int64_t hw) {
  __shared__ float2 scratch[mb::kRowBlockThreads / 32];
  const int c = blockIdx.y;
  const float shift = x[int64_t(c) * hw];
  int64_t begin, end;
  channel_slice(n * hw / W, begin, end);
  float2 acc = make_float2(0.f, 0.f);
  for_each_channel_unit<W>(c, channels, hw, begin, end, [&](int64_t at) {
    const Pack v = mb::load_pack(x + at, W);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const float d = v.v[k] - shift;
      acc.x += d;
      acc.y = fmaf(d, d, acc.y);
    }
  });
  acc = mb::block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[int64_t(c) * gridDim.x + blockIdx.x] = acc;
}

// The finish kernels run one warp per channel; the warp's sum of channel c's split partials
// (every lane holds it).
__device__ float2 sum_of_splits(const float2* __restrict__ partial, int c, int splits) {
  float2 acc = make_float2(0.f, 0.f);
  for (int s = threadIdx.x % 32; s < splits; s += 32) acc = mb::Sum{}(acc, partial[int64_t(c) * splits + s]);
  return mb::row_allreduce<32>(acc, mb::Sum{}, static_cast<float2*>(nullptr));
}

__device__ int warp_channel() { return blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; }

// Combine the splits, then mean = K + Σd/M, var = Σd²/M − (Σd/M)².
__global__ void bn_stats_finish_kernel(const float* __restrict__ x, const float2* __restrict__ partial,
                                       float* __restrict__ mean, float* __restrict__ inv_std, int channels, int splits,
                                       int64_t hw, int64_t count, float eps) {
  const int c = warp_channel();
  if (c >= channels) return;
  const float2 acc = sum_of_splits(partial, c, splits);
  if (threadIdx.x % 32 != 0) return;
  const float d_mean = acc.x / float(count);
  const float var = fmaxf(acc.y / float(count) - d_mean * d_mean, 0.f);
  mean[c] = x[int64_t(c) * hw] + d_mean;
  inv_std[c] = 1.f / sqrtf(var + eps);
}

__global__ void bn_apply_kernel(const float* __restrict__ x, const float* __restrict__ gamma,
                                const float* __restrict__ beta, const float* __restrict__ mean,
                                const float* __restrict__ inv_std, float* __restrict__ y, int64_t total, int channels,
                                int64_t hw, bool vec) {
  mb::for_each_chunk(total, vec, [&](int64_t i, int width) {
    const int c = int((i / hw) % channels);
    const float g = gamma[c], b = beta[c], mu = mean[c], r = inv_std[c];
    Pack v = mb::load_pack(x + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) v.v[k] = g * (v.v[k] - mu) * r + b;
    mb::store_pack(y + i, v, width);
  });
}

// partial[c·splits + s] = (Σ dy, Σ dy·x̂) over slice s of channel c.
template <int W>
__global__ void bn_grad_partial_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                       const float* __restrict__ mean, const float* __restrict__ inv_std,
                                       float2* __restrict__ partial, int channels, int64_t n, int64_t hw) {
  __shared__ float2 scratch[mb::kRowBlockThreads / 32];
  const int c = blockIdx.y;
  const float mu = mean[c], r = inv_std[c];
  int64_t begin, end;
  channel_slice(n * hw / W, begin, end);
  float2 acc = make_float2(0.f, 0.f);
  for_each_channel_unit<W>(c, channels, hw, begin, end, [&](int64_t at) {
    const Pack xv = mb::load_pack(x + at, W), gv = mb::load_pack(dy + at, W);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      acc.x += gv.v[k];
      acc.y = fmaf(gv.v[k], (xv.v[k] - mu) * r, acc.y);
    }
  });
  acc = mb::block_sum(acc, scratch);
  if (threadIdx.x == 0) partial[int64_t(c) * gridDim.x + blockIdx.x] = acc;
}

__global__ void bn_grad_finish_kernel(const float2* __restrict__ partial, float* __restrict__ dgamma,
                                      float* __restrict__ dbeta, int channels, int splits) {
  const int c = warp_channel();
  if (c >= channels) return;
  const float2 acc = sum_of_splits(partial, c, splits);
  if (threadIdx.x % 32 != 0) return;
  dbeta[c] = acc.x;
  dgamma[c] = acc.y;
}

__global__ void bn_grad_apply_kernel(const float* __restrict__ x, const float* __restrict__ dy,
                                     const float* __restrict__ gamma, const float* __restrict__ mean,
                                     const float* __restrict__ inv_std, const float* __restrict__ dgamma,
                                     const float* __restrict__ dbeta, float* __restrict__ dx, int64_t total,
                                     int channels, int64_t hw, float inv_count, bool vec) {
  mb::for_each_chunk(total, vec, [&](int64_t i, int width) {
    const int c = int((i / hw) % channels);
    const float mu = mean[c], r = inv_std[c], k_scale = gamma[c] * r;
    const float db = dbeta[c] * inv_count, dg = dgamma[c] * inv_count;
    const Pack xv = mb::load_pack(x + i, width);
    Pack v = mb::load_pack(dy + i, width);
#pragma unroll
    for (int k = 0; k < width; ++k) v.v[k] = k_scale * (v.v[k] - db - (xv.v[k] - mu) * r * dg);
    mb::store_pack(dx + i, v, width);
  });
}

// ---- Layer norm ------------------------------------------------------------------------------

template <int TPR, typename T>
__global__ void layernorm_forward_kernel(const T* __restrict__ x, const float* __restrict__ gamma,
                                         const float* __restrict__ beta, T* __restrict__ y, float* __restrict__ mean,
                                         float* __restrict__ rstd, int64_t rows, int cols, float eps, bool vec) {
  using Geometry = mb::RowGeometry<TPR>;
  __shared__ float scratch[Geometry::kWarps];
  for (int64_t row = int64_t(blockIdx.x) * Geometry::kRowsPerBlock + threadIdx.y; row < rows;
       row += int64_t(gridDim.x) * Geometry::kRowsPerBlock) {
    const T* xr = x + row * cols;
    float sum = 0.f;
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack v = mb::load_pack(xr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) sum += v.v[k];
    });
    const float mu = mb::row_allreduce<TPR>(sum, mb::Sum{}, scratch) / float(cols);
    float sq = 0.f;
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack v = mb::load_pack(xr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) sq = fmaf(v.v[k] - mu, v.v[k] - mu, sq);
    });
    const float r = 1.f / sqrtf(mb::row_allreduce<TPR>(sq, mb::Sum{}, scratch) / float(cols) + eps);
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      Pack v = mb::load_pack(xr + j, width);
      const Pack g = mb::load_pack(gamma + j, width), b = mb::load_pack(beta + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) v.v[k] = (v.v[k] - mu) * r * g.v[k] + b.v[k];
      mb::store_pack(y + row * cols + j, v, width);
    });
    if (threadIdx.x == 0) mean[row] = mu, rstd[row] = r;
  }
}

// dx only; dgamma and dbeta come from the column kernels below.
template <int TPR, typename T>
__global__ void layernorm_backward_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                          const float* __restrict__ gamma, const float* __restrict__ mean,
                                          const float* __restrict__ rstd, T* __restrict__ dx, int64_t rows, int cols,
                                          bool vec) {
  using Geometry = mb::RowGeometry<TPR>;
  __shared__ float2 scratch[Geometry::kWarps];
  for (int64_t row = int64_t(blockIdx.x) * Geometry::kRowsPerBlock + threadIdx.y; row < rows;
       row += int64_t(gridDim.x) * Geometry::kRowsPerBlock) {
    const T* xr = x + row * cols;
    const T* dyr = dy + row * cols;
    const float mu = mean[row], r = rstd[row];
    float2 acc = make_float2(0.f, 0.f);  // (Σ g, Σ g·x̂) with g = dy·gamma
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack xv = mb::load_pack(xr + j, width), dv = mb::load_pack(dyr + j, width),
                 gv = mb::load_pack(gamma + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) {
        const float g = dv.v[k] * gv.v[k];
        acc.x += g;
        acc.y = fmaf(g, (xv.v[k] - mu) * r, acc.y);
      }
    });
    acc = mb::row_allreduce<TPR>(acc, mb::Sum{}, scratch);
    const float g_mean = acc.x / float(cols), gx_mean = acc.y / float(cols);
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack xv = mb::load_pack(xr + j, width), gv = mb::load_pack(gamma + j, width);
      Pack v = mb::load_pack(dyr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) v.v[k] = r * (v.v[k] * gv.v[k] - g_mean - (xv.v[k] - mu) * r * gx_mean);
      mb::store_pack(dx + row * cols + j, v, width);
    });
  }
}

// Column sums over a slice of rows: block (32 columns) × (kLnColRows row phases); grid x over
// column groups, y over row slices. partial[s·cols + j] = (Σ dy·x̂, Σ dy).
constexpr int kLnColRows = 8;

template <typename T>
__global__ void layernorm_param_partial_kernel(const T* __restrict__ x, const T* __restrict__ dy,
                                               const float* __restrict__ mean, const float* __restrict__ rstd,
                                               float2* __restrict__ partial, int64_t rows, int cols) {
  __shared__ float2 scratch[kLnColRows][33];
  const int j = blockIdx.x * 32 + threadIdx.x;
  const int64_t per = (rows + gridDim.y - 1) / gridDim.y;
  const int64_t begin = blockIdx.y * per, end = begin + per < rows ? begin + per : rows;
  float2 acc = make_float2(0.f, 0.f);
  if (j < cols) {
    for (int64_t row = begin + threadIdx.y; row < end; row += kLnColRows) {
      const float g = mb::to_float(dy[row * cols + j]);
      acc.x = fmaf(g, (mb::to_float(x[row * cols + j]) - mean[row]) * rstd[row], acc.x);
      acc.y += g;
    }
  }
  scratch[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y != 0 || j >= cols) return;
  for (int t = 1; t < kLnColRows; ++t) acc = mb::Sum{}(acc, scratch[t][threadIdx.x]);
  partial[int64_t(blockIdx.y) * cols + j] = acc;
}

__global__ void layernorm_param_finish_kernel(const float2* __restrict__ partial, float* __restrict__ dgamma,
                                              float* __restrict__ dbeta, int cols, int splits) {
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j >= cols) return;
  float2 acc = make_float2(0.f, 0.f);
  for (int s = 0; s < splits; ++s) acc = mb::Sum{}(acc, partial[int64_t(s) * cols + j]);
  dgamma[j] = acc.x;
  dbeta[j] = acc.y;
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
#define TRAINRATE_MB_LN(T)                                                                    \
  &layernorm_forward_kernel<32, T>, &layernorm_forward_kernel<mb::kRowBlockThreads, T>,       \
      &layernorm_backward_kernel<32, T>, &layernorm_backward_kernel<mb::kRowBlockThreads, T>, \
      &layernorm_param_partial_kernel<T>
using RtcKernels =
    detail::RtcKernels<&bn_stats_partial_kernel<1>, &bn_stats_partial_kernel<mb::kVec>, &bn_stats_finish_kernel,
                       &bn_apply_kernel, &bn_grad_partial_kernel<1>, &bn_grad_partial_kernel<mb::kVec>,
                       &bn_grad_finish_kernel, &bn_grad_apply_kernel, TRAINRATE_MB_LN(float), TRAINRATE_MB_LN(__half),
                       TRAINRATE_MB_LN(__nv_bfloat16), &layernorm_param_finish_kernel>;
#undef TRAINRATE_MB_LN
#else
// Slices per channel: enough blocks to fill a large GPU when C is small, each still summing a
// few thousand values; a pure function of the shape so the workspace size is known up front.
constexpr int64_t kBnValuesPerSlice = 4096;
constexpr int64_t kBnMaxSplits = 256;

struct BnShape {
  int channels;
  int64_t n, hw, count;  // count = n·hw values per channel
  int splits;
};

BnShape bn_shape(int64_t n, int64_t c, int64_t hw) {
  mb::require(n >= 1 && hw >= 1, "batchnorm: N and HW must be positive");
  mb::require(c >= 1 && c <= 65535, "batchnorm: C must be in [1, 65535] (grid y)");
  const int64_t count = n * hw;
  const int64_t splits = (count + kBnValuesPerSlice - 1) / kBnValuesPerSlice;
  return {int(c), n, hw, count, int(splits < kBnMaxSplits ? splits : kBnMaxSplits)};
}

constexpr int kWarpsPerFinishBlock = mb::kThreads / 32;

dim3 bn_partial_grid(const BnShape& s) { return dim3(unsigned(s.splits), unsigned(s.channels)); }
int bn_finish_blocks(const BnShape& s) { return (s.channels + kWarpsPerFinishBlock - 1) / kWarpsPerFinishBlock; }

// Layer norm backward's row slices for the column sums (each slice at least kLnRowsPerSlice rows).
constexpr int64_t kLnRowsPerSlice = 64;
constexpr int64_t kLnMaxSplits = 128;
int ln_splits(int64_t rows) {
  const int64_t wanted = (rows + kLnRowsPerSlice - 1) / kLnRowsPerSlice;
  return int(wanted < kLnMaxSplits ? wanted : kLnMaxSplits);
}

void check_ln(int64_t rows, int64_t cols) {
  mb::require(rows >= 1, "layernorm: rows must be positive");
  mb::require_positive_int(cols, "layernorm: cols must be in [1, INT_MAX]");
}
#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
size_t batchnorm_workspace_bytes(int64_t n, int64_t c, int64_t hw) {
  const BnShape s = bn_shape(n, c, hw);
  return size_t(s.channels) * size_t(s.splits) * sizeof(float2);
}

void batchnorm_forward_training(const float* x, const float* gamma, const float* beta, float* y, float* saved_mean,
                                float* saved_inv_std, int64_t n, int64_t c, int64_t hw, float eps, void* workspace,
                                cudaStream_t stream) {
  const BnShape s = bn_shape(n, c, hw);
  auto* partial = static_cast<float2*>(workspace);
  const bool vec = hw % mb::kVec == 0 && mb::vec_aligned<float>(x, y);
  if (vec)
    bn_stats_partial_kernel<mb::kVec>
        <<<bn_partial_grid(s), mb::kRowBlockThreads, 0, stream>>>(x, partial, s.channels, n, hw);
  else
    bn_stats_partial_kernel<1><<<bn_partial_grid(s), mb::kRowBlockThreads, 0, stream>>>(x, partial, s.channels, n, hw);
  TRAINRATE_CHECK_LAUNCH();
  bn_stats_finish_kernel<<<bn_finish_blocks(s), mb::kThreads, 0, stream>>>(x, partial, saved_mean, saved_inv_std,
                                                                           s.channels, s.splits, hw, s.count, eps);
  TRAINRATE_CHECK_LAUNCH();
  const int64_t total = s.count * s.channels;
  bn_apply_kernel<<<mb::elementwise_blocks(total, vec), mb::kThreads, 0, stream>>>(
      x, gamma, beta, saved_mean, saved_inv_std, y, total, s.channels, hw, vec);
  TRAINRATE_CHECK_LAUNCH();
}

void batchnorm_backward(const float* x, const float* dy, const float* gamma, const float* saved_mean,
                        const float* saved_inv_std, float* dx, float* dgamma, float* dbeta, int64_t n, int64_t c,
                        int64_t hw, void* workspace, cudaStream_t stream) {
  const BnShape s = bn_shape(n, c, hw);
  auto* partial = static_cast<float2*>(workspace);
  const bool vec = hw % mb::kVec == 0 && mb::vec_aligned<float>(x, dy, dx);
  if (vec)
    bn_grad_partial_kernel<mb::kVec><<<bn_partial_grid(s), mb::kRowBlockThreads, 0, stream>>>(
        x, dy, saved_mean, saved_inv_std, partial, s.channels, n, hw);
  else
    bn_grad_partial_kernel<1><<<bn_partial_grid(s), mb::kRowBlockThreads, 0, stream>>>(x, dy, saved_mean, saved_inv_std,
                                                                                       partial, s.channels, n, hw);
  TRAINRATE_CHECK_LAUNCH();
  bn_grad_finish_kernel<<<bn_finish_blocks(s), mb::kThreads, 0, stream>>>(partial, dgamma, dbeta, s.channels, s.splits);
  TRAINRATE_CHECK_LAUNCH();
  const int64_t total = s.count * s.channels;
  bn_grad_apply_kernel<<<mb::elementwise_blocks(total, vec), mb::kThreads, 0, stream>>>(
      x, dy, gamma, saved_mean, saved_inv_std, dgamma, dbeta, dx, total, s.channels, hw, float(1.0 / double(s.count)),
      vec);
  TRAINRATE_CHECK_LAUNCH();
}

void layernorm_forward(Dtype dtype, const void* x, const float* gamma, const float* beta, void* y, float* mean,
                       float* rstd, int64_t rows, int64_t cols, float eps, cudaStream_t stream) {
  check_ln(rows, cols);
  mb::with_storage_type(dtype, "layernorm_forward", [&](auto tag) {
    using T = decltype(tag);
    const bool vec = cols % mb::kVec == 0 && mb::vec_aligned<T>(x, y) && mb::vec_aligned<float>(gamma, beta);
    mb::with_row_threads(cols, [&](auto threads) {
      constexpr int TPR = decltype(threads)::value;
      layernorm_forward_kernel<TPR, T><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
          static_cast<const T*>(x), gamma, beta, static_cast<T*>(y), mean, rstd, rows, int(cols), eps, vec);
      TRAINRATE_CHECK_LAUNCH();
    });
  });
}

size_t layernorm_backward_workspace_bytes(int64_t rows, int64_t cols) {
  check_ln(rows, cols);
  return size_t(ln_splits(rows)) * size_t(cols) * sizeof(float2);
}

void layernorm_backward(Dtype dtype, const void* x, const void* dy, const float* gamma, const float* mean,
                        const float* rstd, void* dx, float* dgamma, float* dbeta, int64_t rows, int64_t cols,
                        void* workspace, cudaStream_t stream) {
  check_ln(rows, cols);
  auto* partial = static_cast<float2*>(workspace);
  const int splits = ln_splits(rows);
  mb::with_storage_type(dtype, "layernorm_backward", [&](auto tag) {
    using T = decltype(tag);
    const auto* xt = static_cast<const T*>(x);
    const auto* dyt = static_cast<const T*>(dy);
    const bool vec = cols % mb::kVec == 0 && mb::vec_aligned<T>(x, dy, dx) && mb::vec_aligned<float>(gamma);
    mb::with_row_threads(cols, [&](auto threads) {
      constexpr int TPR = decltype(threads)::value;
      layernorm_backward_kernel<TPR, T><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
          xt, dyt, gamma, mean, rstd, static_cast<T*>(dx), rows, int(cols), vec);
      TRAINRATE_CHECK_LAUNCH();
    });
    const dim3 grid(unsigned((cols + 31) / 32), unsigned(splits));
    layernorm_param_partial_kernel<T>
        <<<grid, dim3(32, kLnColRows), 0, stream>>>(xt, dyt, mean, rstd, partial, rows, int(cols));
    TRAINRATE_CHECK_LAUNCH();
  });
  layernorm_param_finish_kernel<<<mb::blocks_for(cols), mb::kThreads, 0, stream>>>(partial, dgamma, dbeta, int(cols),
                                                                                   splits);
  TRAINRATE_CHECK_LAUNCH();
}
#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
