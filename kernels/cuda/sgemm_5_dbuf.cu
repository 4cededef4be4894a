// sgemm-dbuf: step 5, double-buffered shared memory — the fastest fp32 SGEMM of the ladder.
//
// What changed from step 4 (same block, warp and thread tiles): shared memory holds two
// K-slices. While the warps compute on one, each thread's global loads for the next slice are
// already in flight into registers; they are written to the other buffer after the math, so
// the global-memory latency hides behind 16 K steps of FMAs and the block needs a single
// __syncthreads per K-slice instead of two. (Asking for two blocks per SM, i.e. at most 128
// registers a thread, made ptxas spill on sm_80, so this stays at one 8-warp block per SM.)
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using Cfg = ladder::SgemmDbuf;

template <Op OPA, Op OPB>
__global__ void __launch_bounds__(Cfg::kThreads)
sgemm_dbuf_kernel(int m, int n, int k, const float* __restrict__ a, const float* __restrict__ b,
                  float* __restrict__ c, int64_t batch, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float as[2 * Cfg::kStage];  // as[buf][l][i] = op(A)(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[2 * Cfg::kStage];  // bs[buf][l][j] = op(B)(l0 + l, j0 + j)
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBM, Cfg::kLds, Cfg::kThreads, OPA == Op::N> load_a;
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBN, Cfg::kLds, Cfg::kThreads, OPB == Op::T> load_b;
  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp % Cfg::kWarpsM) * Cfg::kWM, wn = (warp / Cfg::kWarpsM) * Cfg::kWN;
  const int tm = (lane % Cfg::kLanesM) * Cfg::kTM, tn = (lane / Cfg::kLanesM) * Cfg::kTN;
  const int k_tiles = (k + Cfg::kBK - 1) / Cfg::kBK;

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc[Cfg::kWIterM * Cfg::kTM][Cfg::kWIterN * Cfg::kTN] = {};

    load_a.fetch(ab, lda, i0, 0, m, k, vec_a);
    load_b.fetch(bb, ldb, j0, 0, n, k, vec_b);
    load_a.store(as);
    load_b.store(bs);
    __syncthreads();
    for (int t = 0; t < k_tiles; ++t) {
      const bool more = t + 1 < k_tiles;
      if (more) {  // issue the next slice's global loads; they land while we compute
        load_a.fetch(ab, lda, i0, (t + 1) * Cfg::kBK, m, k, vec_a);
        load_b.fetch(bb, ldb, j0, (t + 1) * Cfg::kBK, n, k, vec_b);
      }
      const float* sa = as + (t % 2) * Cfg::kStage;
      const float* sb = bs + (t % 2) * Cfg::kStage;
#pragma unroll
      for (int l = 0; l < Cfg::kBK; ++l) {
        float ra[Cfg::kWIterM * Cfg::kTM], rb[Cfg::kWIterN * Cfg::kTN];
#pragma unroll
        for (int wi = 0; wi < Cfg::kWIterM; ++wi)
          *reinterpret_cast<float4*>(&ra[wi * Cfg::kTM]) =
              *reinterpret_cast<const float4*>(&sa[l * Cfg::kLds + wm + wi * (Cfg::kLanesM * Cfg::kTM) + tm]);
#pragma unroll
        for (int wj = 0; wj < Cfg::kWIterN; ++wj)
          *reinterpret_cast<float4*>(&rb[wj * Cfg::kTN]) =
              *reinterpret_cast<const float4*>(&sb[l * Cfg::kLds + wn + wj * (Cfg::kLanesN * Cfg::kTN) + tn]);
#pragma unroll
        for (int x = 0; x < Cfg::kWIterM * Cfg::kTM; ++x)
#pragma unroll
          for (int y = 0; y < Cfg::kWIterN * Cfg::kTN; ++y) acc[x][y] = fmaf(ra[x], rb[y], acc[x][y]);
      }
      // The other buffer was last read in iteration t-1, which every thread finished before
      // the barrier that ended it, so it can be overwritten now without a second barrier.
      if (more) {
        load_a.store(as + ((t + 1) % 2) * Cfg::kStage);
        load_b.store(bs + ((t + 1) % 2) * Cfg::kStage);
      }
      __syncthreads();
    }
    float* cb = c + e * int64_t(m) * n;
#pragma unroll
    for (int wi = 0; wi < Cfg::kWIterM; ++wi)
#pragma unroll
      for (int y = 0; y < Cfg::kWIterN * Cfg::kTN; ++y) {
        const int j = j0 + wn + (y / Cfg::kTN) * (Cfg::kLanesN * Cfg::kTN) + tn + y % Cfg::kTN;
        float col[Cfg::kTM];
#pragma unroll
        for (int x = 0; x < Cfg::kTM; ++x) col[x] = acc[wi * Cfg::kTM + x][y];
        detail::store_column_run<Cfg::kTM>(cb, m, m, n, i0 + wm + wi * (Cfg::kLanesM * Cfg::kTM) + tm, j, col, vec_c);
      }
  }
}

struct Step : Cfg {
  template <typename, Op OPA, Op OPB>
  static constexpr auto kernel = &sgemm_dbuf_kernel<OPA, OPB>;
};

}  // namespace

#ifdef __CUDACC_RTC__
using RtcKernels = detail::RtcGemmKernels<Step, float>;  // what the launcher below instantiates
#else
void sgemm_dbuf(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  detail::run_gemm_ops<Step, float>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
