// sgemm-naive: step 1 of the fp32 ladder, the baseline every later step is measured against.
//
// One thread computes one element of C with a plain dot product over K, reading op(A) and op(B)
// straight from global memory through runtime strides (so one kernel covers every transpose).
// threadIdx.x walks M, the contiguous index of column-major C, so stores and op-N loads of A are
// coalesced; every operand element is still fetched from DRAM/L2 about N (or M) / 32 times over,
// which is why this step is memory-bound at a few percent of peak.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kTile = 32;  // 32×8 threads per block, one C element each

// op(A)(i, l) = a[i·a_si + l·a_sl]; op(B)(l, j) = b[l·b_sl + j·b_sj]; C(i, j) = c[i + j·ldc].
__global__ void __launch_bounds__(kTile * 8)
sgemm_naive_kernel(int m, int n, int k, const float* __restrict__ a, int64_t a_si, int64_t a_sl,
                   const float* __restrict__ b, int64_t b_sl, int64_t b_sj, float* __restrict__ c, int64_t ldc,
                   int64_t batch) {
  const int i = int(blockIdx.x) * kTile + int(threadIdx.x);
  const int j = int(blockIdx.y) * kTile + int(threadIdx.y);
  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float* cb = c + e * int64_t(m) * n;
    // Each thread covers rows i and columns j, j+8, j+16, j+24 of its 32×32 tile.
    for (int jj = j; jj < int(blockIdx.y) * kTile + kTile; jj += 8) {
      if (i >= m || jj >= n) continue;
      float acc = 0.f;
      for (int l = 0; l < k; ++l) acc = fmaf(ab[i * a_si + l * a_sl], bb[l * b_sl + jj * b_sj], acc);
      cb[i + jj * ldc] = acc;
    }
  }
}

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void sgemm_naive(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  const int64_t a_si = p.op_a == Op::N ? 1 : p.lda(), a_sl = p.op_a == Op::N ? p.lda() : 1;
  const int64_t b_sl = p.op_b == Op::N ? 1 : p.ldb(), b_sj = p.op_b == Op::N ? p.ldb() : 1;
  const dim3 grid = detail::gemm_grid(p.m, p.n, p.batch, kTile, kTile);
  sgemm_naive_kernel<<<grid, dim3(kTile, 8), 0, stream>>>(int(p.m), int(p.n), int(p.k), a, a_si, a_sl, b, b_sl,
                                                          b_sj, c, p.ldc(), p.batch);
  TRAINRATE_CHECK_LAUNCH();
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
