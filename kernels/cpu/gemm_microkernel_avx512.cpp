// AVX-512F micro-kernel, 48×8. This file alone is compiled with -mavx512f (see CMakeLists.txt)
// and is only called after the dispatcher has checked the CPU (and OS) support AVX-512F.
//
// Why 48×8: 24 zmm accumulators + 3 zmm of A + 1 broadcast use 28 of the 32 registers; each k
// step issues 24 FMAs against 3 loads and 8 broadcasts. The load-port work is what separates the
// 24-accumulator shapes on Intel: 32×12 (2 + 12 loads) measured slower (docs/results/
// history-from-code.md). 48 rows rather than 64 keep partial tiles and thread slices finer. The
// loop itself, partial tiles included, is gemm_microkernel_tile.hpp.
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include "kernels/cpu/gemm_microkernel_tile.hpp"
#include "kernels/cpu/gemm_simd_avx512.hpp"

namespace trainrate::kernels::cpu::detail {


void microkernel_avx512_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                             float alpha, float beta, int rows, int cols) {
  tiles::run<Avx512, avx512_mr, avx512_nr>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

double avx512_peak_loop(int64_t iterations) { return tiles::peak_chains<Avx512>(iterations); }

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
