// A summation that stays accurate for millions of terms and keeps several vector adds in flight,
// for the memory-bound kernels' files. Not part of the public API.
//
// Included by files of different ISAs (norm.cpp at the baseline, memory_bound_loops*.cpp at their
// own): the anonymous namespace gives each file its own copy, so the linker never picks one file's
// instructions for another. Its values of 16 floats are passed by value between these inline
// functions, which GCC notes (-Wpsabi) as an ABI difference between SSE, AVX2 and AVX-512 builds;
// none crosses a file, so the files that include this are built with -Wno-psabi (CMakeLists.txt).
#pragma once

#include <cstdint>

namespace trainrate::kernels::cpu::detail {
namespace {

// Sixteen fp32 lanes as one value: one AVX-512 register, two AVX2 or four SSE ones.
typedef float Lanes __attribute__((vector_size(64)));
inline constexpr int lanes_width = 16;

// What a sum's term is handed: at(p) is p[j] for the scalar tail, or p[j, j + 16) as Lanes, so one
// generic lambda, [&](auto at) { return at(x) * at(y); }, serves both.
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

// The sum of the lanes, halving: four dependent adds instead of sixteen.
inline float lanes_total(Lanes v) {
  typedef float Half __attribute__((vector_size(32)));
  typedef float Quarter __attribute__((vector_size(16)));
  const Half h = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
                 __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const Quarter q = __builtin_shufflevector(h, h, 0, 1, 2, 3) + __builtin_shufflevector(h, h, 4, 5, 6, 7);
  return (q[0] + q[2]) + (q[1] + q[3]);
}

// The largest of the lanes, halving as lanes_total does (NaN-blind, as the selects feeding it).
inline float lanes_max(Lanes v) {
  typedef float Half __attribute__((vector_size(32)));
  typedef float Quarter __attribute__((vector_size(16)));
  const Half a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  const Half b = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const Half h = a > b ? a : b;
  const Quarter c = __builtin_shufflevector(h, h, 0, 1, 2, 3), d = __builtin_shufflevector(h, h, 4, 5, 6, 7);
  const Quarter q = c > d ? c : d;
  const float e = q[0] > q[2] ? q[0] : q[2], f = q[1] > q[3] ? q[1] : q[3];
  return e > f ? e : f;
}

// Σ_{j<n} first and Σ_{j<n} second (when given) in one pass, fp32 within blocks of sum_block terms,
// the block sums added in double, so the rounding error grows with the block length rather than
// with n. Four Lanes accumulators in all (two per sum for a pair), so four adds are in flight
// where one chain would wait out each add's latency. No std:: function templates (see above).
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
