// hgemm-wmma: tensor-core GEMM, step 1 — the portable WMMA API (fp16 from sm_70, bf16 from sm_80).
//
// Same blocking idea as the fp32 ladder, with the inner product moved onto tensor cores: a
// 128×128 block tile, K-slices of 32, 8 warps each owning a 64×32 warp tile held as 4×2 WMMA
// accumulator fragments of 16×16 (fp32). Tiles are copied global → registers → shared memory in
// 16-byte chunks (element-wise with zero fill at edges or when a leading dimension is not a
// multiple of 8), keeping each operand in the layout it has in global memory; the transposes are
// absorbed by choosing row_major or col_major WMMA fragments (4 instantiations per dtype).
// Rows are padded by 8 elements to soften bank conflicts in load_matrix_sync. The accumulators
// go through a per-warp shared scratch tile to be converted to fp16/bf16 and stored with bounds
// checks. What it leaves on the table (see hgemm-mma): no overlap of loads and math, and WMMA
// hides the fragment layout, so shared-memory reads cannot be swizzled or vectorized by hand.
#include <mma.h>

#include <cuda/std/type_traits>  // not <type_traits>: NVRTC has no standard library

#include "kernels/cuda/ladder_runner.cuh"

namespace trainrate::cuda_kernels {
namespace {

using namespace nvcuda;

using Cfg = ladder::HgemmWmma;

// One operand tile in shared memory. MN_MAJOR: [Cfg::kBK][BMN + pad], the M/N index contiguous
// (the operand is stored that way in global memory); otherwise [BMN][Cfg::kBK + pad], K contiguous.
template <int BMN, bool MN_MAJOR>
struct Tile {
  static constexpr int kRows = MN_MAJOR ? Cfg::kBK : BMN;
  static constexpr int kCols = MN_MAJOR ? BMN : Cfg::kBK;
  static constexpr int kLd = kCols + Cfg::kPad;
  static constexpr int kElems = kRows * kLd;
  static constexpr int kChunks = kRows * kCols / 8;
  static_assert(kChunks % Cfg::kThreads == 0, "tile must split into whole 16-byte chunks per thread");
  static_assert(kLd % 8 == 0, "WMMA needs ldm a multiple of 8 elements; fragments at multiples of 16 then sit 32-byte aligned");

  // Copies the tile whose M/N origin is mn0 and K origin k0; element (mn, kk) of the operand is
  // g[mn + kk·ld] when MN_MAJOR, else g[kk + mn·ld].
  __device__ __forceinline__ static void load(uint16_t* s, const uint16_t* g, int64_t ld, int mn0, int k0,
                                              int mn_ext, int k_ext, bool vec_ok) {
#pragma unroll
    for (int i = 0; i < kChunks / Cfg::kThreads; ++i) {
      const int v = int(threadIdx.x) + i * Cfg::kThreads;
      const int row = v / (kCols / 8), col = (v % (kCols / 8)) * 8;
      const uint4 data = MN_MAJOR ? detail::load8(g, ld, mn0 + col, k0 + row, mn_ext, k_ext, vec_ok)
                                  : detail::load8(g, ld, k0 + col, mn0 + row, k_ext, mn_ext, vec_ok);
      *reinterpret_cast<uint4*>(&s[row * kLd + col]) = data;
    }
  }
  // Pointer to the 16×16 fragment at (mn, kk) of the tile, and its WMMA leading dimension.
  __device__ __forceinline__ static const uint16_t* at(const uint16_t* s, int mn, int kk) {
    return MN_MAJOR ? s + kk * kLd + mn : s + mn * kLd + kk;
  }
};

template <typename T, Op OPA, Op OPB>
__device__ __forceinline__ void hgemm_wmma_body(int m, int n, int k, const uint16_t* __restrict__ a,
                                                const uint16_t* __restrict__ b, T* __restrict__ c, int64_t batch,
                                                bool vec_a, bool vec_b) {
  using TileA = Tile<Cfg::kBM, OPA == Op::N>;  // A op N: M contiguous
  using TileB = Tile<Cfg::kBN, OPB == Op::T>;  // B op T: N contiguous
  // A fragment element (i, l): row_major reads s[i·ld + l] (K-major tile), col_major s[l·ld + i].
  using LayoutA = cuda::std::conditional_t<OPA == Op::N, wmma::col_major, wmma::row_major>;
  // B fragment element (l, j): row_major reads s[l·ld + j] (N-major tile), col_major s[j·ld + l].
  using LayoutB = cuda::std::conditional_t<OPB == Op::T, wmma::row_major, wmma::col_major>;

  __shared__ __align__(128) uint16_t as[TileA::kElems];
  __shared__ __align__(128) uint16_t bs[TileB::kElems];
  __shared__ __align__(128) float scratch[Cfg::kThreads / 32][Cfg::kFrag * Cfg::kFrag];

  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp % Cfg::kWarpsM) * Cfg::kWM, wn = (warp / Cfg::kWarpsM) * Cfg::kWN;

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const uint16_t* ab = a + e * int64_t(m) * k;
    const uint16_t* bb = b + e * int64_t(k) * n;
    wmma::fragment<wmma::accumulator, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, float> acc[Cfg::kFragsM][Cfg::kFragsN];
#pragma unroll
    for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
      for (int y = 0; y < Cfg::kFragsN; ++y) wmma::fill_fragment(acc[x][y], 0.f);

    for (int l0 = 0; l0 < k; l0 += Cfg::kBK) {
      TileA::load(as, ab, lda, i0, l0, m, k, vec_a);
      TileB::load(bs, bb, ldb, j0, l0, n, k, vec_b);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < Cfg::kBK; l += Cfg::kFrag) {
        wmma::fragment<wmma::matrix_a, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, T, LayoutA> fa[Cfg::kFragsM];
        wmma::fragment<wmma::matrix_b, Cfg::kFrag, Cfg::kFrag, Cfg::kFrag, T, LayoutB> fb[Cfg::kFragsN];
#pragma unroll
        for (int x = 0; x < Cfg::kFragsM; ++x)
          wmma::load_matrix_sync(fa[x], reinterpret_cast<const T*>(TileA::at(as, wm + x * Cfg::kFrag, l)), TileA::kLd);
#pragma unroll
        for (int y = 0; y < Cfg::kFragsN; ++y)
          wmma::load_matrix_sync(fb[y], reinterpret_cast<const T*>(TileB::at(bs, wn + y * Cfg::kFrag, l)), TileB::kLd);
#pragma unroll
        for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
          for (int y = 0; y < Cfg::kFragsN; ++y) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
      }
      __syncthreads();
    }

    // Epilogue: fragment → warp scratch (column-major 16×16) → converted, bounds-checked stores.
    T* cb = c + e * int64_t(m) * n;
    float* sc = scratch[warp];
#pragma unroll
    for (int x = 0; x < Cfg::kFragsM; ++x)
#pragma unroll
      for (int y = 0; y < Cfg::kFragsN; ++y) {
        wmma::store_matrix_sync(sc, acc[x][y], Cfg::kFrag, wmma::mem_col_major);
        __syncwarp();
#pragma unroll
        for (int q = 0; q < Cfg::kFrag * Cfg::kFrag / 32; ++q) {
          const int idx = lane + 32 * q, r = idx % Cfg::kFrag, col = idx / Cfg::kFrag;
          const int i = i0 + wm + x * Cfg::kFrag + r, j = j0 + wn + y * Cfg::kFrag + col;
          if (i < m && j < n) cb[i + int64_t(j) * m] = detail::from_float<T>(sc[idx]);
        }
        __syncwarp();
      }
  }
}

template <typename T, Op OPA, Op OPB>
__global__ void __launch_bounds__(Cfg::kThreads)
hgemm_wmma_kernel(int m, int n, int k, const uint16_t* __restrict__ a, const uint16_t* __restrict__ b,
                  T* __restrict__ c, int64_t batch, bool vec_a, bool vec_b) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  // bf16 WMMA needs sm_80; the launcher refuses it on older devices, this only keeps sm_70/75 building.
  if constexpr (cuda::std::is_same_v<T, __nv_bfloat16>) {
    __trap();
  } else
#endif
  {
    hgemm_wmma_body<T, OPA, OPB>(m, n, k, a, b, c, batch, vec_a, vec_b);
  }
}

struct Step : Cfg {
  template <typename T, Op OPA, Op OPB>
  static constexpr auto kernel = &hgemm_wmma_kernel<T, OPA, OPB>;
};

#ifdef __CUDACC_RTC__  // what the launcher below instantiates
using RtcHalf = detail::RtcGemmKernels<Step, __half>;
using RtcBf16 = detail::RtcGemmKernels<Step, __nv_bfloat16>;
#endif

}  // namespace

#ifndef __CUDACC_RTC__
void hgemm_wmma(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  detail::run_16bit_gemm<Step>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
