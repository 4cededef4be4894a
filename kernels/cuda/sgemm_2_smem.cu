// sgemm-smem: step 2, shared-memory tiling.
//
// What changed: the block now stages a 32×32 tile of op(A) and of op(B) in shared memory, one
// K-slice of 32 at a time, and every thread reads its dot-product operands from there. Each
// element loaded from global memory is reused 32 times instead of once, cutting DRAM/L2 traffic
// by 32×. Still one output per thread, so every FMA costs two shared-memory loads: the kernel is
// now bound by shared-memory bandwidth, which step 3 attacks. Loads keep runtime strides
// (one kernel for every transpose) and zero-fill outside the matrix, so any shape is correct.
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kTile = ladder::SgemmSmem::kTile;  // block tile, K-slice, and threads per block side

__global__ void __launch_bounds__(kTile * kTile)
sgemm_smem_kernel(int m, int n, int k, const float* __restrict__ a, int64_t a_si, int64_t a_sl,
                  const float* __restrict__ b, int64_t b_sl, int64_t b_sj, float* __restrict__ c, int64_t ldc,
                  int64_t batch) {
  __shared__ float as[kTile][kTile + 1];  // as[l][i]: op(A)(i0 + i, l0 + l); +1 breaks bank conflicts on transposed fills
  __shared__ float bs[kTile][kTile + 1];  // bs[j][l]: op(B)(l0 + l, j0 + j)
  const int tx = int(threadIdx.x), ty = int(threadIdx.y);
  const int i0 = int(blockIdx.x) * kTile, j0 = int(blockIdx.y) * kTile;
  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc = 0.f;
    for (int l0 = 0; l0 < k; l0 += kTile) {
      // Thread (tx, ty) loads op(A)(i0 + tx, l0 + ty) and op(B)(l0 + tx, j0 + ty).
      const int ia = i0 + tx, la = l0 + ty, lb = l0 + tx, jb = j0 + ty;
      as[ty][tx] = (ia < m && la < k) ? ab[ia * a_si + la * a_sl] : 0.f;
      bs[ty][tx] = (lb < k && jb < n) ? bb[lb * b_sl + jb * b_sj] : 0.f;
      __syncthreads();
#pragma unroll
      for (int l = 0; l < kTile; ++l) acc = fmaf(as[l][tx], bs[ty][l], acc);
      __syncthreads();
    }
    const int i = i0 + tx, j = j0 + ty;
    if (i < m && j < n) c[e * int64_t(m) * n + i + int64_t(j) * ldc] = acc;
  }
}

struct Step : ladder::SgemmSmem {
  static constexpr auto kernel = &sgemm_smem_kernel;
};

}  // namespace

#ifndef __CUDACC_RTC__  // host launcher; NVRTC compiles only the kernel (see common.cuh)
void sgemm_smem(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::run_strided_gemm<Step>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
