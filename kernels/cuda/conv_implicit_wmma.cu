// conv-implicit-wmma: implicit-GEMM convolution on tensor cores, fp16 (sm_70+) and bf16 (sm_80+).
//
// The same gathers as conv-implicit (conv_gather.cuh) feeding WMMA instead of FMAs: a 64×64
// block tile, K-slices of 32, 4 warps each owning 32×32 as 2×2 fp32 accumulator fragments.
// Operands are gathered as raw 16-bit words into registers while the previous slice is being
// multiplied, then stored to one of two shared buffers laid out with the GEMM's M (A) and N (B)
// index contiguous, which WMMA reads as col_major A and row_major B fragments. The epilogue
// converts through a per-warp shared scratch tile and scatters with the output index map.
#include <mma.h>

#include <cuda/std/type_traits>  // not <type_traits>: NVRTC has no standard library

#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using namespace nvcuda;

using Cfg = ladder::ConvImplicitWmma;

template <typename T, ConvPass PASS>
__device__ __forceinline__ void conv_wmma_body(const detail::ConvGemm<PASS>& cg, const uint16_t* __restrict__ in0,
                                               const uint16_t* __restrict__ in1, T* __restrict__ out) {
  __shared__ __align__(128) uint16_t as[2][Cfg::kBK][Cfg::kLds];  // as[l][i] = A(i0 + i, l0 + l)
  __shared__ __align__(128) uint16_t bs[2][Cfg::kBK][Cfg::kLds];  // bs[l][j] = B(l0 + l, j0 + j)
  __shared__ __align__(128) float scratch[Cfg::kThreads / 32][Cfg::kFrag * Cfg::kFrag];
  const uint16_t* ta = PASS == ConvPass::backward_filter ? in1 : in0;
  const uint16_t* tb = PASS == ConvPass::backward_filter ? in0 : in1;
  const int m = cg.gemm_m(), n = cg.gemm_n(), k = cg.gemm_k();
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int tid = int(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int lm = tid % Cfg::kBM, lk = tid / Cfg::kBM;
  const detail::Coord3 arow = cg.row(i0 + lm);
  const detail::Coord3 bcol = cg.col(j0 + lm);
  const int wm = (warp % Cfg::kWarpsM) * Cfg::kWM, wn = (warp / Cfg::kWarpsM) * Cfg::kWN;

  uint16_t ra[Cfg::kLoads], rb[Cfg::kLoads];
  auto gather = [&](int l0) {
#pragma unroll
    for (int q = 0; q < Cfg::kLoads; ++q) {
      const int kg = l0 + lk + q * Cfg::kRowStep;
      const int64_t oa = cg.a_offset(arow, kg), ob = cg.b_offset(bcol, kg);
      ra[q] = oa >= 0 ? ta[oa] : uint16_t(0);  // +0.0 in both fp16 and bf16
      rb[q] = ob >= 0 ? tb[ob] : uint16_t(0);
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int q = 0; q < Cfg::kLoads; ++q) {
      as[buf][lk + q * Cfg::kRowStep][lm] = ra[q];
      bs[buf][lk + q * Cfg::kRowStep][lm] = rb[q];
    }
  };

  wmma::fragment<wmma::accumulator, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, float> acc[Cfg::kFragsM][Cfg::kFragsN];
#pragma unroll
  for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
    for (int y = 0; y < Cfg::kFragsN; ++y) wmma::fill_fragment(acc[x][y], 0.f);

  const int k_tiles = (k + Cfg::kBK - 1) / Cfg::kBK;
  gather(0);
  store(0);
  __syncthreads();
  for (int t = 0; t < k_tiles; ++t) {
    const bool more = t + 1 < k_tiles;
    if (more) gather((t + 1) * Cfg::kBK);
    const int buf = t % 2;
#pragma unroll
    for (int l = 0; l < Cfg::kBK; l += Cfg::kFrag) {
      wmma::fragment<wmma::matrix_a, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, T, wmma::col_major> fa[Cfg::kFragsM];
      wmma::fragment<wmma::matrix_b, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, T, wmma::row_major> fb[Cfg::kFragsN];
#pragma unroll
      for (int x = 0; x < Cfg::kFragsM; ++x)
        wmma::load_matrix_sync(fa[x], reinterpret_cast<const T*>(&as[buf][l][wm + x * Cfg::kFrag]), Cfg::kLds);
#pragma unroll
      for (int y = 0; y < Cfg::kFragsN; ++y)
        wmma::load_matrix_sync(fb[y], reinterpret_cast<const T*>(&bs[buf][l][wn + y * Cfg::kFrag]), Cfg::kLds);
#pragma unroll
      for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
        for (int y = 0; y < Cfg::kFragsN; ++y) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
    }
    if (more) store((t + 1) % 2);
    __syncthreads();
  }

  float* sc = scratch[warp];
#pragma unroll
  for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
    for (int y = 0; y < Cfg::kFragsN; ++y) {
      wmma::store_matrix_sync(sc, acc[x][y], Cfg::kFrag, wmma::mem_col_major);
      __syncwarp();
#pragma unroll
      for (int q = 0; q < Cfg::kFrag * Cfg::kFrag / 32; ++q) {
        const int idx = lane + 32 * q;
        const int mi = i0 + wm + x * Cfg::kFrag + idx % Cfg::kFrag, ni = j0 + wn + y * Cfg::kFrag + idx / Cfg::kFrag;
        if (mi < m && ni < n) out[cg.out_offset(cg.row(mi), ni)] = detail::from_float<T>(sc[idx]);
      }
      __syncwarp();
    }
}

template <typename T, ConvPass PASS>
__global__ void __launch_bounds__(Cfg::kThreads)
conv_wmma_kernel(detail::ConvGemm<PASS> cg, const uint16_t* __restrict__ in0, const uint16_t* __restrict__ in1,
                 T* __restrict__ out) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  // bf16 WMMA needs sm_80; the launcher refuses it on older devices, this only keeps sm_70/75 building.
  if constexpr (cuda::std::is_same_v<T, __nv_bfloat16>) {
    __trap();
  } else
#endif
  {
    conv_wmma_body<T, PASS>(cg, in0, in1, out);
  }
}

struct Step : Cfg {
  template <typename T, ConvPass PASS>
  static constexpr auto kernel = &conv_wmma_kernel<T, PASS>;
};

#ifdef __CUDACC_RTC__  // what the launcher below instantiates
using RtcHalf = detail::RtcConvKernels<Step, __half>;
using RtcBf16 = detail::RtcConvKernels<Step, __nv_bfloat16>;
#endif

}  // namespace

#ifndef __CUDACC_RTC__
void conv_implicit_wmma(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  detail::run_16bit_conv<Step>(p, in0, in1, out, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
