// conv-implicit: fp32 implicit-GEMM convolution for forward, backward-data and backward-filter.
//
// Each pass is the GEMM of conv_gather.cuh, tiled like the SGEMM ladder's step 5 at a smaller
// size (64×64 block tile, K-slices of 16, 4×4 outputs per thread, float4 shared reads, two
// shared buffers with the next slice gathered into registers during the math). The difference
// from a GEMM is the loader: operand elements are gathered through the convolution index maps
// (with zero for padding taps), so loads are scalar and the index arithmetic is paid per
// element. Each thread keeps one GEMM row (for A) and one GEMM column (for B) for the whole
// reduction, so those decodings are done once per tile.
#include "kernels/cuda/common.cuh"
#include "kernels/cuda/conv_gather.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

constexpr int kBM = 64, kBN = 64, kBK = 16;  // block tile
constexpr int kTM = 4, kTN = 4;              // thread tile
constexpr int kThreads = (kBM / kTM) * (kBN / kTN);
constexpr int kLoads = kBK * kBM / kThreads;  // A (and B) elements each thread gathers per slice
static_assert(kThreads == 256, "16×16 threads of 4×4 outputs");
static_assert(kBM == kBN && kThreads % kBM == 0, "each thread gathers a fixed GEMM row of A and column of B");
static_assert(kBK % (kThreads / kBM) == 0, "slice rows split evenly over the threads sharing a GEMM row");

template <ConvPass PASS>
__global__ void __launch_bounds__(kThreads)
conv_implicit_kernel(detail::ConvGemm<PASS> cg, const float* __restrict__ in0, const float* __restrict__ in1,
                     float* __restrict__ out) {
  __shared__ __align__(16) float as[2][kBK][kBM];  // as[l][i] = A(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[2][kBK][kBN];  // bs[l][j] = B(l0 + l, j0 + j)
  // backward-filter reads A from dy (in1) and B from x (in0); the other passes A from in0.
  const float* ta = PASS == ConvPass::backward_filter ? in1 : in0;
  const float* tb = PASS == ConvPass::backward_filter ? in0 : in1;
  const int m = cg.gemm_m(), n = cg.gemm_n(), k = cg.gemm_k();
  const int i0 = int(blockIdx.x) * kBM, j0 = int(blockIdx.y) * kBN;
  const int tid = int(threadIdx.x);
  const int lm = tid % kBM, lk = tid / kBM;  // this thread gathers row/column lm, slice rows lk + q·(kThreads/kBM)
  constexpr int kRowStep = kThreads / kBM;
  const detail::Coord3 arow = cg.row(i0 + lm);
  const detail::Coord3 bcol = cg.col(j0 + lm);
  const int tm = (tid % (kBM / kTM)) * kTM, tn = (tid / (kBM / kTM)) * kTN;

  float ra[kLoads], rb[kLoads];
  auto gather = [&](int l0) {
#pragma unroll
    for (int q = 0; q < kLoads; ++q) {
      const int kg = l0 + lk + q * kRowStep;
      const int64_t oa = cg.a_offset(arow, kg), ob = cg.b_offset(bcol, kg);
      ra[q] = oa >= 0 ? __ldg(ta + oa) : 0.f;
      rb[q] = ob >= 0 ? __ldg(tb + ob) : 0.f;
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int q = 0; q < kLoads; ++q) {
      as[buf][lk + q * kRowStep][lm] = ra[q];
      bs[buf][lk + q * kRowStep][lm] = rb[q];
    }
  };

  float acc[kTM][kTN] = {};
  const int k_tiles = (k + kBK - 1) / kBK;
  gather(0);
  store(0);
  __syncthreads();
  for (int t = 0; t < k_tiles; ++t) {
    const bool more = t + 1 < k_tiles;
    if (more) gather((t + 1) * kBK);
#pragma unroll
    for (int l = 0; l < kBK; ++l) {
      const float4 a4 = *reinterpret_cast<const float4*>(&as[t % 2][l][tm]);
      const float4 b4 = *reinterpret_cast<const float4*>(&bs[t % 2][l][tn]);
      const float av[4] = {a4.x, a4.y, a4.z, a4.w}, bv[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int x = 0; x < kTM; ++x)
#pragma unroll
        for (int y = 0; y < kTN; ++y) acc[x][y] = fmaf(av[x], bv[y], acc[x][y]);
    }
    if (more) store((t + 1) % 2);  // the other buffer was last read before the previous barrier
    __syncthreads();
  }

#pragma unroll
  for (int x = 0; x < kTM; ++x) {
    const int mi = i0 + tm + x;
    if (mi >= m) continue;
    const detail::Coord3 orow = cg.row(mi);
#pragma unroll
    for (int y = 0; y < kTN; ++y) {
      const int ni = j0 + tn + y;
      if (ni < n) out[cg.out_offset(orow, ni)] = acc[x][y];
    }
  }
}

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels = detail::RtcKernels<&conv_implicit_kernel<ConvPass::forward>,
                                       &conv_implicit_kernel<ConvPass::backward_data>,
                                       &conv_implicit_kernel<ConvPass::backward_filter>>;
#else
template <ConvPass PASS>
void launch(const detail::ConvGeometry& g, const float* in0, const float* in1, float* out, cudaStream_t stream) {
  const detail::ConvGemm<PASS> cg{g};
  const int64_t m = PASS == ConvPass::forward         ? int64_t(g.n) * g.p * g.q
                    : PASS == ConvPass::backward_data ? int64_t(g.n) * g.h * g.w
                                                      : g.k;
  const int64_t n = PASS == ConvPass::forward ? g.k : PASS == ConvPass::backward_data ? g.c : int64_t(g.c) * g.r * g.s;
  const dim3 grid = detail::gemm_grid(m, n, 1, kBM, kBN);
  conv_implicit_kernel<PASS><<<grid, kThreads, 0, stream>>>(cg, in0, in1, out);
  TRAINRATE_CHECK_LAUNCH();
}

#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void conv_implicit(const ConvProblem& p, const float* in0, const float* in1, float* out, cudaStream_t stream) {
  const detail::ConvGeometry g = detail::conv_geometry(p);
  switch (p.pass) {
    case ConvPass::forward: return launch<ConvPass::forward>(g, in0, in1, out, stream);
    case ConvPass::backward_data: return launch<ConvPass::backward_data>(g, in0, in1, out, stream);
    case ConvPass::backward_filter: return launch<ConvPass::backward_filter>(g, in0, in1, out, stream);
  }
  throw std::invalid_argument("unknown convolution pass");
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
