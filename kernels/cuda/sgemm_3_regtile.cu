// sgemm-regtile: step 3, 2-D register blocking with vectorized loads.
//
// What changed: each of 256 threads now computes an 8×8 block of C held in registers, so one
// K step loads 8 values of op(A) and 8 of op(B) from shared memory (as float4s) and issues 64
// FMAs: 4 FMAs per shared load instead of 0.5. The block tile grows to 128×128 (K-slice 8), so
// each global element is reused 128 times. Global loads are float4 along whichever index is
// contiguous in memory and are transposed into a [K][M]/[K][N] shared layout when needed; the
// transposes are template parameters (4 instantiations). What remains: a thread's 8 rows are
// contiguous, so the lanes of a warp read shared memory 32 bytes apart (2-way bank conflicts),
// and the warp's footprint in shared memory is not compact — step 4 arranges threads by warp.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 8;  // block tile
constexpr int kTM = 8, kTN = 8;               // thread tile
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);
constexpr int kLds = kBM + 4;  // +4 floats keeps float4 alignment and spreads the transposed stores
static_assert(kBM == kBN, "square block tile: A and B tiles share the shared-memory row length");
static_assert(kThreads == 256, "16×16 threads of 8×8 outputs cover the 128×128 tile");
static_assert(kTM % 4 == 0 && kTN % 4 == 0, "thread tiles are read from shared memory as float4s");

template <Op OPA, Op OPB>
__global__ void __launch_bounds__(kThreads)
sgemm_regtile_kernel(int m, int n, int k, const float* __restrict__ a, const float* __restrict__ b,
                     float* __restrict__ c, int64_t batch, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float as[kBK * kLds];  // as[l][i] = op(A)(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[kBK * kLds];  // bs[l][j] = op(B)(l0 + l, j0 + j)
  detail::Fp32TileLoader<kBK, kBM, kLds, kThreads, OPA == Op::N> load_a;
  detail::Fp32TileLoader<kBK, kBN, kLds, kThreads, OPB == Op::T> load_b;
  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * kBM, j0 = int(blockIdx.y) * kBN;
  const int tm = int(threadIdx.x) % (kBM / kTM), tn = int(threadIdx.x) / (kBM / kTM);

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc[kTM][kTN] = {};
    for (int l0 = 0; l0 < k; l0 += kBK) {
      load_a.fetch(ab, lda, i0, l0, m, k, vec_a);
      load_b.fetch(bb, ldb, j0, l0, n, k, vec_b);
      load_a.store(as);
      load_b.store(bs);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < kBK; ++l) {
        float ra[kTM], rb[kTN];
#pragma unroll
        for (int q = 0; q < kTM; q += 4) *reinterpret_cast<float4*>(&ra[q]) = *reinterpret_cast<const float4*>(&as[l * kLds + tm * kTM + q]);
#pragma unroll
        for (int q = 0; q < kTN; q += 4) *reinterpret_cast<float4*>(&rb[q]) = *reinterpret_cast<const float4*>(&bs[l * kLds + tn * kTN + q]);
#pragma unroll
        for (int x = 0; x < kTM; ++x)
#pragma unroll
          for (int y = 0; y < kTN; ++y) acc[x][y] = fmaf(ra[x], rb[y], acc[x][y]);
      }
      __syncthreads();
    }
    float* cb = c + e * int64_t(m) * n;
#pragma unroll
    for (int y = 0; y < kTN; ++y) {
      float col[kTM];
#pragma unroll
      for (int x = 0; x < kTM; ++x) col[x] = acc[x][y];
      detail::store_column_run<kTM>(cb, m, m, n, i0 + tm * kTM, j0 + tn * kTN + y, col, vec_c);
    }
  }
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels = detail::RtcKernels<&sgemm_regtile_kernel<Op::N, Op::N>,
                                       &sgemm_regtile_kernel<Op::N, Op::T>,
                                       &sgemm_regtile_kernel<Op::T, Op::N>,
                                       &sgemm_regtile_kernel<Op::T, Op::T>>;
#else
template <Op OPA, Op OPB>
void launch(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  const dim3 grid = detail::gemm_grid(p.m, p.n, p.batch, kBM, kBN);
  const bool vec_a = p.lda() % 4 == 0 && detail::aligned16(a);
  const bool vec_b = p.ldb() % 4 == 0 && detail::aligned16(b);
  const bool vec_c = p.ldc() % 4 == 0 && detail::aligned16(c);
  sgemm_regtile_kernel<OPA, OPB><<<grid, kThreads, 0, stream>>>(int(p.m), int(p.n), int(p.k), a, b, c, p.batch,
                                                                vec_a, vec_b, vec_c);
  TRAINRATE_CHECK_LAUNCH();
}

#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void sgemm_regtile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  if (p.op_a == Op::N && p.op_b == Op::N) return launch<Op::N, Op::N>(p, a, b, c, stream);
  if (p.op_a == Op::N && p.op_b == Op::T) return launch<Op::N, Op::T>(p, a, b, c, stream);
  if (p.op_a == Op::T && p.op_b == Op::N) return launch<Op::T, Op::N>(p, a, b, c, stream);
  return launch<Op::T, Op::T>(p, a, b, c, stream);
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
