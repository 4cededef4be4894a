// AVX-512F micro-kernel, 32×12. This file alone is compiled with -mavx512f (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU (and OS) support AVX-512F.
//
// Why 32×12: 24 zmm accumulators + 2 zmm of A + 1 broadcast use 27 of the 32 registers; 24 FMAs
// per k step against 2 loads and 12 broadcasts keep both FMA pipes fed with independent work.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {
void full_tile(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta) {
  constexpr int nr = avx512_nr;
  __m512 lo[nr], hi[nr];  // rows 0-15 and 16-31 of each of the nr columns
#pragma GCC unroll 12
  for (int j = 0; j < nr; ++j) {
    lo[j] = _mm512_setzero_ps();
    hi[j] = _mm512_setzero_ps();
  }
  for (float* cj = c; cj < c + nr * ldc; cj += ldc) {
    _mm_prefetch(reinterpret_cast<const char*>(cj), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(cj + 31), _MM_HINT_T0);
  }
  const float* a = a_panel;
  const float* b = b_panel;
#pragma GCC unroll 2
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 a_lo = _mm512_load_ps(a);
    const __m512 a_hi = _mm512_load_ps(a + 16);
#pragma GCC unroll 12
    for (int j = 0; j < nr; ++j) {
      const __m512 bj = _mm512_set1_ps(b[j]);
      lo[j] = _mm512_fmadd_ps(a_lo, bj, lo[j]);
      hi[j] = _mm512_fmadd_ps(a_hi, bj, hi[j]);
    }
    a += 32;
    b += nr;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 12
    for (int j = 0; j < nr; ++j) {
      _mm512_storeu_ps(c + j * ldc, _mm512_mul_ps(va, lo[j]));
      _mm512_storeu_ps(c + j * ldc + 16, _mm512_mul_ps(va, hi[j]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
    for (int j = 0; j < nr; ++j) {
      float* cj = c + j * ldc;
      _mm512_storeu_ps(cj, _mm512_fmadd_ps(va, lo[j], _mm512_mul_ps(vb, _mm512_loadu_ps(cj))));
      _mm512_storeu_ps(cj + 16, _mm512_fmadd_ps(va, hi[j], _mm512_mul_ps(vb, _mm512_loadu_ps(cj + 16))));
    }
  }
}
}  // namespace

// A partial tile is computed whole into a local tile and its corner added to C.
void microkernel_avx512_32x12(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols) {
  if (rows == avx512_mr && cols == avx512_nr) return full_tile(kc, a_panel, b_panel, c, ldc, alpha, beta);
  alignas(64) float tile[avx512_mr * avx512_nr];
  full_tile(kc, a_panel, b_panel, tile, avx512_mr, alpha, 0.0f);
  store_tile_corner(tile, avx512_mr, rows, cols, beta, c, ldc);
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
