// sgemm-warptile: step 4, warp tiling.
//
// What changed: the 128×128 block tile is split into 8 warp tiles of 64×32, and each warp's
// 32 lanes are laid out 8 (M) × 4 (N) over it. A thread still owns 8×8 outputs, but as 2×2
// sub-tiles of 4×4 spaced a warp-width apart. Consequences: in every K step the 8 lanes that
// differ in M read 8 consecutive float4s of the A tile (128 contiguous bytes, no bank conflict)
// and lanes that share M read the same address (broadcast); a warp touches only 64+32 floats
// of shared memory per K step instead of 128+64, and the K-slice doubles to 16 so each
// __syncthreads pays for twice the math. The block/warp/thread tile sizes below are the knobs.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kBM = 128, kBN = 128, kBK = 16;  // block tile
constexpr int kWM = 64, kWN = 32;              // warp tile
constexpr int kLanesM = 8, kLanesN = 4;        // lanes of a warp over its tile
constexpr int kTM = 4, kTN = 4;                // thread sub-tile (one float4 of A, one of B)
constexpr int kWIterM = kWM / (kLanesM * kTM), kWIterN = kWN / (kLanesN * kTN);  // sub-tiles per thread
constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
constexpr int kThreads = kWarpsM * kWarpsN * 32;
constexpr int kLds = kBM + 4;
static_assert(kBM == kBN, "square block tile: A and B tiles share the shared-memory row length");
static_assert(kLanesM * kLanesN == 32, "a warp's lanes must tile its warp tile");
static_assert(kWM % (kLanesM * kTM) == 0 && kWN % (kLanesN * kTN) == 0, "warp tile must be whole sub-tiles");
static_assert(kBM % kWM == 0 && kBN % kWN == 0, "block tile must be whole warp tiles");
static_assert(kThreads == 256, "8 warps");

template <Op OPA, Op OPB>
__global__ void __launch_bounds__(kThreads)
sgemm_warptile_kernel(int m, int n, int k, const float* __restrict__ a, const float* __restrict__ b,
                      float* __restrict__ c, int64_t batch, bool vec_a, bool vec_b, bool vec_c) {
  __shared__ __align__(16) float as[kBK * kLds];  // as[l][i] = op(A)(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[kBK * kLds];  // bs[l][j] = op(B)(l0 + l, j0 + j)
  detail::Fp32TileLoader<kBK, kBM, kLds, kThreads, OPA == Op::N> load_a;
  detail::Fp32TileLoader<kBK, kBN, kLds, kThreads, OPB == Op::T> load_b;
  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * kBM, j0 = int(blockIdx.y) * kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp % kWarpsM) * kWM, wn = (warp / kWarpsM) * kWN;  // warp tile origin in the block tile
  const int tm = (lane % kLanesM) * kTM, tn = (lane / kLanesM) * kTN;  // thread origin in a sub-tile

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const float* ab = a + e * int64_t(m) * k;
    const float* bb = b + e * int64_t(k) * n;
    float acc[kWIterM * kTM][kWIterN * kTN] = {};
    for (int l0 = 0; l0 < k; l0 += kBK) {
      load_a.fetch(ab, lda, i0, l0, m, k, vec_a);
      load_b.fetch(bb, ldb, j0, l0, n, k, vec_b);
      load_a.store(as);
      load_b.store(bs);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < kBK; ++l) {
        float ra[kWIterM * kTM], rb[kWIterN * kTN];
#pragma unroll
        for (int wi = 0; wi < kWIterM; ++wi)
          *reinterpret_cast<float4*>(&ra[wi * kTM]) =
              *reinterpret_cast<const float4*>(&as[l * kLds + wm + wi * (kLanesM * kTM) + tm]);
#pragma unroll
        for (int wj = 0; wj < kWIterN; ++wj)
          *reinterpret_cast<float4*>(&rb[wj * kTN]) =
              *reinterpret_cast<const float4*>(&bs[l * kLds + wn + wj * (kLanesN * kTN) + tn]);
#pragma unroll
        for (int x = 0; x < kWIterM * kTM; ++x)
#pragma unroll
          for (int y = 0; y < kWIterN * kTN; ++y) acc[x][y] = fmaf(ra[x], rb[y], acc[x][y]);
      }
      __syncthreads();
    }
    float* cb = c + e * int64_t(m) * n;
#pragma unroll
    for (int wi = 0; wi < kWIterM; ++wi)
#pragma unroll
      for (int y = 0; y < kWIterN * kTN; ++y) {
        const int j = j0 + wn + (y / kTN) * (kLanesN * kTN) + tn + y % kTN;
        float col[kTM];
#pragma unroll
        for (int x = 0; x < kTM; ++x) col[x] = acc[wi * kTM + x][y];
        detail::store_column_run<kTM>(cb, m, m, n, i0 + wm + wi * (kLanesM * kTM) + tm, j, col, vec_c);
      }
  }
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels = detail::RtcKernels<&sgemm_warptile_kernel<Op::N, Op::N>,
                                       &sgemm_warptile_kernel<Op::N, Op::T>,
                                       &sgemm_warptile_kernel<Op::T, Op::N>,
                                       &sgemm_warptile_kernel<Op::T, Op::T>>;
#else
template <Op OPA, Op OPB>
void launch(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  const dim3 grid = detail::gemm_grid(p.m, p.n, p.batch, kBM, kBN);
  const bool vec_a = p.lda() % 4 == 0 && detail::aligned16(a);
  const bool vec_b = p.ldb() % 4 == 0 && detail::aligned16(b);
  const bool vec_c = p.ldc() % 4 == 0 && detail::aligned16(c);
  sgemm_warptile_kernel<OPA, OPB><<<grid, kThreads, 0, stream>>>(int(p.m), int(p.n), int(p.k), a, b, c, p.batch,
                                                                 vec_a, vec_b, vec_c);
  TRAINRATE_CHECK_LAUNCH();
}

#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void sgemm_warptile(const GemmProblem& p, const float* a, const float* b, float* c, cudaStream_t stream) {
  detail::check_gemm(p);
  if (p.op_a == Op::N && p.op_b == Op::N) return launch<Op::N, Op::N>(p, a, b, c, stream);
  if (p.op_a == Op::N && p.op_b == Op::T) return launch<Op::N, Op::T>(p, a, b, c, stream);
  if (p.op_a == Op::T && p.op_b == Op::N) return launch<Op::T, Op::N>(p, a, b, c, stream);
  return launch<Op::T, Op::T>(p, a, b, c, stream);
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
