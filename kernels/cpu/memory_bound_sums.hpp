// A summation that stays accurate for millions of terms and keeps several vector adds in flight,
// for the memory-bound kernels' files. Not part of the public API.
//
// Included by files of different ISAs (norm.cpp at the baseline, memory_bound_loops*.cpp at their
// own): the anonymous namespace gives each file its own copy, so the linker never picks one file's
// instructions for another.
#pragma once

#include <cstdint>

namespace trainrate::kernels::cpu::detail {
namespace {

// One vector register of fp32 lanes for the ISA this file is compiled for: 16 with AVX-512, 8 with
// AVX, 4 with SSE. A wider value than the registers would live in memory between the adds.
#if defined(__AVX512F__)
inline constexpr int lanes_width = 16;
#elif defined(__AVX__)
inline constexpr int lanes_width = 8;
#else
inline constexpr int lanes_width = 4;
#endif
typedef float Lanes __attribute__((vector_size(lanes_width * sizeof(float))));

// What a sum's term is handed: at(p) is p[j] for the scalar tail, or p[j, j + lanes_width) as Lanes, so
// one generic lambda, [&](auto at) { return at(x) * at(y); }, serves both.
struct ScalarAt {
  int64_t j;
  float operator()(const float* p) const { return p[j]; }
};
struct LanesAt {
  int64_t j;
  Lanes operator()(const float* p) const {
    Lanes v;
    __builtin_memcpy(&v, p + j, sizeof v);
    return v;
  }
};

// The sum and the largest of the lanes, halving: log2(lanes_width) dependent steps instead of
// lanes_width. The largest is NaN-blind, as the selects feeding it.
inline float lanes_total(Lanes v) {
  for (int width = lanes_width / 2; width > 0; width /= 2) {
    for (int i = 0; i < width; ++i) v[i] += v[i + width];
  }
  return v[0];
}
inline float lanes_max(Lanes v) {
  for (int width = lanes_width / 2; width > 0; width /= 2) {
    for (int i = 0; i < width; ++i) v[i] = v[i + width] > v[i] ? v[i + width] : v[i];
  }
  return v[0];
}

// Σ_{j<n} first and Σ_{j<n} second (when given) in one pass, fp32 within blocks of sum_block terms,
// the block sums added in double, so the rounding error grows with the block length rather than
// with n. Four Lanes accumulators in all (two each for a pair), so four adds are in flight where
// one chain would wait out each add's latency. No std:: function templates (see above).
inline constexpr int64_t sum_block = 1024;
struct SumPair {
  double first = 0.0, second = 0.0;
};
struct NoTerm {};
template <class First, class Second = NoTerm>
SumPair blocked_sums(int64_t n, First first, Second second = {}) {
  constexpr bool two = !__is_same(Second, NoTerm);
  constexpr int chains = two ? 2 : 4;  // per sum
  constexpr int64_t step = chains * lanes_width;
  SumPair total;
  for (int64_t begin = 0; begin < n; begin += sum_block) {
    const int64_t end = begin + sum_block < n ? begin + sum_block : n;
    Lanes acc_first[chains] = {}, acc_second[chains] = {};
    int64_t j = begin;
    for (; j + step <= end; j += step) {
      for (int k = 0; k < chains; ++k) {
        acc_first[k] += first(LanesAt{j + k * lanes_width});
        if constexpr (two) acc_second[k] += second(LanesAt{j + k * lanes_width});
      }
    }
    for (; j + lanes_width <= end; j += lanes_width) {
      acc_first[0] += first(LanesAt{j});
      if constexpr (two) acc_second[0] += second(LanesAt{j});
    }
    float tail_first = 0.0f, tail_second = 0.0f;
    for (; j < end; ++j) {
      tail_first += first(ScalarAt{j});
      if constexpr (two) tail_second += second(ScalarAt{j});
    }
    for (int k = 1; k < chains; ++k) {
      acc_first[0] += acc_first[k];
      acc_second[0] += acc_second[k];
    }
    total.first += double(tail_first + lanes_total(acc_first[0]));
    if constexpr (two) total.second += double(tail_second + lanes_total(acc_second[0]));
  }
  return total;
}

// Σ_{j<n} term, the same way.
template <class Term>
double blocked_sum(int64_t n, Term term) {
  return blocked_sums(n, term).first;
}

}  // namespace
}  // namespace trainrate::kernels::cpu::detail
