// The register-blocked tile loop of the x86 micro-kernels, written once over a SIMD type.
//
// Included only by the gemm_microkernel_avx*.cpp files, each compiled with
// its own -m flags and each with its own Simd type in an anonymous namespace, so every
// instantiation is compiled for the ISA of the file that makes it and none is shared between them.
// A Simd type provides: Vec, Mask, lanes, zero(), load(p) (aligned), loadu(p), storeu(p, v),
// broadcast(p), accumulate(a, b, acc) (one k step of the products: an FMA for fp32 lanes, a pair
// dot product for bf16 pairs), products (how many multiply-adds accumulate does per lane),
// fmadd(a, b, c), mul(a, b), first_lanes(n), load_masked(m, p) (masked-off lanes are not read),
// store_masked(m, p, v) (nor written).
//
// peak_chains is the same k step without memory: the ceiling the tile loop is measured against.
//
// Partial tiles at the edges of C run a smaller instance of the same loop: only the vectors of
// rows that hold rows of C, only the columns that exist, and the last vector of rows loaded and
// stored under a lane mask. A 49-row C (a 7×7 feature map) then costs its full tiles and one
// one-vector tile instead of a whole extra tile, and no partial tile goes through a copy.
#pragma once

#include <array>
#include <cstdint>
#include <utility>

namespace trainrate::kernels::cpu::detail::tiles {

// C[0:rows, 0:Cols] = alpha · A·B + beta · C for RowVecs vectors of rows, rows > (RowVecs − 1)·lanes.
// The panels keep the full MR×NR tile's layout (MR floats of A and NR of B per k step, zero-padded).
template <class Simd, int MR, int NR, int RowVecs, int Cols, bool FullRows>
void tile(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta,
          int rows) {
  using Vec = typename Simd::Vec;
  constexpr int lanes = Simd::lanes;
  Vec acc[Cols][RowVecs];
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < RowVecs; ++v) acc[j][v] = Simd::zero();
  }
  // Touch the C tile early so its lines arrive while the k loop runs. One pointer walks the
  // columns: with a pointer per column held from here to the stores below, GCC ran out of
  // registers in the AVX-512 kernel (24 accumulators) and spilled A onto the stack.
  for (float* cj = c; cj < c + Cols * ldc; cj += ldc) {
    __builtin_prefetch(cj);
    __builtin_prefetch(cj + RowVecs * lanes - 1);
  }
  const float* a = a_panel;
  const float* b = b_panel;
#pragma GCC unroll 4
  for (int64_t p = 0; p < kc; ++p) {
    Vec a_rows[RowVecs];
#pragma GCC unroll 4
    for (int v = 0; v < RowVecs; ++v) a_rows[v] = Simd::load(a + v * lanes);
#pragma GCC unroll 12
    for (int j = 0; j < Cols; ++j) {
      const Vec bj = Simd::broadcast(b + j);
#pragma GCC unroll 4
      for (int v = 0; v < RowVecs; ++v) acc[j][v] = Simd::accumulate(a_rows[v], bj, acc[j][v]);
    }
    a += MR;
    b += NR;
  }
  const Vec va = Simd::broadcast(&alpha), vb = Simd::broadcast(&beta);
  const auto last_mask = Simd::first_lanes(rows - (RowVecs - 1) * lanes);
#pragma GCC unroll 12
  for (int j = 0; j < Cols; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < RowVecs; ++v) {
      float* cv = c + j * ldc + v * lanes;
      if (FullRows || v + 1 < RowVecs) {
        const Vec old = beta == 0.0f ? Simd::zero() : Simd::mul(vb, Simd::loadu(cv));
        Simd::storeu(cv, Simd::fmadd(va, acc[j][v], old));
      } else {  // beta == 0 must not read C: masked lanes are never loaded
        const Vec old = beta == 0.0f ? Simd::zero() : Simd::mul(vb, Simd::load_masked(last_mask, cv));
        Simd::store_masked(last_mask, cv, Simd::fmadd(va, acc[j][v], old));
      }
    }
  }
}

// The k step's throughput ceiling: `iterations` rounds of twelve independent accumulate chains,
// enough to hide a 4-5 cycle latency on two pipes. Returns the FLOPs done.
template <class Simd>
double peak_chains(int64_t iterations) {
  constexpr int chains = 12;
  typename Simd::Vec acc[chains];
  for (int i = 0; i < chains; ++i) acc[i] = Simd::zero();
  // 0x3f003f80 is a bf16 pair {1.0, 0.5}, and as an fp32 about 0.5: normal numbers either way.
  const uint32_t bits = 0x3f003f80u;
  float operand;
  __builtin_memcpy(&operand, &bits, sizeof operand);
  const typename Simd::Vec a = Simd::broadcast(&operand);
  for (int64_t it = 0; it < iterations; ++it) {
    // Fully unrolled so the accumulators live in registers, not on the stack.
#pragma GCC unroll 12
    for (int i = 0; i < chains; ++i) acc[i] = Simd::accumulate(a, a, acc[i]);
  }
  typename Simd::Vec sum = acc[0];
  for (int i = 1; i < chains; ++i) sum = Simd::fmadd(sum, a, acc[i]);
  asm volatile("" : : "v"(sum));  // the sum is used, so the loop stays
  return 2.0 * chains * Simd::lanes * Simd::products * double(iterations);
}

using TileFn = void (*)(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha,
                        float beta, int rows);

// The instances for one count of row vectors, indexed by columns − 1.
template <class Simd, int MR, int NR, int RowVecs, bool FullRows, int... Cols>
constexpr std::array<TileFn, NR> by_columns(std::integer_sequence<int, Cols...>) {
  return {&tile<Simd, MR, NR, RowVecs, Cols + 1, FullRows>...};
}
// Indexed by row vectors − 1, then columns − 1.
template <class Simd, int MR, int NR, bool FullRows, int... Vecs>
constexpr std::array<std::array<TileFn, NR>, sizeof...(Vecs)> by_rows(std::integer_sequence<int, Vecs...>) {
  return {by_columns<Simd, MR, NR, Vecs + 1, FullRows>(std::make_integer_sequence<int, NR>{})...};
}

// The micro-kernel (MicroKernelFn's contract) over tiles of MR×NR, MR a multiple of Simd::lanes.
template <class Simd, int MR, int NR>
void run(int64_t kc, const float* a_panel, const float* b_panel, float* c, int64_t ldc, float alpha, float beta,
         int rows, int cols) {
  static_assert(MR % Simd::lanes == 0, "a tile's rows are whole vectors");
  constexpr auto vectors = std::make_integer_sequence<int, MR / Simd::lanes>{};
  static constexpr auto whole_vectors = by_rows<Simd, MR, NR, true>(vectors);
  static constexpr auto masked_last = by_rows<Simd, MR, NR, false>(vectors);
  const int row_vectors = (rows + Simd::lanes - 1) / Simd::lanes;
  const auto& table = rows % Simd::lanes == 0 ? whole_vectors : masked_last;
  table[size_t(row_vectors - 1)][size_t(cols - 1)](kc, a_panel, b_panel, c, ldc, alpha, beta, rows);
}

}  // namespace trainrate::kernels::cpu::detail::tiles
