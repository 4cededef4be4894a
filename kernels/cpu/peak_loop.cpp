// The ceiling loops of the micro-kernel families (peak_loop): the rate a micro-kernel of each could
// reach. The fp32 FMA loops are here; the bf16 ones sit with their kernels, in the files compiled
// for their instructions. The CPU device times the best family of each dtype for "% of peak";
// best_micro_kernel times the two x86 fp32 widths against each other to learn whether 512-bit
// vectors double the rate on this core or only split in halves.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "kernels/cpu/gemm.hpp"
#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu {

namespace {

// FMAs per loop iteration: twelve independent chains hide the 4-5 cycle FMA latency on two FMA
// pipes, so the loop runs at the core's FMA throughput.
constexpr int chains = 12;

// FLOPs done by `iterations` rounds of the chains on vectors of `lanes` floats.
constexpr double loop_flops(int lanes, int64_t iterations) { return 2.0 * chains * lanes * double(iterations); }

// The accumulators' sum leaves through a volatile store so the compiler keeps the loop.
volatile float loop_sink;

#if defined(__x86_64__) || defined(__i386__)
__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iterations) {
  __m256 acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = _mm256_set1_ps(float(i) * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-4f);
  for (int64_t it = 0; it < iterations; ++it) {
    // Fully unrolled so the accumulators live in registers, not on the stack.
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  __m256 sum = acc[0];
  for (int i = 1; i < chains; ++i) sum = _mm256_add_ps(sum, acc[i]);
  loop_sink = _mm256_cvtss_f32(sum);
  return loop_flops(8, iterations);
}

__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iterations) {
  __m512 acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = _mm512_set1_ps(float(i) * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  __m512 sum = acc[0];
  for (int i = 1; i < chains; ++i) sum = _mm512_add_ps(sum, acc[i]);
  loop_sink = _mm512_cvtss_f32(sum);
  return loop_flops(16, iterations);
}
#endif

double fma_loop_portable(int64_t iterations) {
  float acc[chains][8];
  for (int i = 0; i < chains; ++i)
    for (int l = 0; l < 8; ++l) acc[i][l] = float(i) * 1e-3f;
  for (int64_t it = 0; it < iterations; ++it)
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i)
#pragma GCC unroll 8
      for (int l = 0; l < 8; ++l) acc[i][l] = acc[i][l] * 0.999f + 1e-4f;
  loop_sink = acc[chains - 1][7];
  return loop_flops(8, iterations);
}

}  // namespace

double peak_loop(MicroKernel family, int64_t iterations) {
  const std::vector<MicroKernel> runnable = available_micro_kernels(input_dtype(family));
  if (std::find(runnable.begin(), runnable.end(), family) == runnable.end()) return 0.0;
  switch (family) {
    case MicroKernel::portable: return fma_loop_portable(iterations);
#if defined(__x86_64__) || defined(__i386__)
    case MicroKernel::avx2: return fma_loop_avx2(iterations);
    case MicroKernel::avx512: return fma_loop_avx512(iterations);
    case MicroKernel::avx512_bf16: return detail::dpbf16_peak_loop(iterations);
    case MicroKernel::amx_bf16: return detail::amx_peak_loop(iterations);
#endif
    default: return 0.0;
  }
}

}  // namespace trainrate::kernels::cpu
