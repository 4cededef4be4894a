// AVX-512F micro-kernel, 48×8. This file alone is compiled with -mavx512f (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU (and OS) support AVX-512F.
//
// Why 48×8: 24 zmm accumulators + 3 zmm of A + 1 broadcast use 28 of the 32 registers; each k
// step issues 24 FMAs against 3 loads and 8 broadcasts. The load-port work is what separates the
// 24-accumulator shapes on Intel: with A streaming from L2 (an A block of 16 slivers against one
// B sliver, as in sgemm's inner loops) 32×12 (2 + 12 loads) ran at 168-175 GFLOP/s, 48×8 (3 + 8)
// at 180-185 and 64×6 (4 + 6) at 180-184 on an Intel Xeon VM with a 217 GFLOP/s FMA ceiling; in
// the whole SGEMM (2048³) 48×8 measured 1.04-1.05x of 32×12 at 1 and 2 threads. 48 rows rather
// than 64 keep partial tiles and thread slices finer.
//
// Nothing else may be live across the k loop: with the column pointers of C held from a
// prefetch before the loop to the stores after it, GCC moved general registers into zmm and A
// onto the stack, and the (then 32×12) kernel ran at 130 GFLOP/s in L1 instead of 180. The
// prefetch therefore walks C with one pointer.
//
// Partial tiles at the edges of C run a smaller instance of the same loop, as in the AVX2 kernel:
// only the zmm of rows that hold rows of C (one, two or three), only the columns that exist, and
// the last zmm of rows loaded and stored under a lane mask (AVX-512 masked accesses do not touch
// masked-off lanes).
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {

constexpr int lanes = 16;  // floats per zmm

// C[0:rows, 0:Cols] = alpha · A·B + beta · C for RowVecs zmm of rows, rows > (RowVecs − 1)·16.
// The panels keep the full tile's layout (48 floats of A and 8 of B per k step, zero-padded).
template <int RowVecs, int Cols, bool FullRows>
void tile(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta,
          int rows) {
  __m512 acc[Cols][RowVecs];
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 3
    for (int v = 0; v < RowVecs; ++v) acc[j][v] = _mm512_setzero_ps();
  }
  // Touch the C tile early so its lines arrive while the k loop runs (one pointer: see above).
  for (float* cj = c; cj < c + Cols * ldc; cj += ldc) {
    _mm_prefetch(reinterpret_cast<const char*>(cj), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(cj + RowVecs * lanes - 1), _MM_HINT_T0);
  }
  const float* a = a_panel;
  const float* b = b_panel;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m512 a_rows[RowVecs];
#pragma GCC unroll 3
    for (int v = 0; v < RowVecs; ++v) a_rows[v] = _mm512_load_ps(a + v * lanes);
#pragma GCC unroll 12
    for (int j = 0; j < Cols; ++j) {
      const __m512 bj = _mm512_set1_ps(b[j]);
#pragma GCC unroll 3
      for (int v = 0; v < RowVecs; ++v) acc[j][v] = _mm512_fmadd_ps(a_rows[v], bj, acc[j][v]);
    }
    a += avx512_mr;
    b += avx512_nr;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const auto last_mask = __mmask16((1u << (rows - (RowVecs - 1) * lanes)) - 1u);
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 3
    for (int v = 0; v < RowVecs; ++v) {
      float* cv = c + j * ldc + v * lanes;
      if (FullRows || v + 1 < RowVecs) {
        const __m512 old = beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_loadu_ps(cv));
        _mm512_storeu_ps(cv, _mm512_fmadd_ps(va, acc[j][v], old));
      } else {  // beta == 0 must not read C: masked lanes are never loaded
        const __m512 old = beta == 0.0f ? _mm512_setzero_ps() : _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(last_mask, cv));
        _mm512_mask_storeu_ps(cv, last_mask, _mm512_fmadd_ps(va, acc[j][v], old));
      }
    }
  }
}

template <int RowVecs, bool FullRows>
void tile_of_width(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha,
                   float beta, int rows, int cols) {
  switch (cols) {
    case 1: return tile<RowVecs, 1, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 2: return tile<RowVecs, 2, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 3: return tile<RowVecs, 3, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 4: return tile<RowVecs, 4, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 5: return tile<RowVecs, 5, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 6: return tile<RowVecs, 6, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 7: return tile<RowVecs, 7, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    default: return tile<RowVecs, 8, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
  }
}

}  // namespace

void microkernel_avx512_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols) {
  if (rows == avx512_mr) return tile_of_width<3, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows > 2 * lanes) return tile_of_width<3, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows == 2 * lanes) return tile_of_width<2, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows > lanes) return tile_of_width<2, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows == lanes) return tile_of_width<1, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  tile_of_width<1, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
