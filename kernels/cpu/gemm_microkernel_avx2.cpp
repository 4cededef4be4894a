// AVX2+FMA micro-kernel, 16×6. This file alone is compiled with -mavx2 -mfma (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU supports both.
//
// Why 16×6: 12 ymm accumulators + 2 ymm of A + 1 broadcast of B use 15 of the 16 registers; each
// k step issues 12 FMAs against 2 loads and 6 broadcasts, enough independent FMAs to cover the
// FMA latency on both pipes. It is the transpose of BLIS's Haswell 6×16 sgemm kernel, chosen
// because our C is column-major, so tile columns are contiguous. The loop itself, partial tiles
// included, is gemm_microkernel_tile.hpp.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/cpu/gemm_microkernel_tile.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
struct Avx2 {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int lanes = 8;
  static constexpr int products = 1;
  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec load(const float* p) { return _mm256_load_ps(p); }
  static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  static Vec accumulate(Vec a, Vec b, Vec acc) { return fmadd(a, b, acc); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  // Lanes [0, n), as maskload/maskstore take them (the sign bit of each 32-bit lane).
  static Mask first_lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static Vec load_masked(Mask m, const float* p) { return _mm256_maskload_ps(p, m); }
  static void store_masked(Mask m, float* p, Vec v) { _mm256_maskstore_ps(p, m, v); }
};
}  // namespace

void microkernel_avx2_16x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha,
                           float beta, int rows, int cols) {
  tiles::run<Avx2, avx2_mr, avx2_nr>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

double avx2_peak_loop(int64_t iterations) { return tiles::peak_chains<Avx2>(iterations); }

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
