// sgemm-naive: step 1 of the fp32 ladder, the baseline every later step is measured against.
//
// One thread computes one element of C with a plain dot product over K, reading op(A) and op(B)
// straight from global memory through runtime strides (so one kernel covers every transpose).
// threadIdx.x walks M, the contiguous index of column-major C, so stores and op-N loads of A are
// coalesced; every operand element is still fetched from DRAM/L2 about N (or M) / 32 times over,
// which is why this step is memory-bound at a few percent of peak.
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using Cfg = ladder::SgemmNaive;

// op(A)(i, l) = a[i·a_si + l·a_sl]; op(B)(l, j) = b[l·b_sl + j·b_sj]; C(i, j) = c[i + j·ldc].
__global__ void __launch_bounds__(Cfg::kBlockX * Cfg::kBlockY)
sgemm_naive_kernel(int m, int n, int k, const float* __restrict__ a, int64_t a_si, int64_t a_sl,
                   const float* __restrict__ b, int64_t b_sl, int64_t b_sj, float* __restrict__ c, int64_t ldc,
                   int64_t batch) {
  const int i = int(blockIdx.x) * Cfg::kTile + int(threadIdx.x);
  const int j = int(blockIdx.y) * Cfg::kTile + int(threadIdx.y);
  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float* cb = c + e * int64_t(m) * n;
    // Each thread covers row i and columns j, j+8, j+16, j+24 of its 32×32 tile.
    for (int jj = j; jj < int(blockIdx.y) * Cfg::kTile + Cfg::kTile; jj += Cfg::kBlockY) {
      if (i >= m || jj >= n) continue;
      float acc = 0.f;
      for (int l = 0; l < k; ++l) acc = fmaf(ab[i * a_si + l * a_sl], bb[l * b_sl + jj * b_sj], acc);
      cb[i + jj * ldc] = acc;
    }
  }
}

struct Step : Cfg {
  static constexpr auto kernel = &sgemm_naive_kernel;
};

}  // namespace

#ifndef __CUDACC_RTC__  // host launcher; NVRTC compiles only the kernel (see common.cuh)
void sgemm_naive(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::run_strided_gemm<Step>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
