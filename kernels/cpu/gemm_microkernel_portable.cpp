// Portable micro-kernel: plain loops the compiler vectorises for whatever the baseline ISA is.
// It is the fallback on every CPU and the reference the SIMD kernels are tested against.
#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu::detail {

void microkernel_portable_8x6(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                              float alpha, float beta, int rows, int cols) {
  constexpr int mr = portable_mr, nr = portable_nr;
  // Column-major accumulator tile: the i loop is the vectorisable one, as in C.
  float acc[nr][mr] = {};
  for (int64_t p = 0; p < kc; ++p) {
    const float* a = a_panel + p * mr;
    const float* b = b_panel + p * nr;
    for (int j = 0; j < nr; ++j) {
      for (int i = 0; i < mr; ++i) acc[j][i] += a[i] * b[j];
    }
  }
  for (int j = 0; j < nr; ++j) {
    for (int i = 0; i < mr; ++i) acc[j][i] *= alpha;
  }
  store_tile_corner(&acc[0][0], mr, rows, cols, beta, c, ldc);
}

}  // namespace trainrate::kernels::cpu::detail
