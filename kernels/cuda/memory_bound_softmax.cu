// Row softmax (with an optional causal mask) and cross-entropy, one warp per row for short rows and
// one block per row for long ones.
//
// The forward passes read each row twice: once for the running (max, Σ exp) pair, which merges
// across threads with shuffles so max and sum need one pass instead of two, and once to write.
#include "kernels/cuda/memory_bound_device.cuh"

namespace trainrate::cuda_kernels {
namespace {

using mb::Pack;

template <int TPR>
__device__ __forceinline__ int64_t first_row() {
  return int64_t(blockIdx.x) * mb::RowGeometry<TPR>::kRowsPerBlock + threadIdx.y;
}
template <int TPR>
__device__ __forceinline__ int64_t row_stride() {
  return int64_t(gridDim.x) * mb::RowGeometry<TPR>::kRowsPerBlock;
}

// (max, Σ exp(v − max)) over v = scale·x for the first `valid` columns of the row, combined across
// the row's threads.
template <int TPR, typename T>
__device__ __forceinline__ float2 row_max_exp_sum(const T* xr, int cols, int valid, float scale, bool vec,
                                                  float2* scratch) {
  float2 acc = make_float2(mb::neg_inf(), 0.f);
  mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
    if (j >= valid) return;
    const Pack v = mb::load_pack(xr + j, width);
#pragma unroll
    for (int k = 0; k < width; ++k)
      if (j + k < valid) acc = mb::max_exp_sum_add(acc, scale * v.v[k]);
  });
  return mb::row_allreduce<TPR>(acc, mb::MaxExpSum{}, scratch);
}

// y may alias x: a thread writes only the elements it has just read.
template <int TPR, typename T>
__global__ void softmax_forward_kernel(const T* x, T* y, int64_t rows, int cols, float scale, int64_t causal_seq,
                                       bool vec) {
  __shared__ float2 scratch[mb::RowGeometry<TPR>::kWarps];
  for (int64_t row = first_row<TPR>(); row < rows; row += row_stride<TPR>()) {
    // Causal: row position i = row % seq sees columns 0..i.
    const int valid = causal_seq > 0 && row % causal_seq < cols ? int(row % causal_seq) + 1 : cols;
    const T* xr = x + row * cols;
    const float2 stats = row_max_exp_sum<TPR>(xr, cols, valid, scale, vec, scratch);
    const float inv_sum = 1.f / stats.y;
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      Pack v = mb::load_pack(xr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) v.v[k] = j + k < valid ? expf(scale * v.v[k] - stats.x) * inv_sum : 0.f;
      mb::store_pack(y + row * cols + j, v, width);
    });
  }
}

template <int TPR, typename T>
__global__ void softmax_backward_kernel(const T* __restrict__ y, const T* __restrict__ dy, T* __restrict__ dx,
                                        int64_t rows, int cols, float scale, bool vec) {
  __shared__ float scratch[mb::RowGeometry<TPR>::kWarps];
  for (int64_t row = first_row<TPR>(); row < rows; row += row_stride<TPR>()) {
    const T* yr = y + row * cols;
    const T* dyr = dy + row * cols;
    float dot = 0.f;
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack yv = mb::load_pack(yr + j, width), gv = mb::load_pack(dyr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) dot = fmaf(yv.v[k], gv.v[k], dot);
    });
    dot = mb::row_allreduce<TPR>(dot, mb::Sum{}, scratch);
    mb::for_each_column<TPR>(cols, vec, [&](int j, int width) {
      const Pack yv = mb::load_pack(yr + j, width);
      Pack v = mb::load_pack(dyr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k) v.v[k] = scale * yv.v[k] * (v.v[k] - dot);
      mb::store_pack(dx + row * cols + j, v, width);
    });
  }
}

__device__ __forceinline__ bool label_ok(int32_t label, int classes) { return label >= 0 && label < classes; }

// *loss was zeroed; each row group adds its rows' share of the mean once, at the end.
template <int TPR>
__global__ void cross_entropy_forward_kernel(const float* __restrict__ logits, const int32_t* __restrict__ labels,
                                             float* __restrict__ loss, int64_t rows, int classes, bool vec) {
  __shared__ float2 scratch[mb::RowGeometry<TPR>::kWarps];
  float total = 0.f;
  for (int64_t row = first_row<TPR>(); row < rows; row += row_stride<TPR>()) {
    const float* xr = logits + row * classes;
    const float2 stats = row_max_exp_sum<TPR>(xr, classes, classes, 1.f, vec, scratch);
    const int32_t label = labels[row];
    total += label_ok(label, classes) ? stats.x + logf(stats.y) - xr[label] : mb::quiet_nan();
  }
  if (threadIdx.x == 0 && total != 0.f) atomicAdd(loss, total / float(rows));
}

template <int TPR>
__global__ void cross_entropy_backward_kernel(const float* __restrict__ logits, const int32_t* __restrict__ labels,
                                              float* __restrict__ dlogits, int64_t rows, int classes, bool vec) {
  __shared__ float2 scratch[mb::RowGeometry<TPR>::kWarps];
  const float inv_rows = 1.f / float(rows);
  for (int64_t row = first_row<TPR>(); row < rows; row += row_stride<TPR>()) {
    const float* xr = logits + row * classes;
    const float2 stats = row_max_exp_sum<TPR>(xr, classes, classes, 1.f, vec, scratch);
    const int32_t label = labels[row];
    const float inv_sum = label_ok(label, classes) ? 1.f / stats.y : mb::quiet_nan();
    mb::for_each_column<TPR>(classes, vec, [&](int j, int width) {
      Pack v = mb::load_pack(xr + j, width);
#pragma unroll
      for (int k = 0; k < width; ++k)
        v.v[k] = (expf(v.v[k] - stats.x) * inv_sum - (j + k == label ? 1.f : 0.f)) * inv_rows;
      mb::store_pack(dlogits + row * classes + j, v, width);
    });
  }
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
#define TRAINRATE_MB_SOFTMAX(T)                                                                                      \
  &softmax_forward_kernel<32, T>, &softmax_forward_kernel<mb::kRowBlockThreads, T>, &softmax_backward_kernel<32, T>, \
      &softmax_backward_kernel<mb::kRowBlockThreads, T>
using RtcKernels =
    detail::RtcKernels<TRAINRATE_MB_SOFTMAX(float), TRAINRATE_MB_SOFTMAX(__half), TRAINRATE_MB_SOFTMAX(__nv_bfloat16),
                       &cross_entropy_forward_kernel<32>, &cross_entropy_forward_kernel<mb::kRowBlockThreads>,
                       &cross_entropy_backward_kernel<32>, &cross_entropy_backward_kernel<mb::kRowBlockThreads>>;
#undef TRAINRATE_MB_SOFTMAX
#else
void check_rows(int64_t rows, int64_t cols, const char* what) {
  mb::require(rows >= 1, what);
  mb::require_positive_int(cols, what);
}
#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void softmax_forward(Dtype dtype, const void* x, void* y, int64_t rows, int64_t cols, float scale, int64_t causal_seq,
                     cudaStream_t stream) {
  check_rows(rows, cols, "softmax_forward: rows and cols must be in [1, INT_MAX]");
  mb::require(causal_seq >= 0, "softmax_forward: causal_seq must not be negative");
  mb::with_storage_type(dtype, "softmax_forward", [&](auto tag) {
    using T = decltype(tag);
    const bool vec = cols % mb::kVec == 0 && mb::vec_aligned<T>(x, y);
    mb::with_row_threads(cols, [&](auto threads) {
      constexpr int TPR = decltype(threads)::value;
      softmax_forward_kernel<TPR, T><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
          static_cast<const T*>(x), static_cast<T*>(y), rows, int(cols), scale, causal_seq, vec);
      TRAINRATE_CHECK_LAUNCH();
    });
  });
}

void softmax_backward(Dtype dtype, const void* y, const void* dy, void* dx, int64_t rows, int64_t cols, float scale,
                      cudaStream_t stream) {
  check_rows(rows, cols, "softmax_backward: rows and cols must be in [1, INT_MAX]");
  mb::with_storage_type(dtype, "softmax_backward", [&](auto tag) {
    using T = decltype(tag);
    const bool vec = cols % mb::kVec == 0 && mb::vec_aligned<T>(y, dy, dx);
    mb::with_row_threads(cols, [&](auto threads) {
      constexpr int TPR = decltype(threads)::value;
      softmax_backward_kernel<TPR, T><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
          static_cast<const T*>(y), static_cast<const T*>(dy), static_cast<T*>(dx), rows, int(cols), scale, vec);
      TRAINRATE_CHECK_LAUNCH();
    });
  });
}

void cross_entropy_forward(const float* logits, const int32_t* labels, float* loss_out, int64_t rows, int64_t classes,
                           cudaStream_t stream) {
  check_rows(rows, classes, "cross_entropy_forward: rows and classes must be in [1, INT_MAX]");
  TRAINRATE_CUDA_CHECK(cudaMemsetAsync(loss_out, 0, sizeof(float), stream));
  const bool vec = classes % mb::kVec == 0 && mb::vec_aligned<float>(logits);
  mb::with_row_threads(classes, [&](auto threads) {
    constexpr int TPR = decltype(threads)::value;
    cross_entropy_forward_kernel<TPR><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
        logits, labels, loss_out, rows, int(classes), vec);
    TRAINRATE_CHECK_LAUNCH();
  });
}

void cross_entropy_backward(const float* logits, const int32_t* labels, float* dlogits, int64_t rows, int64_t classes,
                            cudaStream_t stream) {
  check_rows(rows, classes, "cross_entropy_backward: rows and classes must be in [1, INT_MAX]");
  const bool vec = classes % mb::kVec == 0 && mb::vec_aligned<float>(logits, dlogits);
  mb::with_row_threads(classes, [&](auto threads) {
    constexpr int TPR = decltype(threads)::value;
    cross_entropy_backward_kernel<TPR><<<mb::row_blocks<TPR>(rows), mb::row_block_dim(TPR), 0, stream>>>(
        logits, labels, dlogits, rows, int(classes), vec);
    TRAINRATE_CHECK_LAUNCH();
  });
}
#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
