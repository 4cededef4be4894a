// AVX-512F micro-kernel, 48×8. This file alone is compiled with -mavx512f (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU (and OS) support AVX-512F.
//
// Why 48×8: 24 zmm accumulators + 3 zmm of A + 1 broadcast use 28 of the 32 registers; each k
// step issues 24 FMAs against 3 loads and 8 broadcasts. The load-port work is what separates the
// 24-accumulator shapes on Intel: with A streaming from L2 (an A block of 16 slivers against one
// B sliver, as in sgemm's inner loops) 32×12 (2 + 12 loads) ran at 168-175 GFLOP/s, 48×8 (3 + 8)
// at 180-185 and 64×6 (4 + 6) at 180-184 on an Intel Xeon VM with a 217 GFLOP/s FMA ceiling; in
// the whole SGEMM (2048³) 48×8 measured 1.04-1.05x of 32×12 at 1 and 2 threads. 48 rows rather
// than 64 keep partial tiles and thread slices finer. The loop itself, partial tiles included,
// is gemm_microkernel_tile.hpp.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/cpu/gemm_microkernel_tile.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int lanes = 16;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_load_ps(p); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Mask first_lanes(int n) { return Mask((1u << n) - 1u); }
  static Vec load_masked(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(Mask m, float* p, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};
}  // namespace

void microkernel_avx512_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                             float alpha, float beta, int rows, int cols) {
  tiles::run<Avx512, avx512_mr, avx512_nr>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
