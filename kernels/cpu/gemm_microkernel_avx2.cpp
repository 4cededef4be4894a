// AVX2+FMA micro-kernel, 16×6. This file alone is compiled with -mavx2 -mfma (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU supports both.
//
// Why 16×6: 12 ymm accumulators + 2 ymm of A + 1 broadcast of B use 15 of the 16 registers; each
// k step issues 12 FMAs against 2 loads and 6 broadcasts, enough independent FMAs to cover the
// FMA latency on both pipes. It is the transpose of BLIS's Haswell 6×16 sgemm kernel, chosen
// because our C is column-major, so tile columns are contiguous.
//
// Partial tiles at the edges of C run a smaller instance of the same loop: one ymm of rows
// instead of two when at most 8 rows are left, and only the columns that exist, with the last
// ymm of rows stored under a mask. A 49-row C (a 7×7 feature map) then costs three full tiles
// and a one-vector tile instead of four full ones, and no partial tile goes through a copy.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {

constexpr int lanes = 8;  // floats per ymm

// Lanes [0, valid) of a ymm, as the mask maskload/maskstore take.
__m256i first_lanes(int valid) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// C[0:rows, 0:Cols] = alpha · A·B + beta · C for RowVecs ymm of rows, rows > (RowVecs − 1)·8.
// The panels keep the full tile's layout (16 floats of A and 6 of B per k step, zero-padded).
template <int RowVecs, int Cols, bool FullRows>
void tile(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta,
          int rows) {
  __m256 acc[Cols][RowVecs];
#pragma GCC unroll 6
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 2
    for (int v = 0; v < RowVecs; ++v) acc[j][v] = _mm256_setzero_ps();
    // Touch the C tile early so its lines arrive while the k loop runs.
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc + RowVecs * lanes - 1), _MM_HINT_T0);
  }
  const float* a = a_panel;
  const float* b = b_panel;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    __m256 a_rows[RowVecs];
#pragma GCC unroll 2
    for (int v = 0; v < RowVecs; ++v) a_rows[v] = _mm256_load_ps(a + v * lanes);
#pragma GCC unroll 6
    for (int j = 0; j < Cols; ++j) {
      const __m256 bj = _mm256_broadcast_ss(b + j);
#pragma GCC unroll 2
      for (int v = 0; v < RowVecs; ++v) acc[j][v] = _mm256_fmadd_ps(a_rows[v], bj, acc[j][v]);
    }
    a += avx2_mr;
    b += avx2_nr;
  }
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  const __m256i last_mask = first_lanes(rows - (RowVecs - 1) * lanes);
#pragma GCC unroll 6
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 2
    for (int v = 0; v < RowVecs; ++v) {
      float* cv = c + j * ldc + v * lanes;
      if (FullRows || v + 1 < RowVecs) {
        const __m256 old = beta == 0.0f ? _mm256_setzero_ps() : _mm256_mul_ps(vb, _mm256_loadu_ps(cv));
        _mm256_storeu_ps(cv, _mm256_fmadd_ps(va, acc[j][v], old));
      } else {  // beta == 0 must not read C: masked lanes are never loaded
        const __m256 old = beta == 0.0f ? _mm256_setzero_ps() : _mm256_mul_ps(vb, _mm256_maskload_ps(cv, last_mask));
        _mm256_maskstore_ps(cv, last_mask, _mm256_fmadd_ps(va, acc[j][v], old));
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
    default: return tile<RowVecs, 6, FullRows>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
  }
}

}  // namespace

void microkernel_avx2_16x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha,
                           float beta, int rows, int cols) {
  if (rows == avx2_mr) return tile_of_width<2, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows > lanes) return tile_of_width<2, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  if (rows == lanes) return tile_of_width<1, true>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
  tile_of_width<1, false>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
