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
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using Cfg = ladder::SgemmRegtile;

template <Op OPA, Op OPB>
__global__ void __launch_bounds__(Cfg::kThreads)
sgemm_regtile_kernel(int m, int n, int k, const float* __restrict__ a, const float* __restrict__ b,
                     float* __restrict__ c, int64_t batch, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float as[Cfg::kBK * Cfg::kLds];  // as[l][i] = op(A)(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[Cfg::kBK * Cfg::kLds];  // bs[l][j] = op(B)(l0 + l, j0 + j)
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBM, Cfg::kLds, Cfg::kThreads, OPA == Op::N> load_a;
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBN, Cfg::kLds, Cfg::kThreads, OPB == Op::T> load_b;
  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int tm = int(threadIdx.x) % (Cfg::kBM / Cfg::kTM), tn = int(threadIdx.x) / (Cfg::kBM / Cfg::kTM);

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc[Cfg::kTM][Cfg::kTN] = {};
    for (int l0 = 0; l0 < k; l0 += Cfg::kBK) {
      load_a.fetch(ab, lda, i0, l0, m, k, vec_a);
      load_b.fetch(bb, ldb, j0, l0, n, k, vec_b);
      load_a.store(as);
      load_b.store(bs);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < Cfg::kBK; ++l) {
        float ra[Cfg::kTM], rb[Cfg::kTN];
#pragma unroll
        for (int q = 0; q < Cfg::kTM; q += 4) *reinterpret_cast<float4*>(&ra[q]) = *reinterpret_cast<const float4*>(&as[l * Cfg::kLds + tm * Cfg::kTM + q]);
#pragma unroll
        for (int q = 0; q < Cfg::kTN; q += 4) *reinterpret_cast<float4*>(&rb[q]) = *reinterpret_cast<const float4*>(&bs[l * Cfg::kLds + tn * Cfg::kTN + q]);
#pragma unroll
        for (int x = 0; x < Cfg::kTM; ++x)
#pragma unroll
          for (int y = 0; y < Cfg::kTN; ++y) acc[x][y] = fmaf(ra[x], rb[y], acc[x][y]);
      }
      __syncthreads();
    }
    float* cb = c + e * int64_t(m) * n;
#pragma unroll
    for (int y = 0; y < Cfg::kTN; ++y) {
      float col[Cfg::kTM];
#pragma unroll
      for (int x = 0; x < Cfg::kTM; ++x) col[x] = acc[x][y];
      detail::store_column_run<Cfg::kTM>(cb, m, m, n, i0 + tm * Cfg::kTM, j0 + tn * Cfg::kTN + y, col, vec_c);
    }
  }
}

struct Step : Cfg {
  template <typename, Op OPA, Op OPB>
  static constexpr auto kernel = &sgemm_regtile_kernel<OPA, OPB>;
};

}  // namespace

#ifdef __CUDACC_RTC__
using RtcKernels = detail::RtcGemmKernels<Step, float>;  // what the launcher below instantiates
#else
void sgemm_regtile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  detail::run_gemm_ops<Step, float>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
