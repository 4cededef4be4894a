// Packing: copy a block of op(A) or op(B) into the sliver order the micro-kernel streams through,
// zero-padding the last sliver. This is where the four transpose cases are absorbed.
//
// Two access patterns cover all four cases. "Gather along the sliver" (op(A) = A, op(B) = Bᵀ):
// each k step of a sliver is `width` contiguous source floats, a straight copy. "Gather across"
// (op(A) = Aᵀ, op(B) = B): each sliver lane is a contiguous source run along k, written with a
// stride of `width`; the sliver (kc·width floats) stays in L1 while it is written.
#include <cstring>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/gemm_internal.hpp"

namespace trainrate::kernels::cpu::detail {

namespace {

// Lanes adjacent in the source: src(l, p) = src[l + p·ld]. Walks the source one k step at a time
// (a run of `extent` contiguous floats) and deals each run out to the slivers, so the reads stream
// through memory in order. Sliver by sliver instead, each k step of each sliver jumps `ld` floats,
// to a new page when ld is large, and packing can then cost more than the multiplication.
template <int Width>
void pack_contiguous_lanes(const float* src, int64_t ld, int64_t kc, int64_t extent, int width_rt, float* dst) {
  const int width = Width > 0 ? Width : width_rt;
  const int64_t full_lanes = extent / width * width;
  for (int64_t p = 0; p < kc; ++p) {
    const float* s = src + p * ld;
    // A fixed-size memcpy becomes whole-vector moves; an element loop stays scalar because the
    // compiler cannot rule out overlap between src and dst.
    for (int64_t l0 = 0; l0 < full_lanes; l0 += width) {
      std::memcpy(dst + l0 * kc + p * width, s + l0, size_t(width) * sizeof(float));
    }
    if (full_lanes == extent) continue;
    float* d = dst + full_lanes * kc + p * width;
    int64_t l = 0;
    for (; l < extent - full_lanes; ++l) d[l] = s[full_lanes + l];
    for (; l < width; ++l) d[l] = 0.0f;
  }
}

#if defined(__SSE2__)
// Four k steps of a full sliver whose lanes are strided in the source: 4×4 blocks transposed in
// registers (4 loads along k, 4 stores along the lanes), and for a width of 6 the last two lanes
// interleaved pairwise.
template <int Width>
void transpose_steps(const float* src, int64_t ld, float* d) {
  int l = 0;
  for (; l + 4 <= Width; l += 4) {
    transpose_4x4(src + l * ld, src + (l + 1) * ld, src + (l + 2) * ld, src + (l + 3) * ld, d + l, Width);
  }
  if constexpr (Width % 4 == 2) {
    const __m128 a = _mm_loadu_ps(src + l * ld), b = _mm_loadu_ps(src + (l + 1) * ld);
    const __m128 lo = _mm_unpacklo_ps(a, b), hi = _mm_unpackhi_ps(a, b);  // (a0 b0 a1 b1), (a2 b2 a3 b3)
    _mm_storel_pi(reinterpret_cast<__m64*>(d + l), lo);
    _mm_storeh_pi(reinterpret_cast<__m64*>(d + Width + l), lo);
    _mm_storel_pi(reinterpret_cast<__m64*>(d + 2 * Width + l), hi);
    _mm_storeh_pi(reinterpret_cast<__m64*>(d + 3 * Width + l), hi);
  } else {
    static_assert(Width % 4 == 0, "transpose_steps handles widths 4k and 4k + 2");
  }
}
#endif

// Sliver lanes strided in the source: src(l, p) = src[p + l·ld].
template <int Width>
void pack_strided_lanes(const float* src, int64_t ld, int64_t kc, int64_t lanes, int width_rt, float* dst) {
  const int width = Width > 0 ? Width : width_rt;
  if (Width > 0 && lanes == Width) {
    // Full sliver of known width: read the Width source runs side by side so every store is
    // contiguous and each run streams through the prefetcher; four k steps at a time as 4×4
    // register transposes where SSE is there (every x86-64).
    int64_t p = 0;
#if defined(__SSE2__)
    for (; p + 4 <= kc; p += 4) transpose_steps<Width>(src + p, ld, dst + p * Width);
#endif
    for (; p < kc; ++p) {
      float* d = dst + p * Width;
      for (int l = 0; l < Width; ++l) d[l] = src[l * ld + p];
    }
    return;
  }
  // A partial sliver (the last of an operand): 4×4 transposes too. The 48-row AVX-512 tile leaves
  // 16 rows of a 64-channel operand here (ResNet-50's 1×1 backward-filter layers, both operands
  // strided), where an element loop was measurably slower.
  pack_lane_runs([&](int64_t l) { return src + l * ld; }, lanes, kc, width, dst);
  for (int64_t l = lanes; l < width; ++l) {
    for (int64_t p = 0; p < kc; ++p) dst[p * width + l] = 0.0f;
  }
}

// Packs `extent` lanes (rows of op(A) or columns of op(B)) into ⌈extent/width⌉ slivers.
// `contiguous` says whether consecutive lanes are adjacent in memory (then k steps are `ld` apart)
// or k steps are (then lanes are `ld` apart).
template <int Width>
void pack_slivers(bool contiguous, const float* src, int64_t ld, int64_t kc, int64_t extent, int width,
                  float* dst) {
  if (contiguous) return pack_contiguous_lanes<Width>(src, ld, kc, extent, width, dst);
  for (int64_t l0 = 0; l0 < extent; l0 += width) {
    const int64_t lanes = extent - l0 < width ? extent - l0 : width;
    pack_strided_lanes<Width>(src + l0 * ld, ld, kc, lanes, width, dst + l0 * kc);
  }
}

// Compile-time widths for the kernels we ship, so the copy loops unroll; anything else runs generic.
void pack_dispatch(bool contiguous, const float* src, int64_t ld, int64_t kc, int64_t extent, int width,
                   float* dst) {
  switch (width) {
    case 6: return pack_slivers<6>(contiguous, src, ld, kc, extent, width, dst);
    case 8: return pack_slivers<8>(contiguous, src, ld, kc, extent, width, dst);
    case 16: return pack_slivers<16>(contiguous, src, ld, kc, extent, width, dst);
    case 48: return pack_slivers<48>(contiguous, src, ld, kc, extent, width, dst);
    default: return pack_slivers<0>(contiguous, src, ld, kc, extent, width, dst);
  }
}

}  // namespace

void pack_a(Op op, const float* a, int64_t lda, int64_t mc, int64_t kc, int mr, float* dst) {
  // op(A)(i, p) is a[i + p·lda] for N (rows adjacent), a[p + i·lda] for T (rows strided).
  pack_dispatch(op == Op::N, a, lda, kc, mc, mr, dst);
}

void pack_b(Op op, const float* b, int64_t ldb, int64_t kc, int64_t nc, int nr, float* dst) {
  // op(B)(p, j) is b[p + j·ldb] for N (columns strided), b[j + p·ldb] for T (columns adjacent).
  pack_dispatch(op == Op::T, b, ldb, kc, nc, nr, dst);
}

}  // namespace trainrate::kernels::cpu::detail
