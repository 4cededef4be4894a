// sgemm-warptile: step 4, warp tiling.
//
// What changed: the 128×128 block tile is split into 8 warp tiles of 64×32, and each warp's
// 32 lanes are laid out 8 (M) × 4 (N) over it. A thread still owns 8×8 outputs, but as 2×2
// sub-tiles of 4×4 spaced a warp-width apart. Consequences: in every K step the 8 lanes that
// differ in M read 8 consecutive float4s of the A tile (128 contiguous bytes, no bank conflict)
// and lanes that share M read the same address (broadcast); a warp touches only 64+32 floats
// of shared memory per K step instead of 128+64, and the K-slice doubles to 16 so each
// __syncthreads pays for twice the math. The tile sizes are the knobs (ladder_config.hpp).
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using Cfg = ladder::SgemmWarptile;

template <Op OPA, Op OPB>
__global__ void __launch_bounds__(Cfg::kThreads)
sgemm_warptile_kernel(int m, int n, int k, const float* __restrict__ a, const float* __restrict__ b,
                      float* __restrict__ c, int64_t batch, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float as[Cfg::kBK * Cfg::kLds];  // as[l][i] = op(A)(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[Cfg::kBK * Cfg::kLds];  // bs[l][j] = op(B)(l0 + l, j0 + j)
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBM, Cfg::kLds, Cfg::kThreads, OPA == Op::N> load_a;
  detail::Fp32TileLoader<Cfg::kBK, Cfg::kBN, Cfg::kLds, Cfg::kThreads, OPB == Op::T> load_b;
  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  // The warp tile's origin in the block tile, and this thread's origin in a sub-tile.
  const int wm = (warp % Cfg::kWarpsM) * Cfg::kWM, wn = (warp / Cfg::kWarpsM) * Cfg::kWN;
  const int tm = (lane % Cfg::kLanesM) * Cfg::kTM, tn = (lane / Cfg::kLanesM) * Cfg::kTN;

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc[Cfg::kWIterM * Cfg::kTM][Cfg::kWIterN * Cfg::kTN] = {};
    for (int l0 = 0; l0 < k; l0 += Cfg::kBK) {
      load_a.fetch(ab, lda, i0, l0, m, k, vec_a);
      load_b.fetch(bb, ldb, j0, l0, n, k, vec_b);
      load_a.store(as);
      load_b.store(bs);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < Cfg::kBK; ++l) {
        float ra[Cfg::kWIterM * Cfg::kTM], rb[Cfg::kWIterN * Cfg::kTN];
#pragma unroll
        for (int wi = 0; wi < Cfg::kWIterM; ++wi)
          *reinterpret_cast<float4*>(&ra[wi * Cfg::kTM]) =
              *reinterpret_cast<const float4*>(&as[l * Cfg::kLds + wm + wi * (Cfg::kLanesM * Cfg::kTM) + tm]);
#pragma unroll
        for (int wj = 0; wj < Cfg::kWIterN; ++wj)
          *reinterpret_cast<float4*>(&rb[wj * Cfg::kTN]) =
              *reinterpret_cast<const float4*>(&bs[l * Cfg::kLds + wn + wj * (Cfg::kLanesN * Cfg::kTN) + tn]);
#pragma unroll
        for (int x = 0; x < Cfg::kWIterM * Cfg::kTM; ++x)
#pragma unroll
          for (int y = 0; y < Cfg::kWIterN * Cfg::kTN; ++y) acc[x][y] = fmaf(ra[x], rb[y], acc[x][y]);
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
  static constexpr auto kernel = &sgemm_warptile_kernel<OPA, OPB>;
};

}  // namespace

#ifdef __CUDACC_RTC__
using RtcKernels = detail::RtcGemmKernels<Step, float>;  // what the launcher below instantiates
#else
void sgemm_warptile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  detail::run_gemm_ops<Step, float>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
