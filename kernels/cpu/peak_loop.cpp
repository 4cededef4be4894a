// peak_loop: the ceiling loop of each micro-kernel family, the rate a micro-kernel of it could
// reach. The vector families' loops are tiles::peak_chains, compiled in each micro-kernel's file
// for its instructions, and AMX's sits with its kernel; the portable one is here. The CPU device
// times the best family of each dtype for "% of peak"; best_micro_kernel times the two x86 fp32
// widths against each other to learn whether 512-bit vectors double the rate on this core or only
// split in halves.
#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu {

namespace {

volatile float loop_sink;  // the portable loop's result leaves through it, so the loop stays

// Twelve independent chains of eight lanes, as the vector loops, in plain C++.
double fma_loop_portable(int64_t iterations) {
  constexpr int chains = 12, lanes = 8;
  float acc[chains][lanes];
  for (int i = 0; i < chains; ++i)
    for (int l = 0; l < lanes; ++l) acc[i][l] = float(i) * 1e-3f;
  for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i)
#pragma GCC unroll 8
      for (int l = 0; l < lanes; ++l) acc[i][l] = acc[i][l] * 0.999f + 1e-4f;
  loop_sink = acc[chains - 1][lanes - 1];
  return 2.0 * chains * lanes * double(iterations);
}

}  // namespace

double peak_loop(MicroKernel family, int64_t iterations) {
  // Checked directly, not through available_micro_kernels: callers time this call.
  if (!detail::cpu_supports(family)) return 0.0;
  switch (family) {
    case MicroKernel::portable: return fma_loop_portable(iterations);
#if defined(__x86_64__) || defined(__i386__)
    case MicroKernel::avx2: return detail::avx2_peak_loop(iterations);
    case MicroKernel::avx512: return detail::avx512_peak_loop(iterations);
    case MicroKernel::avx512_bf16: return detail::avx512_bf16_peak_loop(iterations);
#endif
#if defined(__x86_64__)
    case MicroKernel::amx_bf16: return detail::amx_peak_loop(iterations);
#endif
    default: return 0.0;
  }
}

}  // namespace trainrate::kernels::cpu
