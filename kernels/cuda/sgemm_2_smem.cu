// sgemm-smem: step 2, shared-memory tiling.
//
// What changed: the block now stages a 32×32 tile of op(A) and of op(B) in shared memory, one
// K-slice of 32 at a time, and every thread reads its dot-product operands from there. Each
// element loaded from global memory is reused 32 times instead of once, cutting DRAM/L2 traffic
// by 32×. Still one output per thread, so every FMA costs two shared-memory loads: the kernel is
// now bound by shared-memory bandwidth, which step 3 attacks. Loads keep runtime strides
// (one kernel for every transpose) and zero-fill outside the matrix, so any shape is correct.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kTile = 32;  // block tile 32×32, K-slice 32, 32×32 threads

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

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void sgemm_smem(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  const int64_t a_si = p.op_a == Op::N ? 1 : p.lda(), a_sl = p.op_a == Op::N ? p.lda() : 1;
  const int64_t b_sl = p.op_b == Op::N ? 1 : p.ldb(), b_sj = p.op_b == Op::N ? p.ldb() : 1;
  const dim3 grid = detail::gemm_grid(p.m, p.n, p.batch, kTile, kTile);
  sgemm_smem_kernel<<<grid, dim3(kTile, kTile), 0, stream>>>(int(p.m), int(p.n), int(p.k), a, a_si, a_sl, b, b_sl,
                                                             b_sj, c, p.ldc(), p.batch);
  TRAINRATE_CHECK_LAUNCH();
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
