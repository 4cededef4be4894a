// conv-implicit: fp32 implicit-GEMM convolution for forward, backward-data and backward-filter.
//
// Each pass is the GEMM of conv_gather.cuh, tiled like the SGEMM ladder's step 5 at a smaller
// size (64×64 block tile, K-slices of 16, 4×4 outputs per thread, float4 shared reads, two
// shared buffers with the next slice gathered into registers during the math). The difference
// from a GEMM is the loader: operand elements are gathered through the convolution index maps
// (with zero for padding taps), so loads are scalar and the index arithmetic is paid per
// element. Each thread keeps one GEMM row (for A) and one GEMM column (for B) for the whole
// reduction, so those decodings are done once per tile.
#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using Cfg = ladder::ConvImplicit;

template <ConvPass PASS>
__global__ void __launch_bounds__(Cfg::kThreads)
conv_implicit_kernel(detail::ConvGemm<PASS> cg, const float* __restrict__ in0, const float* __restrict__ in1,
                     float* __restrict__ out) {
  __shared__ __align__(16) float as[2][Cfg::kBK][Cfg::kBM];  // as[l][i] = A(i0 + i, l0 + l)
  __shared__ __align__(16) float bs[2][Cfg::kBK][Cfg::kBN];  // bs[l][j] = B(l0 + l, j0 + j)
  // backward-filter reads A from dy (in1) and B from x (in0); the other passes A from in0.
  const float* ta = PASS == ConvPass::backward_filter ? in1 : in0;
  const float* tb = PASS == ConvPass::backward_filter ? in0 : in1;
  const int m = cg.gemm_m(), n = cg.gemm_n(), k = cg.gemm_k();
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int tid = int(threadIdx.x);
  const int lm = tid % Cfg::kBM, lk = tid / Cfg::kBM;  // this thread gathers row/column lm, slice rows lk + q·kRowStep
  const detail::Coord3 arow = cg.row(i0 + lm);
  const detail::Coord3 bcol = cg.col(j0 + lm);
  const int tm = (tid % (Cfg::kBM / Cfg::kTM)) * Cfg::kTM, tn = (tid / (Cfg::kBM / Cfg::kTM)) * Cfg::kTN;

  float ra[Cfg::kLoads], rb[Cfg::kLoads];
  auto gather = [&](int l0) {
#pragma unroll
    for (int q = 0; q < Cfg::kLoads; ++q) {
      const int kg = l0 + lk + q * Cfg::kRowStep;
      const int64_t oa = cg.a_offset(arow, kg), ob = cg.b_offset(bcol, kg);
      ra[q] = oa >= 0 ? __ldg(ta + oa) : 0.f;
      rb[q] = ob >= 0 ? __ldg(tb + ob) : 0.f;
    }
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int q = 0; q < Cfg::kLoads; ++q) {
      as[buf][lk + q * Cfg::kRowStep][lm] = ra[q];
      bs[buf][lk + q * Cfg::kRowStep][lm] = rb[q];
    }
  };

  float acc[Cfg::kTM][Cfg::kTN] = {};
  const int k_tiles = (k + Cfg::kBK - 1) / Cfg::kBK;
  gather(0);
  store(0);
  __syncthreads();
  for (int t = 0; t < k_tiles; ++t) {
    const bool more = t + 1 < k_tiles;
    if (more) gather((t + 1) * Cfg::kBK);
#pragma unroll
    for (int l = 0; l < Cfg::kBK; ++l) {
      const float4 a4 = *reinterpret_cast<const float4*>(&as[t % 2][l][tm]);
      const float4 b4 = *reinterpret_cast<const float4*>(&bs[t % 2][l][tn]);
      const float av[4] = {a4.x, a4.y, a4.z, a4.w}, bv[4] = {b4.x, b4.y, b4.z, b4.w};
#pragma unroll
      for (int x = 0; x < Cfg::kTM; ++x)
#pragma unroll
        for (int y = 0; y < Cfg::kTN; ++y) acc[x][y] = fmaf(av[x], bv[y], acc[x][y]);
    }
    if (more) store((t + 1) % 2);  // the other buffer was last read before the previous barrier
    __syncthreads();
  }

#pragma unroll
  for (int x = 0; x < Cfg::kTM; ++x) {
    const int mi = i0 + tm + x;
    if (mi >= m) continue;
    const detail::Coord3 orow = cg.row(mi);
#pragma unroll
    for (int y = 0; y < Cfg::kTN; ++y) {
      const int ni = j0 + tn + y;
      if (ni < n) out[cg.out_offset(orow, ni)] = acc[x][y];
    }
  }
}

struct Step : Cfg {
  template <typename, ConvPass PASS>
  static constexpr auto kernel = &conv_implicit_kernel<PASS>;
};

}  // namespace

#ifdef __CUDACC_RTC__
using RtcKernels = detail::RtcConvKernels<Step, float>;  // what the launcher below instantiates
#else
void conv_implicit(const ConvProblem& p, const float* in0, const float* in1, float* out, cudaStream_t stream) {
  detail::run_conv_passes<Step, float>(p, in0, in1, out, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
