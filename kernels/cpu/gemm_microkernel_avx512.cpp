// AVX-512F micro-kernel, 32×12. This file alone is compiled with -mavx512f (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU (and OS) support AVX-512F.
//
// Why 32×12: 24 zmm accumulators + 2 zmm of A + 1 broadcast use 27 of the 32 registers; 24 FMAs
// per k step against 2 loads and 12 broadcasts keep both FMA pipes fed with independent work.
// That leaves no zmm to spare, so nothing else may be live across the k loop: with the 12 column
// pointers of C held from a prefetch before the loop to the stores after it, GCC moved general
// registers into zmm and A onto the stack, and the kernel ran at 130 GFLOP/s in L1 instead of
// 180 (Intel Xeon VM, 217 GFLOP/s FMA ceiling). The prefetch therefore walks C with one pointer.
//
// Partial tiles at the edges of C run a smaller instance of the same loop, as in the AVX2 kernel:
// one zmm of rows when at most 16 are left, only the columns that exist, and the last zmm of rows
// loaded and stored under a lane mask (AVX-512 masked accesses do not touch masked-off lanes).
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {

constexpr int lanes = 16;  // floats per zmm

// C[0:rows, 0:Cols] = alpha · A·B + beta · C for RowVecs zmm of rows, rows > (RowVecs − 1)·16.
// The panels keep the full tile's layout (32 floats of A and 12 of B per k step, zero-padded).
template <int RowVecs, int Cols, bool FullRows>
void tile(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta,
          int rows) {
  __m512 acc[Cols][RowVecs];
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 2
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
#pragma GCC unroll 2
    for (int v = 0; v < RowVecs; ++v) a_rows[v] = _mm512_load_ps(a + v * lanes);
#pragma GCC unroll 12
    for (int j = 0; j < Cols; ++j) {
      const __m512 bj = _mm512_set1_ps(b[j]);
#pragma GCC unroll 2
      for (int v = 0; v < RowVecs; ++v) acc[j][v] = _mm512_fmadd_ps(a_rows[v], bj, acc[j][v]);
    }
    a += avx512_mr;
    b += avx512_nr;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const auto last_mask = __mmask16((1u << (rows - (RowVecs - 1) * lanes)) - 1u);
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 2
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
    case 8: return tile<RowVecs, 8, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 9: return tile<RowVecs, 9, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 10: return tile<RowVecs, 10, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    case 11: return tile<RowVecs, 11, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
    default: return tile<RowVecs, 12, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
  }
}

}  // namespace

void microkernel_avx512_32x12(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols) {
  if (rows == avx512_mr) return tile_of_width<2, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows > lanes) return tile_of_width<2, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows == lanes) return tile_of_width<1, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  tile_of_width<1, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
