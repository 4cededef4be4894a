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

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_gather.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

using namespace nvcuda;

constexpr int kBM = 64, kBN = 64, kBK = 32;  // block tile
constexpr int kWM = 32, kWN = 32;            // warp tile
constexpr int kFrag = 16;
constexpr int kFragsM = kWM / kFrag, kFragsN = kWN / kFrag;
constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
constexpr int kThreads = kWarpsM * kWarpsN * 32;
constexpr int kLds = kBM + 8;  // padded rows; a multiple of 8 elements as WMMA requires
constexpr int kRowStep = kThreads / kBM;
constexpr int kLoads = kBK / kRowStep;
static_assert(kThreads == 128, "4 warps");
static_assert(kBM == kBN && kThreads % kBM == 0 && kBK % kRowStep == 0, "gather mapping: fixed row/column per thread");
static_assert(kLds % 8 == 0, "WMMA ldm must be a multiple of 8 16-bit elements");

template <typename T, ConvPass PASS>
__device__ __forceinline__ void conv_wmma_body(const detail::ConvGemm<PASS>& cg, const uint16_t* __restrict__ in0,
                                               const uint16_t* __restrict__ in1, T* __restrict__ out) {
  __shared__ __align__(128) uint16_t as[2][kBK][kLds];  // as[l][i] = A(i0 + i, l0 + l)
  __shared__ __align__(128) uint16_t bs[2][kBK][kLds];  // bs[l][j] = B(l0 + l, j0 + j)
  __shared__ __align__(128) float scratch[kThreads / 32][kFrag * kFrag];
  const uint16_t* ta = PASS == ConvPass::backward_filter ? in1 : in0;
  const uint16_t* tb = PASS == ConvPass::backward_filter ? in0 : in1;
  const int m = cg.gemm_m(), n = cg.gemm_n(), k = cg.gemm_k();
  const int i0 = int(blockIdx.x) * kBM, j0 = int(blockIdx.y) * kBN;
  const int tid = int(threadIdx.x), warp = tid / 32, lane = tid % 32;
  const int lm = tid % kBM, lk = tid / kBM;
  const detail::Coord3 arow = cg.row(i0 + lm);
  const detail::Coord3 bcol = cg.col(j0 + lm);
  const int wm = (warp % kWarpsM) * kWM, wn = (warp / kWarpsM) * kWN;

  uint16_t ra[kLoads], rb[kLoads];
  auto gather = [&](int l0) {
#pragma unroll
    for (int q = 0; q < kLoads; ++q) {
      const int kg = l0 + lk + q * kRowStep;
      const int64_t oa = cg.a_offset(arow, kg), ob = cg.b_offset(bcol, kg);
      ra[q] = oa >= 0 ? ta[oa] : uint16_t(0);  // +0.0 in both fp16 and bf16
      rb[q] = ob >= 0 ? tb[ob] : uint16_t(0);
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int q = 0; q < kLoads; ++q) {
      as[buf][lk + q * kRowStep][lm] = ra[q];
      bs[buf][lk + q * kRowStep][lm] = rb[q];
    }
  };

  wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc[kFragsM][kFragsN];
#pragma unroll
  for (int x = 0; x < kFragsM; ++x)
#pragma unroll
    for (int y = 0; y < kFragsN; ++y) wmma::fill_fragment(acc[x][y], 0.f);

  const int k_tiles = (k + kBK - 1) / kBK;
  gather(0);
  store(0);
  __syncthreads();
  for (int t = 0; t < k_tiles; ++t) {
    const bool more = t + 1 < k_tiles;
    if (more) gather((t + 1) * kBK);
    const int buf = t % 2;
#pragma unroll
    for (int l = 0; l < kBK; l += kFrag) {
      wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, wmma::col_major> fa[kFragsM];
      wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, wmma::row_major> fb[kFragsN];
#pragma unroll
      for (int x = 0; x < kFragsM; ++x)
        wmma::load_matrix_sync(fa[x], reinterpret_cast<const T*>(&as[buf][l][wm + x * kFrag]), kLds);
#pragma unroll
      for (int y = 0; y < kFragsN; ++y)
        wmma::load_matrix_sync(fb[y], reinterpret_cast<const T*>(&bs[buf][l][wn + y * kFrag]), kLds);
#pragma unroll
      for (int x = 0; x < kFragsM; ++x)
#pragma unroll
        for (int y = 0; y < kFragsN; ++y) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
    }
    if (more) store((t + 1) % 2);
    __syncthreads();
  }

  float* sc = scratch[warp];
#pragma unroll
  for (int x = 0; x < kFragsM; ++x)
#pragma unroll
    for (int y = 0; y < kFragsN; ++y) {
      wmma::store_matrix_sync(sc, acc[x][y], kFrag, wmma::mem_col_major);
      __syncwarp();
#pragma unroll
      for (int q = 0; q < kFrag * kFrag / 32; ++q) {
        const int idx = lane + 32 * q;
        const int mi = i0 + wm + x * kFrag + idx % kFrag, ni = j0 + wn + y * kFrag + idx / kFrag;
        if (mi < m && ni < n) out[cg.out_offset(cg.row(mi), ni)] = detail::from_float<T>(sc[idx]);
      }
      __syncwarp();
    }
}

template <typename T, ConvPass PASS>
__global__ void __launch_bounds__(kThreads)
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

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels = detail::RtcKernels<&conv_wmma_kernel<__half, ConvPass::forward>,
                                       &conv_wmma_kernel<__half, ConvPass::backward_data>,
                                       &conv_wmma_kernel<__half, ConvPass::backward_filter>,
                                       &conv_wmma_kernel<__nv_bfloat16, ConvPass::forward>,
                                       &conv_wmma_kernel<__nv_bfloat16, ConvPass::backward_data>,
                                       &conv_wmma_kernel<__nv_bfloat16, ConvPass::backward_filter>>;
#else
template <typename T, ConvPass PASS>
void launch(const detail::ConvGeometry& g, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  const detail::ConvGemm<PASS> cg{g};
  const int64_t m = PASS == ConvPass::forward         ? int64_t(g.n) * g.p * g.q
                    : PASS == ConvPass::backward_data ? int64_t(g.n) * g.h * g.w
                                                      : g.k;
  const int64_t n = PASS == ConvPass::forward ? g.k : PASS == ConvPass::backward_data ? g.c : int64_t(g.c) * g.r * g.s;
  const dim3 grid = detail::gemm_grid(m, n, 1, kBM, kBN);
  conv_wmma_kernel<T, PASS><<<grid, kThreads, 0, stream>>>(cg, static_cast<const uint16_t*>(in0),
                                                           static_cast<const uint16_t*>(in1), static_cast<T*>(out));
  TRAINRATE_CHECK_LAUNCH();
}

template <typename T>
void dispatch_pass(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  const detail::ConvGeometry g = detail::conv_geometry(p);
  switch (p.pass) {
    case ConvPass::forward: return launch<T, ConvPass::forward>(g, in0, in1, out, stream);
    case ConvPass::backward_data: return launch<T, ConvPass::backward_data>(g, in0, in1, out, stream);
    case ConvPass::backward_filter: return launch<T, ConvPass::backward_filter>(g, in0, in1, out, stream);
  }
  throw std::invalid_argument("unknown convolution pass");
}

#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void conv_implicit_wmma(const ConvProblem& p, const void* in0, const void* in1, void* out, cudaStream_t stream) {
  const int cc = current_compute_capability();
  if (cc < 70) throw std::invalid_argument("conv-implicit-wmma needs compute capability 7.0+");
  if (p.dtype == Dtype::fp16) return dispatch_pass<__half>(p, in0, in1, out, stream);
  if (p.dtype == Dtype::bf16) {
    if (cc < 80) throw std::invalid_argument("conv-implicit-wmma bf16 needs compute capability 8.0+");
    return dispatch_pass<__nv_bfloat16>(p, in0, in1, out, stream);
  }
  throw std::invalid_argument("conv-implicit-wmma runs fp16 and bf16 only");
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
