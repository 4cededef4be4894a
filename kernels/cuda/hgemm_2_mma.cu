// hgemm-mma: tensor-core GEMM, step 2 — mma.sync, ldmatrix, cp.async pipeline, swizzled smem (sm_80+).
//
// What changed from hgemm-wmma (same 128×128 block tile, 8 warps of 64×32):
//  * cp.async copies global → shared without passing through registers, three K-slices in
//    flight (kStages), so loads of slice t+2 overlap the math on slice t; one barrier per slice.
//  * Shared tiles are unpadded and XOR-swizzled at 16-byte granularity, so both the cp.async
//    stores and the ldmatrix reads of 8 rows hit 8 different bank groups (no conflicts).
//  * Fragments come from ldmatrix (.trans for operands whose M/N index is contiguous), and the
//    math is the raw PTX mma.sync.m16n8k16 (fp32 accumulate), 16 per warp per k16 step.
// Edge chunks (beyond M/N/K, or leading dimensions not a multiple of 8) are gathered element by
// element with zero fill and written with ordinary shared stores; the barrier that precedes
// their use orders them like the cp.async data, so every shape is correct.
// Needs sm_80 (cp.async); the body compiles away on older targets and the launcher refuses them.
#include "kernels/cuda/ladder_runner.cuh"
#include "kernels/cuda/ptx.cuh"

namespace trainrate::cuda_kernels {
// A named namespace (not an anonymous one) so sm_70/75 device passes, where the kernel body
// compiles away, do not warn about unused helpers.
namespace hgemm_mma_detail {

using Cfg = ladder::HgemmMma;

// One operand tile of one stage: Cfg::kBK × BMN 16-bit elements, no padding, swizzled in 16-byte chunks.
//   MN_MAJOR (operand's M/N index contiguous in global memory): Cfg::kBK rows of BMN elements;
//     chunk c of row r is stored at chunk c ^ (r & 7). ldmatrix.trans reads 8 consecutive rows
//     of one logical chunk → 8 distinct bank groups.
//   K-major: BMN rows of Cfg::kBK = 32 elements (4 chunks); chunk c of row r at c ^ ((r >> 1) & 3).
//     Two rows share a 128-byte bank line, so rows r..r+7 land on 8 distinct bank groups.
template <int BMN, bool MN_MAJOR>
struct SwizzledTile {
  static constexpr int kChunksPerRow = (MN_MAJOR ? BMN : Cfg::kBK) / 8;
  static constexpr int kElems = Cfg::kBK * BMN;
  static constexpr int kChunks = kElems / 8;
  static_assert(!MN_MAJOR || (kChunksPerRow >= 8 && kChunksPerRow % 8 == 0), "XOR by row & 7 needs ≥ 8 chunks a row");
  static_assert(kChunks % Cfg::kThreads == 0, "tile must split into whole chunks per thread");

  __device__ __forceinline__ static int offset(int row, int chunk) {
    const int sw = MN_MAJOR ? (row & 7) : ((row >> 1) & 3);
    return row * kChunksPerRow * 8 + ((chunk ^ sw) * 8);
  }
};

// Issues the copies of one operand tile; element (mn, kk) of the operand is g[mn + kk·ld] when
// MN_MAJOR, else g[kk + mn·ld].
template <typename Tile, bool MN_MAJOR>
__device__ __forceinline__ void load_tile(uint16_t* s, const uint16_t* g, int64_t ld, int mn0, int k0, int mn_ext,
                                          int k_ext, bool vec_ok) {
#pragma unroll
  for (int i = 0; i < Tile::kChunks / Cfg::kThreads; ++i) {
    const int v = int(threadIdx.x) + i * Cfg::kThreads;
    const int row = v / Tile::kChunksPerRow, chunk = v % Tile::kChunksPerRow;
    const int cont = MN_MAJOR ? mn0 + chunk * 8 : k0 + chunk * 8;  // contiguous index of the chunk's start
    const int other = MN_MAJOR ? k0 + row : mn0 + row;
    const int cont_ext = MN_MAJOR ? mn_ext : k_ext, other_ext = MN_MAJOR ? k_ext : mn_ext;
    uint16_t* dst = s + Tile::offset(row, chunk);
    if (vec_ok && other < other_ext && cont + 7 < cont_ext)
      ptx::cp_async_16(dst, g + int64_t(other) * ld + cont);
    else
      *reinterpret_cast<uint4*>(dst) = detail::load8_scalar(g, ld, cont, other, cont_ext, other_ext);
  }
}

template <typename T, Op OPA, Op OPB>
__global__ void __launch_bounds__(Cfg::kThreads, 2)
hgemm_mma_kernel(int m, int n, int k, const uint16_t* __restrict__ a, const uint16_t* __restrict__ b,
                 T* __restrict__ c, int64_t batch, bool vec_a, bool vec_b) {
#if TRAINRATE_SM80_DEVICE_CODE
  constexpr bool kAMn = OPA == Op::N;  // A stored M-contiguous → ldmatrix.trans
  constexpr bool kBMn = OPB == Op::T;  // B stored N-contiguous → ldmatrix.trans
  using TileA = SwizzledTile<Cfg::kBM, kAMn>;
  using TileB = SwizzledTile<Cfg::kBN, kBMn>;
  extern __shared__ __align__(128) uint16_t smem[];
  uint16_t* as = smem;                             // Cfg::kStages × TileA
  uint16_t* bs = smem + Cfg::kStages * TileA::kElems;   // Cfg::kStages × TileB

  const int64_t lda = kAMn ? m : k, ldb = kBMn ? n : k;
  const int i0 = int(blockIdx.x) * Cfg::kBM, j0 = int(blockIdx.y) * Cfg::kBN;
  const int warp = int(threadIdx.x) / 32, lane = int(threadIdx.x) % 32;
  const int wm = (warp % Cfg::kWarpsM) * Cfg::kWM, wn = (warp / Cfg::kWarpsM) * Cfg::kWN;
  const int k_tiles = (k + Cfg::kBK - 1) / Cfg::kBK;
  const int lr = lane & 7, lj = lane >> 3;  // ldmatrix: row within an 8×8 matrix, which of the 4 matrices

  for (int64_t e = blockIdx.z; e < batch; e += gridDim.z) {
    const uint16_t* ab = a + e * int64_t(m) * k;
    const uint16_t* bb = b + e * int64_t(k) * n;
    auto load_stage = [&](int stage, int l0) {
      load_tile<TileA, kAMn>(as + stage * TileA::kElems, ab, lda, i0, l0, m, k, vec_a);
      load_tile<TileB, kBMn>(bs + stage * TileB::kElems, bb, ldb, j0, l0, n, k, vec_b);
    };

    float acc[Cfg::kTilesM][Cfg::kTilesN][4] = {};
#pragma unroll
    for (int s = 0; s < Cfg::kStages - 1; ++s) {
      if (s < k_tiles) load_stage(s, s * Cfg::kBK);
      ptx::cp_async_commit();  // always commit, so group counting stays uniform
    }
    for (int t = 0; t < k_tiles; ++t) {
      ptx::cp_async_wait<Cfg::kStages - 2>();  // slice t has landed (for this thread's copies)...
      __syncthreads();               // ...and for everyone's; slice t-1's stage is free again
      const int next = t + Cfg::kStages - 1;
      if (next < k_tiles) load_stage(next % Cfg::kStages, next * Cfg::kBK);
      ptx::cp_async_commit();

      const uint16_t* sa = as + (t % Cfg::kStages) * TileA::kElems;
      const uint16_t* sb = bs + (t % Cfg::kStages) * TileB::kElems;
#pragma unroll
      for (int ks = 0; ks < Cfg::kBK; ks += Cfg::kMmaK) {
        uint32_t fa[Cfg::kTilesM][4], fb[Cfg::kTilesN][2];
#pragma unroll
        for (int x = 0; x < Cfg::kTilesM; ++x) {
          const int mb = wm + x * Cfg::kMmaM;
          if constexpr (kAMn)  // [k][m]: matrices (m0-7,k0-7) (m8-15,k0-7) (m0-7,k8-15) (m8-15,k8-15)
            ptx::ldmatrix_x4<true>(fa[x], sa + TileA::offset(ks + lr + (lj >> 1) * 8, (mb + (lj & 1) * 8) / 8));
          else  // [m][k]: lanes 0-15 rows m0-15 at k0, lanes 16-31 the same rows at k8
            ptx::ldmatrix_x4<false>(fa[x], sa + TileA::offset(mb + (lane & 15), ks / 8 + (lane >> 4)));
        }
#pragma unroll
        for (int y = 0; y < Cfg::kTilesN; y += 2) {
          const int nb = wn + y * Cfg::kMmaN;
          uint32_t r[4];  // matrices (n0-7,k0-7) (n0-7,k8-15) (n8-15,k0-7) (n8-15,k8-15)
          if constexpr (kBMn)  // [k][n]
            ptx::ldmatrix_x4<true>(r, sb + TileB::offset(ks + lr + (lj & 1) * 8, (nb + (lj >> 1) * 8) / 8));
          else  // [n][k]
            ptx::ldmatrix_x4<false>(r, sb + TileB::offset(nb + lr + (lj >> 1) * 8, ks / 8 + (lj & 1)));
          fb[y][0] = r[0];
          fb[y][1] = r[1];
          fb[y + 1][0] = r[2];
          fb[y + 1][1] = r[3];
        }
#pragma unroll
        for (int x = 0; x < Cfg::kTilesM; ++x)
#pragma unroll
          for (int y = 0; y < Cfg::kTilesN; ++y) ptx::mma_m16n8k16<T>(acc[x][y], fa[x], fb[y]);
      }
    }
    ptx::cp_async_wait<0>();
    __syncthreads();  // shared memory is reused by the next batch entry's prologue

    // Epilogue: accumulator (x, y) holds rows g and g+8, columns 2t and 2t+1 of its 16×8 tile.
    T* cb = c + e * int64_t(m) * n;
    const int g = lane >> 2, tq = (lane & 3) * 2;
#pragma unroll
    for (int x = 0; x < Cfg::kTilesM; ++x)
#pragma unroll
      for (int y = 0; y < Cfg::kTilesN; ++y)
#pragma unroll
        for (int q = 0; q < 4; ++q) {
          const int i = i0 + wm + x * Cfg::kMmaM + g + (q >> 1) * 8;
          const int j = j0 + wn + y * Cfg::kMmaN + tq + (q & 1);
          if (i < m && j < n) cb[i + int64_t(j) * m] = detail::from_float<T>(acc[x][y][q]);
        }
  }
#endif
}

struct Step : Cfg {
  template <typename T, Op OPA, Op OPB>
  static constexpr auto kernel = &hgemm_mma_kernel<T, OPA, OPB>;
};

#ifdef __CUDACC_RTC__  // what the launcher below instantiates
using RtcHalf = detail::RtcGemmKernels<Step, __half>;
using RtcBf16 = detail::RtcGemmKernels<Step, __nv_bfloat16>;
#endif

}  // namespace hgemm_mma_detail

#ifndef __CUDACC_RTC__
void hgemm_mma(const GemmProblem& p, const void* a, const void* b, void* c, cudaStream_t stream) {
  detail::run_16bit_gemm<hgemm_mma_detail::Step>(p, a, b, c, stream);
}
#endif

}  // namespace trainrate::cuda_kernels
