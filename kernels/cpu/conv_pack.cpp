// Implicit-GEMM packing: im2col patches gathered straight into the GEMM's sliver format, so the
// convolution never writes a column matrix and reads it back to pack it (one pass over the
// input instead of three), and a 1×1 strided convolution is a gather fused into the GEMM.
//
// Every source packs lanes [first, first + extent) for k steps [pc, pc + kc) as slivers of
// `width` lanes: sliver element (step t, lane l) lands at dst[sliver·kc·width + t·width + l], and
// lanes past `extent` are zero. Two patterns, as in gemm_pack.cpp: when the source is contiguous
// along the lanes (NHWC channels of one tap) a k step is a run copy;
// when it is contiguous along k, each lane is walked along k and written with stride `width`.
#include <algorithm>
#include <cassert>
#include <cstring>
#include <iterator>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "kernels/cpu/conv_internal.hpp"

namespace trainrate::kernels::cpu::detail {

Span valid_outputs(int64_t offset, int64_t stride, int64_t limit, int64_t extent) {
  // o ≥ ⌈−offset / stride⌉ and o < ⌈(limit − offset) / stride⌉, clamped to [0, extent).
  const auto ceil_div = [](int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); };
  const int64_t begin = std::clamp<int64_t>(ceil_div(-offset, stride), 0, extent);
  const int64_t end = std::clamp<int64_t>(ceil_div(limit - offset, stride), begin, extent);
  return {begin, end};
}

ConvGeometry::ConvGeometry(const ConvProblem& cp)
    : n(cp.n), c(cp.c), h(cp.h), w(cp.w), k(cp.k), r(cp.r), s(cp.s), p(cp.p()), q(cp.q()),
      stride_h(cp.stride_h), stride_w(cp.stride_w), pad_h(cp.pad_h), pad_w(cp.pad_w),
      dilation_h(cp.dilation_h), dilation_w(cp.dilation_w) {
  for (int64_t tap = 0; tap < r; ++tap) valid_p.push_back(valid_outputs(tap * dilation_h - pad_h, stride_h, h, p));
  for (int64_t tap = 0; tap < s; ++tap) valid_q.push_back(valid_outputs(tap * dilation_w - pad_w, stride_w, w, q));
}

namespace {
// The narrowest phase-plane width Q' ≥ Q for which every read of an output column q < Q through
// tap column s either stays in its row or, past the row's end, is right padding that lands in
// the next row's leading zeros. Stride 1 with padding p then needs W + p instead of W + 2p.
int64_t wide_row_floats(const ConvGeometry& g) {
  const int64_t unwrapped = (g.w + 2 * g.pad_w + g.stride_w - 1) / g.stride_w;
  const auto reads_padding_only = [&](int64_t width) {
    for (int64_t s = 0; s < g.s; ++s) {
      const int64_t phase = s * g.dilation_w % g.stride_w, shift = s * g.dilation_w / g.stride_w;
      const int64_t leading_zeros = valid_outputs(phase - g.pad_w, g.stride_w, g.w, unwrapped).begin;
      // Reads wrap into the next row at most (the planes hold one slack row after the last).
      const int64_t last = g.q - 1 + shift;  // furthest plane column a kept output reads
      if (last < width) continue;
      const int64_t first_wrapped_input = width * g.stride_w + phase - g.pad_w;
      if (first_wrapped_input < g.w || last - width >= leading_zeros) return false;
    }
    return true;
  };
  for (int64_t width = g.q; width < unwrapped; ++width) {
    if (reads_padding_only(width)) return width;
  }
  return unwrapped;
}
}  // namespace

WideLayout::WideLayout(const ConvGeometry& g)
    : row_floats(wide_row_floats(g)),
      rows((g.h + 2 * g.pad_h + g.stride_h - 1) / g.stride_h),
      plane_floats((rows + 1) * row_floats),
      phase_slot(size_t(g.stride_h * g.stride_w), -1),
      channels(g.c),
      columns(g.q) {
  const auto phase = [&](int64_t r, int64_t s) {
    return size_t((r * g.dilation_h % g.stride_h) * g.stride_w + s * g.dilation_w % g.stride_w);
  };
  for (int64_t r = 0; r < g.r; ++r) {
    for (int64_t s = 0; s < g.s; ++s) {
      if (phase_slot[phase(r, s)] < 0) phase_slot[phase(r, s)] = int(used_phases++);
    }
  }
  tap_offset.reserve(size_t(g.crs()));
  for (int64_t ch = 0; ch < g.c; ++ch) {
    for (int64_t r = 0; r < g.r; ++r) {
      for (int64_t s = 0; s < g.s; ++s) {
        tap_offset.push_back((ch * used_phases + phase_slot[phase(r, s)]) * plane_floats +
                             r * g.dilation_h / g.stride_h * row_floats + s * g.dilation_w / g.stride_w);
      }
    }
  }
}

namespace {
// dst[x] = src[x·stride] for x in [begin, end); nothing at or past `limit` is read. Stride 2 (the
// common downsampling case) takes four elements per SSE shuffle of two loads.
void copy_strided(const float* src, int64_t stride, int64_t begin, int64_t end, const float* limit, float* dst) {
  int64_t x = begin;
#if defined(__SSE2__)
  if (stride == 2) {
    for (; x + 4 <= end && src + 2 * x + 8 <= limit; x += 4) {
      const __m128 lo = _mm_loadu_ps(src + 2 * x), hi = _mm_loadu_ps(src + 2 * x + 4);
      _mm_storeu_ps(dst + x, _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)));
    }
  }
#endif
  for (; x < end; ++x) dst[x] = src[x * stride];
}
}  // namespace

void fill_wide_planes(const ConvGeometry& g, const WideLayout& layout, const float* x_n, float* planes,
                      int threads) {
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && layout.image_floats() > (1 << 16))
  for (int64_t ch = 0; ch < g.c; ++ch) {
    for (int64_t phase = 0; phase < int64_t(layout.phase_slot.size()); ++phase) {
      const int slot = layout.phase_slot[size_t(phase)];
      if (slot < 0) continue;
      const int64_t a = phase / g.stride_w, b = phase % g.stride_w;
      const Span cols = valid_outputs(b - g.pad_w, g.stride_w, g.w, layout.row_floats);
      float* dst = planes + (ch * layout.used_phases + slot) * layout.plane_floats;
      for (int64_t y = 0; y <= layout.rows; ++y, dst += layout.row_floats) {
        const int64_t iy = y * g.stride_h + a - g.pad_h;
        if (iy < 0 || iy >= g.h) {
          std::fill(dst, dst + layout.row_floats, 0.0f);
          continue;
        }
        const float* src = x_n + (ch * g.h + iy) * g.w + b - g.pad_w;  // input column of plane column x: x·stride_w
        std::fill(dst, dst + cols.begin, 0.0f);
        if (g.stride_w == 1) {
          std::memcpy(dst + cols.begin, src + cols.begin, size_t(cols.end - cols.begin) * sizeof(float));
        } else {
          copy_strided(src, g.stride_w, cols.begin, cols.end, x_n + (ch * g.h + iy + 1) * g.w, dst);
        }
        std::fill(dst + cols.end, dst + layout.row_floats, 0.0f);
      }
    }
  }
}

namespace {

const ConvOperand& operand(const void* context) { return *static_cast<const ConvOperand*>(context); }

// Zeroes lanes [lanes, width) of kc k steps of one sliver.
void zero_pad_lanes(int64_t kc, int64_t lanes, int width, float* sliver) {
  if (lanes == width) return;
  for (int64_t t = 0; t < kc; ++t) std::fill(sliver + t * width + lanes, sliver + (t + 1) * width, 0.0f);
}

// Calls pack_sliver(first_lane, lanes, sliver) for each ⌈extent/width⌉ sliver.
template <class PackSliver>
void for_each_sliver(int64_t first, int64_t extent, int64_t kc, int width, float* dst, PackSliver&& pack_sliver) {
  for (int64_t l0 = 0; l0 < extent; l0 += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - l0);
    float* sliver = dst + l0 * kc;
    pack_sliver(first + l0, lanes, sliver);
    zero_pad_lanes(kc, lanes, width, sliver);
  }
}

// Copies output columns [q0, q1) of output row `p` for filter tap (r, s) of one NCHW input plane
// into out[0, q1 − q0), zero where the tap falls into the padding.
void gather_nchw_row(const ConvGeometry& g, const float* plane, int64_t p, int64_t r, int64_t s, int64_t q0,
                     int64_t q1, float* out) {
  const Span rows = g.valid_p[size_t(r)];
  if (p < rows.begin || p >= rows.end) {
    std::fill(out, out + (q1 - q0), 0.0f);
    return;
  }
  const Span cols = g.valid_q[size_t(s)];
  const int64_t begin = std::clamp(cols.begin, q0, q1), end = std::clamp(cols.end, begin, q1);
  const float* row = plane + (p * g.stride_h - g.pad_h + r * g.dilation_h) * g.w + s * g.dilation_w - g.pad_w;
  std::fill(out, out + (begin - q0), 0.0f);
  if (g.stride_w == 1) {
    std::memcpy(out + (begin - q0), row + begin, size_t(end - begin) * sizeof(float));
  } else {
    for (int64_t qq = begin; qq < end; ++qq) out[qq - q0] = row[qq * g.stride_w];
  }
  std::fill(out + (end - q0), out + (q1 - q0), 0.0f);
}

// NCHW forward: lane = output pixel p·Q + q, k step = tap. The lanes of one output row are one
// contiguous run of the tap's phase plane (from p·Q' + q), so a sliver within a row is a copy.
template <int Width>
void pack_wide_slivers(const WideOperand& x, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width_rt,
                       float* dst) {
  const int width = Width > 0 ? Width : width_rt;
  const WideLayout& layout = *x.layout;
  const int64_t* offsets = layout.tap_offset.data() + pc;
  for (int64_t l0 = 0; l0 < extent; l0 += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - l0);
    float* sliver = dst + l0 * kc;
    const int64_t pixel = first + l0;
#if defined(__x86_64__) || defined(__i386__)
    // Only the AVX-512 micro-kernel packs slivers this wide, so the CPU has AVX-512F.
    if constexpr (Width == avx512_mr) {
      pack_wide_sliver_avx512(x, offsets, kc, pixel, lanes, sliver);
      continue;
    }
#endif
    if (lanes == width && layout.run_length(pixel, width) == width) {
      const float* base = x.planes + layout.plane_offset(pixel);
      // A fixed-size memcpy becomes whole-vector moves; an element loop stays scalar because the
      // compiler cannot rule out overlap.
      for (int64_t t = 0; t < kc; ++t) std::memcpy(sliver + t * width, base + offsets[t], size_t(width) * sizeof(float));
      continue;
    }
    // Crossing rows (maps narrower than a sliver, or a row's end): a gather per lane, no slower
    // than one copy per row's run.
    assert(width <= avx512_mr);  // slivers are a micro-kernel's MR wide
    int64_t lane_at[avx512_mr];
    for (int64_t l = 0; l < lanes; ++l) lane_at[l] = layout.plane_offset(pixel + l);
    for (int64_t t = 0; t < kc; ++t) {
      const float* tap = x.planes + offsets[t];
      float* out = sliver + t * width;
      if (Width > 0 && lanes == Width) {
        for (int l = 0; l < Width; ++l) out[l] = tap[lane_at[l]];
      } else {
        for (int64_t l = 0; l < lanes; ++l) out[l] = tap[lane_at[l]];
      }
    }
    zero_pad_lanes(kc, lanes, width, sliver);
  }
}

void pack_nchw_wide_patches_by_pixel(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                                     int width, float* dst) {
  const WideOperand& x = *static_cast<const WideOperand*>(context);
  // Fixed widths let the compiler turn each k step into whole-vector copies.
  switch (width) {
    case portable_mr: return pack_wide_slivers<portable_mr>(x, pc, kc, first, extent, width, dst);
    case avx2_mr: return pack_wide_slivers<avx2_mr>(x, pc, kc, first, extent, width, dst);
    case avx512_mr: return pack_wide_slivers<avx512_mr>(x, pc, kc, first, extent, width, dst);
    default: return pack_wide_slivers<0>(x, pc, kc, first, extent, width, dst);
  }
}

// NCHW backward-filter: lane = tap, k step = output pixel p·Q + q. Within an output row the steps
// are one contiguous run of each tap's phase plane (wide pixel p·Q' + q).
void pack_nchw_wide_patches_by_tap(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                                   int width, float* dst) {
  const WideOperand& x = *static_cast<const WideOperand*>(context);
  const WideLayout& layout = *x.layout;
  const int64_t* offsets = layout.tap_offset.data() + first;
  for (int64_t l0 = 0; l0 < extent; l0 += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - l0);
    float* sliver = dst + l0 * kc;
    for (int64_t t = 0; t < kc;) {
      const int64_t steps = layout.run_length(pc + t, kc - t);
      const float* at = x.planes + layout.plane_offset(pc + t);
      pack_lane_runs([&](int64_t l) { return at + offsets[l0 + l]; }, lanes, steps, width, sliver + t * width);
      t += steps;
    }
    zero_pad_lanes(kc, lanes, width, sliver);
  }
}

// NCHW forward of small maps: lane = output pixel of the whole batch, k step = tap (c, r, s).
// Each lane walks its taps (one input element each, HW apart per channel) and writes them with
// stride `width`; maps are small, so the input stays in L1/L2 while it is gathered.
void pack_nchw_patches_by_pixel_batched(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                                        int width, float* dst) {
  const ConvGeometry& g = *operand(context).geometry;
  const float* x = operand(context).data;
  // Per lane, once per sliver: its output pixel and where its patch starts. A k step (tap) is then
  // one offset and one pair of valid spans shared by the lanes, written across the lanes: less
  // index arithmetic than walking each lane's taps (docs/results/history-from-code.md).
  // Slivers are as wide as a micro-kernel's MR or NR, and the AVX-512 MR is the widest of them.
  static_assert(avx512_mr >= avx2_mr && avx512_mr >= portable_mr && avx512_mr >= avx512_nr);
  assert(width <= avx512_mr);
  int64_t base[avx512_mr], p[avx512_mr], q[avx512_mr];
  for_each_sliver(first, extent, kc, width, dst, [&](int64_t pix0, int64_t lanes, float* sliver) {
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t n = (pix0 + l) / g.pq(), pix = (pix0 + l) % g.pq();
      p[l] = pix / g.q, q[l] = pix % g.q;
      base[l] = n * g.c * g.hw() + (p[l] * g.stride_h - g.pad_h) * g.w + q[l] * g.stride_w - g.pad_w;
    }
    int64_t ch = pc / (g.r * g.s), r = pc / g.s % g.r, s = pc % g.s;
    for (int64_t t = 0; t < kc; ++t) {
      const int64_t tap_offset = ch * g.hw() + r * g.dilation_h * g.w + s * g.dilation_w;
      const Span rows = g.valid_p[size_t(r)], cols = g.valid_q[size_t(s)];
      float* out = sliver + t * width;
      for (int64_t l = 0; l < lanes; ++l) {
        const bool inside = p[l] >= rows.begin && p[l] < rows.end && q[l] >= cols.begin && q[l] < cols.end;
        out[l] = inside ? x[base[l] + tap_offset] : 0.0f;
      }
      if (++s == g.s && (s = 0, ++r == g.r)) r = 0, ++ch;
    }
  });
}

// NCHW backward-filter: lane = tap (c, r, s), k step = pixel of the whole batch. Each lane walks
// its output rows image by image, gathering a row run and scattering it with stride `width`.
void pack_nchw_patches_by_tap(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                              int width, float* dst) {
  const ConvGeometry& g = *operand(context).geometry;
  const float* x = operand(context).data;
  float run[512];
  for_each_sliver(first, extent, kc, width, dst, [&](int64_t tap0, int64_t lanes, float* sliver) {
    for (int64_t l = 0; l < lanes; ++l) {
      const int64_t tap = tap0 + l, ch = tap / (g.r * g.s), r = tap / g.s % g.r, s = tap % g.s;
      for (int64_t t = pc; t < pc + kc;) {
        const int64_t n = t / g.pq(), pix = t % g.pq(), p = pix / g.q, q0 = pix % g.q;
        const int64_t q1 = std::min({g.q, q0 + (pc + kc - t), q0 + int64_t(std::size(run))});
        gather_nchw_row(g, x + (n * g.c + ch) * g.hw(), p, r, s, q0, q1, run);
        float* out = sliver + (t - pc) * width + l;
        for (int64_t i = 0; i < q1 - q0; ++i) out[i * width] = run[i];
        t += q1 - q0;
      }
    }
  });
}

// NCHW backward-filter: lane = filter j, k step = pixel of the whole batch; dy_n(pix, j) sits at
// dy[(n·K + j)·PQ + pix], so each lane is a contiguous run per image.
void pack_nchw_gradients_by_filter(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                                   int width, float* dst) {
  const ConvGeometry& g = *operand(context).geometry;
  const float* dy = operand(context).data;
  for_each_sliver(first, extent, kc, width, dst, [&](int64_t j0, int64_t lanes, float* sliver) {
    for (int64_t t = pc; t < pc + kc;) {
      const int64_t n = t / g.pq(), pix = t % g.pq(), run = std::min(g.pq() - pix, pc + kc - t);
      for (int64_t l = 0; l < lanes; ++l) {
        const float* src = dy + (n * g.k + j0 + l) * g.pq() + pix;
        float* out = sliver + (t - pc) * width + l;
        for (int64_t i = 0; i < run; ++i) out[i * width] = src[i];
      }
      t += run;
    }
  });
}

// The NHWC input pixel (n, iy, ix) that output pixel `pix` of the batch reads through tap (r, s),
// or nullptr in the padding.
const float* nhwc_tap(const ConvGeometry& g, const float* x, int64_t pix, int64_t r, int64_t s) {
  const int64_t n = pix / g.pq(), p = pix / g.q % g.p, q = pix % g.q;
  const Span rows = g.valid_p[size_t(r)], cols = g.valid_q[size_t(s)];
  if (p < rows.begin || p >= rows.end || q < cols.begin || q >= cols.end) return nullptr;
  const int64_t iy = p * g.stride_h - g.pad_h + r * g.dilation_h, ix = q * g.stride_w - g.pad_w + s * g.dilation_w;
  return x + ((n * g.h + iy) * g.w + ix) * g.c;
}

// NHWC forward: lane = output pixel of the batch, k step = tap (r, s, c). Each lane's patch is
// R·S channel runs; the runs are written with stride `width`. With C = 3 (the first layer) this
// is 3-float runs either way, but now written once, straight into the panel.
void pack_nhwc_patches_by_pixel(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                                int width, float* dst) {
  const ConvGeometry& g = *operand(context).geometry;
  const float* x = operand(context).data;
  for_each_sliver(first, extent, kc, width, dst, [&](int64_t pix0, int64_t lanes, float* sliver) {
    for (int64_t l = 0; l < lanes; ++l) {
      float* out = sliver + l;
      for (int64_t t = pc; t < pc + kc;) {
        const int64_t rs = t / g.c, ch = t % g.c, run = std::min(g.c - ch, pc + kc - t);
        const float* src = nhwc_tap(g, x, pix0 + l, rs / g.s, rs % g.s);
        float* o = out + (t - pc) * width;
        if (src == nullptr) {
          for (int64_t i = 0; i < run; ++i) o[i * width] = 0.0f;
        } else {
          for (int64_t i = 0; i < run; ++i) o[i * width] = src[ch + i];
        }
        t += run;
      }
    }
  });
}

// NHWC backward-filter: lane = tap (r, s, c), k step = pixel of the batch. A k step of a sliver
// is a few channel runs, each a contiguous copy from one input pixel.
void pack_nhwc_patches_by_tap(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent,
                              int width, float* dst) {
  const ConvGeometry& g = *operand(context).geometry;
  const float* x = operand(context).data;
  for_each_sliver(first, extent, kc, width, dst, [&](int64_t tap0, int64_t lanes, float* sliver) {
    for (int64_t t = 0; t < kc; ++t) {
      float* out = sliver + t * width;
      for (int64_t tap = tap0; tap < tap0 + lanes;) {
        const int64_t rs = tap / g.c, ch = tap % g.c, run = std::min(g.c - ch, tap0 + lanes - tap);
        const float* src = nhwc_tap(g, x, pc + t, rs / g.s, rs % g.s);
        if (src == nullptr) {
          std::fill(out + (tap - tap0), out + (tap - tap0) + run, 0.0f);
        } else {
          std::memcpy(out + (tap - tap0), src + ch, size_t(run) * sizeof(float));
        }
        tap += run;
      }
    }
  });
}

void pack_flipped_filters(const void* context, int64_t pc, int64_t kc, int64_t first, int64_t extent, int width,
                          float* dst) {
  const auto& f = *static_cast<const FlippedFilters*>(context);
  for (int64_t l0 = 0; l0 < extent; l0 += width) {
    const int64_t lanes = std::min<int64_t>(width, extent - l0);
    float* sliver = dst + l0 * kc;
    for (int64_t t = 0; t < kc; ++t) {
      // Step (k, r, s) is tap r·S + s of filter k; flipped, it reads tap R·S − 1 − (r·S + s).
      const int64_t k = (pc + t) / f.taps, tap = (pc + t) % f.taps;
      const float* src = f.w + (k * f.c + first + l0) * f.taps + (f.taps - 1 - tap);
      for (int64_t l = 0; l < lanes; ++l) sliver[t * width + l] = src[l * f.taps];
    }
    zero_pad_lanes(kc, lanes, width, sliver);
  }
}

}  // namespace

PackSource flipped_filters(const FlippedFilters& f) { return {pack_flipped_filters, &f}; }
PackSource nchw_patches_by_pixel_batched(const ConvOperand& x) {
  return {pack_nchw_patches_by_pixel_batched, &x};
}
PackSource nchw_wide_patches_by_pixel(const WideOperand& x) { return {pack_nchw_wide_patches_by_pixel, &x}; }
PackSource nchw_wide_patches_by_tap(const WideOperand& x) { return {pack_nchw_wide_patches_by_tap, &x}; }
PackSource nchw_patches_by_tap(const ConvOperand& x) { return {pack_nchw_patches_by_tap, &x}; }
PackSource nchw_gradients_by_filter(const ConvOperand& dy) { return {pack_nchw_gradients_by_filter, &dy}; }
PackSource nhwc_patches_by_pixel(const ConvOperand& x) { return {pack_nhwc_patches_by_pixel, &x}; }
PackSource nhwc_patches_by_tap(const ConvOperand& x) { return {pack_nhwc_patches_by_tap, &x}; }

}  // namespace trainrate::kernels::cpu::detail
