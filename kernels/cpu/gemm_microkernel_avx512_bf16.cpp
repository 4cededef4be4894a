// AVX512-BF16 micro-kernel, 48×8: the AVX-512 tile with each FMA replaced by VDPBF16PS, which
// multiplies the two bf16 of each 32-bit unit of A by those of the broadcast unit of B and adds
// both products to the fp32 lane. So one k step of the fp32 loop is two k here, twice the FLOPs per
// instruction, on the CPUs that have the instruction but no AMX (AMD Zen 4 and 5, Intel Cooper
// Lake). The panels are gemm_bf16's pair layout for both operands (gemm_pack_bf16.cpp): per pair
// step, MR (NR) units {X(i, 2p), X(i, 2p + 1)}, so the tile loop, blocking and partial tiles are
// the fp32 kernel's. This file alone is compiled with -mavx512bf16 (see CMakeLists.txt).
#include "kernels/cpu/gemm_internal.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/gemm_microkernel_tile.hpp"
#include "kernels/cpu/gemm_simd_avx512.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {
// The fp32 AVX-512 type but for the k step, whose lanes hold bf16 pairs.
struct Avx512Bf16 : Avx512 {
  static constexpr int products = 2;  // a pair per lane
  // The unit's 32 bits as they are: copied as an integer, never read as a float.
  static Vec broadcast(const float* p) {
    uint32_t unit;
    std::memcpy(&unit, p, sizeof unit);
    return _mm512_castsi512_ps(_mm512_set1_epi32(int(unit)));
  }
  static Vec accumulate(Vec a, Vec b, Vec acc) { return _mm512_dpbf16_ps(acc, __m512bh(a), __m512bh(b)); }
};
}  // namespace

void microkernel_avx512_bf16_48x8(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc,
                                  float alpha, float beta, int rows, int cols) {
  tiles::run<Avx512Bf16, avx512_mr, avx512_nr>(kc, a_panel, b_panel, c, ldc, alpha, beta, rows, cols);
}

double avx512_bf16_peak_loop(int64_t iterations) { return tiles::peak_chains<Avx512Bf16>(iterations); }

}  // namespace trainrate::kernels::cpu::detail

#endif  // x86
