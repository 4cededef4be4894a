// AVX2+FMA micro-kernel, 16×6. This file alone is compiled with -mavx2 -mfma (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU supports both.
//
// Why 16×6: 12 ymm accumulators + 2 ymm of A + 1 broadcast of B use 15 of the 16 registers; each
// k step issues 12 FMAs against 2 loads and 6 broadcasts, enough independent FMAs to cover the
// FMA latency on both pipes. It is the transpose of BLIS's Haswell 6×16 sgemm kernel, chosen
// because our C is column-major, so tile columns are contiguous.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

void microkernel_avx2_16x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                           float alpha, float beta) {
  constexpr int nr = avx2_nr;
  __m256 lo[nr], hi[nr];  // rows 0-7 and 8-15 of each of the nr columns
#pragma GCC unroll 6
  for (int j = 0; j < nr; ++j) {
    lo[j] = _mm256_setzero_ps();
    hi[j] = _mm256_setzero_ps();
    // Touch the C tile early so its lines arrive while the k loop runs.
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + j * ldc + 15), _MM_HINT_T0);
  }
  const float* a = a_panel;
  const float* b = b_panel;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    const __m256 a_lo = _mm256_load_ps(a);
    const __m256 a_hi = _mm256_load_ps(a + 8);
#pragma GCC unroll 6
    for (int j = 0; j < nr; ++j) {
      const __m256 bj = _mm256_broadcast_ss(b + j);
      lo[j] = _mm256_fmadd_ps(a_lo, bj, lo[j]);
      hi[j] = _mm256_fmadd_ps(a_hi, bj, hi[j]);
    }
    a += 16;
    b += nr;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 6
    for (int j = 0; j < nr; ++j) {
      _mm256_storeu_ps(c + j * ldc, _mm256_mul_ps(va, lo[j]));
      _mm256_storeu_ps(c + j * ldc + 8, _mm256_mul_ps(va, hi[j]));
    }
  } else {
    const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int j = 0; j < nr; ++j) {
      float* cj = c + j * ldc;
      _mm256_storeu_ps(cj, _mm256_fmadd_ps(va, lo[j], _mm256_mul_ps(vb, _mm256_loadu_ps(cj))));
      _mm256_storeu_ps(cj + 8, _mm256_fmadd_ps(va, hi[j], _mm256_mul_ps(vb, _mm256_loadu_ps(cj + 8))));
    }
  }
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
