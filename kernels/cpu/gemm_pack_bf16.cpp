// Packing for the bf16 GEMM: op(A) and op(B) in bf16 into the two panel layouts the bf16
// micro-kernels read (gemm_microkernel_amx.cpp, gemm_microkernel_avx512_bf16.cpp), each a sequence
// of 32-bit units so that the fp32 loops carry them unchanged. k runs in pairs: step p holds
// k = 2p and 2p + 1.
//
//   pairs:  per pair step, `width` units (one per row of op(A)): {A(i, 2p), A(i, 2p + 1)}. Both
//           kernels read A so; the AVX512-BF16 kernel reads B so too, as the A that op(B)ᵀ is.
//   chunks: per 16 pair steps (32 k), `width` lanes (columns of op(B)) of 16 units: the 32
//           consecutive k of that column. The AMX kernel reads B so.
//
// Compiled with AVX-512BW on x86 (CMakeLists.txt): only the bf16 GEMM calls these, on CPUs that
// have AMX-BF16 or AVX512-BF16 (and AVX-512BW); elsewhere the element loops alone remain.
//
// Everything past the real depth k, and every lane past the operand's edge, is zero, so the
// micro-kernel always multiplies whole chunks. Panels live in untyped scratch (aligned_alloc) and
// are written only as integers here and read only by vector and tile loads and 32-bit
// broadcasts, never as floats.
#include <algorithm>
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {

// op(X)(row, col) of a column-major bf16 matrix.
struct Bf16View {
  Op op;
  const uint16_t* x;
  int64_t ld;
  const uint16_t* at(int64_t row, int64_t col) const { return op == Op::N ? x + row + col * ld : x + col + row * ld; }
};

// op(A) = A: rows adjacent, so pair step p interleaves two contiguous runs (the columns 2p and
// 2p + 1). Walks the pair steps in order and deals each pair of runs out to the slivers, so the
// reads stream through memory; sliver by sliver instead, each step jumps two columns (a page
// each for a large lda) and packing takes a large share of the GEMM. 32 rows per two AVX-512BW
// permutes, since 8 rows per two SSE2 unpacks still did. The 48-row slivers of the AVX512-BF16 kernel take their last 16 rows in one permute.
void pack_pairs_rows_adjacent(const Bf16Operand& a, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                              int width, uint32_t* out) {
#if defined(__AVX512BW__)
  // Word i of the result is word i/2 of `even` (i even) or of `odd` (index 32 + i/2), from row 0
  // (interleave_low) or row 16 (interleave_high) on.
  alignas(64) uint16_t low[32], high[32];
  for (uint16_t i = 0; i < 32; ++i) {
    low[i] = uint16_t(i / 2 + (i % 2 ? 32 : 0));
    high[i] = uint16_t(low[i] + 16);
  }
  const __m512i interleave_low = _mm512_load_si512(low), interleave_high = _mm512_load_si512(high);
#endif
  for (int64_t p = 0; p < kc; ++p) {
    const int64_t k0 = 2 * (pc + p);
    const uint16_t* lo = k0 < a.depth ? a.x + first + k0 * a.ld : nullptr;
    const uint16_t* hi = k0 + 1 < a.depth ? a.x + first + (k0 + 1) * a.ld : nullptr;
    for (int64_t s = 0; s < extent; s += width) {
      const int64_t lanes = std::min<int64_t>(width, extent - s);
      uint32_t* step = out + s * kc + p * width;
      int64_t l = 0;
#if defined(__AVX512BW__)
      if (lo != nullptr && hi != nullptr) {
        for (; l + 32 <= lanes; l += 32) {  // 32 rows: two loads, two interleaves, 32 units
          const __m512i even = _mm512_loadu_si512(lo + s + l), odd = _mm512_loadu_si512(hi + s + l);
          _mm512_storeu_si512(step + l, _mm512_permutex2var_epi16(even, interleave_low, odd));
          _mm512_storeu_si512(step + l + 16, _mm512_permutex2var_epi16(even, interleave_high, odd));
        }
        // 16 rows, the rest of a 48-row sliver: 16-word loads (masked, so nothing past them is
        // read), the low interleave alone.
        constexpr __mmask32 sixteen_words = 0xffff;
        for (; l + 16 <= lanes; l += 16) {
          const __m512i even = _mm512_maskz_loadu_epi16(sixteen_words, lo + s + l);
          const __m512i odd = _mm512_maskz_loadu_epi16(sixteen_words, hi + s + l);
          _mm512_storeu_si512(step + l, _mm512_permutex2var_epi16(even, interleave_low, odd));
        }
      }
#endif
      for (; l < lanes; ++l) {
        step[l] = uint32_t(lo ? lo[s + l] : 0) | uint32_t(hi ? hi[s + l] : 0) << 16;
      }
      std::fill(step + lanes, step + width, 0u);
    }
  }
}

// The unit of row `row` (a run along k from k = 0) at pair step p: {row[2p], row[2p + 1]}, zero
// past the depth.
uint32_t pair_unit(const uint16_t* row, int64_t p, int64_t depth) {
  const uint32_t even = 2 * p < depth ? row[2 * p] : 0;
  const uint32_t odd = 2 * p + 1 < depth ? row[2 * p + 1] : 0;
  return even | odd << 16;
}

#if defined(__SSE2__)
// Four rows × four pair steps: each row's four units are 16 contiguous bytes, so one 4×4 transpose
// of 32-bit words (shuffles move bits unchanged) turns them into four steps of four rows.
void transpose_units_4x4(const uint16_t* r0, const uint16_t* r1, const uint16_t* r2, const uint16_t* r3,
                         uint32_t* dst, int64_t width) {
  const auto load = [](const uint16_t* r) { return _mm_castsi128_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r))); };
  __m128 a = load(r0), b = load(r1), c = load(r2), d = load(r3);
  _MM_TRANSPOSE4_PS(a, b, c, d);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_castps_si128(a));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + width), _mm_castps_si128(b));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * width), _mm_castps_si128(c));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 3 * width), _mm_castps_si128(d));
}
#endif

// op(A) = Aᵀ: rows strided, k adjacent, so each row's pairs are already consecutive units in
// memory: four rows are read along k side by side and transposed four steps at a time into the
// sliver (which stays in L1). GEMMs with few columns (DeepBench's TN set) are mostly packing A,
// and one unit at a time left them far behind oneDNN.
void pack_pairs_rows_strided(const Bf16Operand& a, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                             int width, uint32_t* out) {
  const int64_t whole_steps = std::clamp<int64_t>(a.depth / 2 - pc, 0, kc);  // both k inside the depth
  for (int64_t s = 0; s < extent; s += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - s);
    uint32_t* sliver = out + s * kc;
    const auto row = [&](int64_t l) { return a.x + (first + s + l) * a.ld; };
    int64_t l = 0;
#if defined(__SSE2__)
    for (; l + 4 <= lanes; l += 4) {
      const uint16_t *r0 = row(l), *r1 = row(l + 1), *r2 = row(l + 2), *r3 = row(l + 3);
      int64_t p = 0;
      for (; p + 4 <= whole_steps; p += 4) {
        const int64_t k0 = 2 * (pc + p);
        transpose_units_4x4(r0 + k0, r1 + k0, r2 + k0, r3 + k0, sliver + p * width + l, width);
      }
      for (; p < kc; ++p) {
        for (int j = 0; j < 4; ++j) sliver[p * width + l + j] = pair_unit(row(l + j), pc + p, a.depth);
      }
    }
#endif
    for (; l < lanes; ++l) {
      const uint16_t* r = row(l);
      for (int64_t p = 0; p < kc; ++p) sliver[p * width + l] = pair_unit(r, pc + p, a.depth);
    }
    for (int64_t p = 0; p < kc; ++p) std::fill(sliver + p * width + lanes, sliver + (p + 1) * width, 0u);
  }
}

}  // namespace

void pack_a_bf16_pairs(const Bf16Operand& a, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                       float* dst) {
  auto* out = reinterpret_cast<uint32_t*>(dst);
  if (a.op == Op::N) return pack_pairs_rows_adjacent(a, pc, kc, first, extent, width, out);
  pack_pairs_rows_strided(a, pc, kc, first, extent, width, out);
}

void pack_b_bf16_chunks(const Bf16Operand& b, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                        float* dst) {
  constexpr int64_t chunk_k = 2 * amx_k_step;
  const Bf16View view{b.op, b.x, b.ld};
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t s = 0; s < extent; s += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - s);
    uint16_t* sliver = out + 2 * s * kc;
    for (int64_t q = 0; q < kc / amx_k_step; ++q) {
      const int64_t k0 = 2 * pc + q * chunk_k;
      const int64_t steps = std::clamp<int64_t>(b.depth - k0, 0, chunk_k);  // real k in this chunk
      uint16_t* chunk = sliver + q * width * chunk_k;
      // Only what the copies below leave unwritten is zeroed: a short last chunk, missing lanes.
      if (steps < chunk_k) {
        for (int64_t l = 0; l < lanes; ++l) std::fill(chunk + l * chunk_k + steps, chunk + (l + 1) * chunk_k, uint16_t(0));
      }
      std::fill(chunk + lanes * chunk_k, chunk + width * chunk_k, uint16_t(0));
      if (b.op == Op::N && steps == chunk_k) {  // a column's k are adjacent: 64 bytes per lane, inlined
        for (int64_t l = 0; l < lanes; ++l) {
          std::memcpy(chunk + l * chunk_k, view.at(k0, first + s + l), chunk_k * sizeof(uint16_t));
        }
      } else if (b.op == Op::N) {
        for (int64_t l = 0; l < lanes; ++l) {
          std::memcpy(chunk + l * chunk_k, view.at(k0, first + s + l), size_t(steps) * sizeof(uint16_t));
        }
      } else {  // a k step's columns are adjacent: read along them, write across the lanes
        for (int64_t t = 0; t < steps; ++t) {
          const uint16_t* run = view.at(k0 + t, first + s);
          for (int64_t l = 0; l < lanes; ++l) chunk[l * chunk_k + t] = run[l];
        }
      }
    }
  }
}

}  // namespace trainrate::kernels::cpu::detail
