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

#include "kernels/cuda/common.cuh"
#include "kernels/cuda/launch.hpp"

namespace trainrate::cuda_kernels {
namespace {

using namespace nvcuda;

constexpr int kBM = 128, kBN = 128, kBK = 32;  // block tile
constexpr int kWM = 64, kWN = 32;              // warp tile
constexpr int kFrag = 16;                      // WMMA m16n16k16
constexpr int kFragsM = kWM / kFrag, kFragsN = kWN / kFrag;
constexpr int kWarpsM = kBM / kWM, kWarpsN = kBN / kWN;
constexpr int kThreads = kWarpsM * kWarpsN * 32;
constexpr int kPad = 8;  // elements; keeps rows a multiple of 16 bytes as 16-byte stores and WMMA need
static_assert(kThreads == 256, "8 warps");
static_assert(kBK % kFrag == 0 && kWM % kFrag == 0 && kWN % kFrag == 0, "tiles must be whole WMMA fragments");

// One operand tile in shared memory. MN_MAJOR: [kBK][BMN + pad], the M/N index contiguous
// (the operand is stored that way in global memory); otherwise [BMN][kBK + pad], K contiguous.
template <int BMN, bool MN_MAJOR>
struct Tile {
  static constexpr int kRows = MN_MAJOR ? kBK : BMN;
  static constexpr int kCols = MN_MAJOR ? BMN : kBK;
  static constexpr int kLd = kCols + kPad;
  static constexpr int kElems = kRows * kLd;
  static constexpr int kChunks = kRows * kCols / 8;
  static_assert(kChunks % kThreads == 0, "tile must split into whole 16-byte chunks per thread");
  static_assert(kLd % 8 == 0, "WMMA needs ldm a multiple of 8 elements; fragments at multiples of 16 then sit 32-byte aligned");

  // Copies the tile whose M/N origin is mn0 and K origin k0; element (mn, kk) of the operand is
  // g[mn + kk·ld] when MN_MAJOR, else g[kk + mn·ld].
  __device__ __forceinline__ static void load(uint16_t* s, const uint16_t* g, int64_t ld, int mn0, int k0,
                                              int mn_ext, int k_ext, bool vec_ok) {
#pragma unroll
    for (int i = 0; i < kChunks / kThreads; ++i) {
      const int v = int(threadIdx.x) + i * kThreads;
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
  using TileA = Tile<kBM, OPA == Op::N>;  // A op N: M contiguous
  using TileB = Tile<kBN, OPB == Op::T>;  // B op T: N contiguous
  // A fragment element (i, l): row_major reads s[i·ld + l] (K-major tile), col_major s[l·ld + i].
  using LayoutA = cuda::std::conditional_t<OPA == Op::N, wmma::col_major, wmma::row_major>;
  // B fragment element (l, j): row_major reads s[l·ld + j] (N-major tile), col_major s[j·ld + l].
  using LayoutB = cuda::std::conditional_t<OPB == Op::T, wmma::row_major, wmma::col_major>;

  __shared__ __align__(128) uint16_t as[TileA::kElems];
  __shared__ __align__(128) uint16_t bs[TileB::kElems];
  __shared__ __align__(128) float scratch[kThreads / 32][kFrag * kFrag];

  const int64_t lda = OPA == Op::N ? m : k, ldb = OPB == Op::N ? k : n;
  const int i0 = int(blockIdx.x) * kBM, j0 = int(blockIdx.y) * kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp % kWarpsM) * kWM, wn = (warp / kWarpsM) * kWN;

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const uint16_t* ab = a + e * int64_t(m) * k;
    const uint16_t* bb = b + e * int64_t(k) * n;
    wmma::fragment<wmma::accumulator, kFrag, kFrag, kFrag, float> acc[kFragsM][kFragsN];
#pragma unroll
    for (int x = 0; x < kFragsM; ++x)
#pragma unroll
      for (int y = 0; y < kFragsN; ++y) wmma::fill_fragment(acc[x][y], 0.f);

    for (int l0 = 0; l0 < k; l0 += kBK) {
      TileA::load(as, ab, lda, i0, l0, m, k, vec_a);
      TileB::load(bs, bb, ldb, j0, l0, n, k, vec_b);
      __syncthreads();
#pragma unroll
      for (int l = 0; l < kBK; l += kFrag) {
        wmma::fragment<wmma::matrix_a, kFrag, kFrag, kFrag, T, LayoutA> fa[kFragsM];
        wmma::fragment<wmma::matrix_b, kFrag, kFrag, kFrag, T, LayoutB> fb[kFragsN];
#pragma unroll
        for (int x = 0; x < kFragsM; ++x)
          wmma::load_matrix_sync(fa[x], reinterpret_cast<const T*>(TileA::at(as, wm + x * kFrag, l)), TileA::kLd);
#pragma unroll
        for (int y = 0; y < kFragsN; ++y)
          wmma::load_matrix_sync(fb[y], reinterpret_cast<const T*>(TileB::at(bs, wn + y * kFrag, l)), TileB::kLd);
#pragma unroll
        for (int x = 0; x < kFragsM; ++x)
#pragma unroll
          for (int y = 0; y < kFragsN; ++y) wmma::mma_sync(acc[x][y], fa[x], fb[y], acc[x][y]);
      }
      __syncthreads();
    }

    // Epilogue: fragment → warp scratch (column-major 16×16) → converted, bounds-checked stores.
    T* cb = c + e * int64_t(m) * n;
    float* sc = scratch[warp];
#pragma unroll
    for (int x = 0; x < kFragsM; ++x)
#pragma unroll
      for (int y = 0; y < kFragsN; ++y) {
        wmma::store_matrix_sync(sc, acc[x][y], kFrag, wmma::mem_col_major);
        __syncwarp();
#pragma unroll
        for (int q = 0; q < kFrag * kFrag / 32; ++q) {
          const int idx = lane + 32 * q, r = idx % kFrag, col = idx / kFrag;
          const int i = i0 + wm + x * kFrag + r, j = j0 + wn + y * kFrag + col;
          if (i < m && j < n) cb[i + int64_t(j) * m] = detail::from_float<T>(sc[idx]);
        }
        __syncwarp();
      }
  }
}

template <typename T, Op OPA, Op OPB>
__global__ void __launch_bounds__(kThreads)
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

#ifdef __CUDACC_RTC__
// NVRTC compiles no launchers (see common.cuh): these are the instantiations they launch.
using RtcKernels = detail::RtcKernels<&hgemm_wmma_kernel<__half, Op::N, Op::N>,
                                       &hgemm_wmma_kernel<__half, Op::N, Op::T>,
                                       &hgemm_wmma_kernel<__half, Op::T, Op::N>,
                                       &hgemm_wmma_kernel<__half, Op::T, Op::T>,
                                       &hgemm_wmma_kernel<__nv_bfloat16, Op::N, Op::N>,
                                       &hgemm_wmma_kernel<__nv_bfloat16, Op::N, Op::T>,
                                       &hgemm_wmma_kernel<__nv_bfloat16, Op::T, Op::N>,
                                       &hgemm_wmma_kernel<__nv_bfloat16, Op::T, Op::T>>;
#else
template <typename T, Op OPA, Op OPB>
void launch(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  const dim3 grid = detail::gemm_grid(p.m, p.n, p.batch, kBM, kBN);
  const bool vec_a = p.lda() % 8 == 0 && detail::aligned16(a);
  const bool vec_b = p.ldb() % 8 == 0 && detail::aligned16(b);
  hgemm_wmma_kernel<T, OPA, OPB><<<grid, kThreads, 0, stream>>>(
      int(p.m), int(p.n), int(p.k), static_cast<const uint16_t*>(a), static_cast<const uint16_t*>(b),
      static_cast<T*>(c), p.batch, vec_a, vec_b);
  TRAINRATE_CHECK_LAUNCH();
}

template <typename T>
void dispatch_ops(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  if (p.op_a == Op::N && p.op_b == Op::N) return launch<T, Op::N, Op::N>(p, a, b, c, stream);
  if (p.op_a == Op::N && p.op_b == Op::T) return launch<T, Op::N, Op::T>(p, a, b, c, stream);
  if (p.op_a == Op::T && p.op_b == Op::N) return launch<T, Op::T, Op::N>(p, a, b, c, stream);
  return launch<T, Op::T, Op::T>(p, a, b, c, stream);
}

#endif  // __CUDACC_RTC__

}  // namespace

#ifndef __CUDACC_RTC__  // host launchers; NVRTC compiles only the kernels (see common.cuh)
void hgemm_wmma(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  detail::check_gemm(p);
  const int cc = current_compute_capability();
  if (cc < 70) throw std::invalid_argument("hgemm-wmma needs compute capability 7.0+");
  if (p.dtype == Dtype::fp16) return dispatch_ops<__half>(p, a, b, c, stream);
  if (p.dtype == Dtype::bf16) {
    if (cc < 80) throw std::invalid_argument("hgemm-wmma bf16 needs compute capability 8.0+");
    return dispatch_ops<__nv_bfloat16>(p, a, b, c, stream);
  }
  throw std::invalid_argument("hgemm-wmma runs fp16 and bf16 only");
}

#endif  // __CUDACC_RTC__

}  // namespace trainrate::cuda_kernels
