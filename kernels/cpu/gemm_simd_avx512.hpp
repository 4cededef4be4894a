// The AVX-512 vector type of the 48×8 tile loops (gemm_microkernel_tile.hpp): fp32 lanes whose
// k step is an FMA. Included by the two files that compile AVX-512 kernels, each with its own -m
// flags; the anonymous namespace gives each file its own copy, compiled for that file's ISA, so no
// instance is shared between the fp32 kernel and the bf16 one (which needs AVX512-BF16).
#pragma once

#include <immintrin.h>

namespace trainrate::kernels::cpu::detail {

namespace {
struct Avx512 {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int lanes = 16;
  static constexpr int products = 1;
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec load(const float* p) { return _mm512_load_ps(p); }
  static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  static Vec accumulate(Vec a, Vec b, Vec acc) { return fmadd(a, b, acc); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Mask first_lanes(int n) { return Mask((1u << n) - 1u); }
  static Vec load_masked(Mask m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store_masked(Mask m, float* p, Vec v) { _mm512_mask_storeu_ps(p, m, v); }
};
}  // namespace

}  // namespace trainrate::kernels::cpu::detail
