// Pieces of the convolutions shared between their files: the geometry and the implicit-GEMM
// operand sources that gather im2col patches straight into the GEMM's packed panels. Not part of
// the public API.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/cpu/gemm_internal.hpp"
#include "problems/problem.hpp"

namespace trainrate::kernels::cpu::detail {

// Output indices o in [0, extent) whose input index o·stride + offset lies in [0, limit).
struct Span {
  int64_t begin, end;
};
Span valid_outputs(int64_t offset, int64_t stride, int64_t limit, int64_t extent);

// A convolution's sizes plus, per filter tap, the output rows/columns that read inside the input
// (so packing never divides per element).
struct ConvGeometry {
  explicit ConvGeometry(const ConvProblem& cp);
  int64_t n, c, h, w, k, r, s, p, q;
  int64_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
  std::vector<Span> valid_p;  // per filter row r: output rows whose input row is inside
  std::vector<Span> valid_q;  // per filter column s: output columns whose input column is inside
  int64_t crs() const { return c * r * s; }
  int64_t hw() const { return h * w; }
  int64_t pq() const { return p * q; }
};

// The "wide" view of an NCHW image for a stride-free implicit GEMM. Each input channel is stored
// zero-padded and split into phase planes: phase (a, b) holds padded rows a, a + stride_h, … and
// columns b, b + stride_w, …. Output pixel (p, q) through tap (r, s) then reads phase
// ((r·dh) mod stride_h, (s·dw) mod stride_w) at row p + ⌊r·dh/stride_h⌋, column q + ⌊s·dw/stride_w⌋.
// With Q' the phase-plane width, output pixel (p, q) through k step t (tap) is then
// planes[p·Q' + q + tap_offset[t]]: within an output row, a column of the im2col matrix is a
// contiguous slice of one plane, so packing is a copy (one run per output row a sliver spans) and
// no column matrix is built. The GEMM numbers pixels p·Q + q, so it computes no padding columns
// and writes y (forward) or reads dy (backward-filter) where they lie. Q' is the narrowest width
// at which reads past a row's end are right padding landing in the next row's leading zeros
// (wide_row_floats): W + pad for stride 1, which keeps the planes small.
struct WideLayout {
  explicit WideLayout(const ConvGeometry& g);
  int64_t row_floats;           // Q': phase-plane width = length of a wide output row
  int64_t rows;                 // phase-plane height
  int64_t plane_floats;         // rows·Q' plus a zero slack row that reads past the last row end in
  std::vector<int> phase_slot;  // per phase a·stride_w + b: its index among the used phases, or −1
  int64_t used_phases = 0;
  std::vector<int64_t> tap_offset;  // per k step (c, r, s): where its slice starts in an image's planes
  int64_t channels;
  int64_t columns;              // Q: the output columns of a plane row
  int64_t image_floats() const { return channels * used_phases * plane_floats; }
  // Where output pixel p·Q + q sits in a plane: p·Q' + q.
  int64_t plane_offset(int64_t pixel) const { return pixel / columns * row_floats + pixel % columns; }
  // How many of the `limit` pixels from `pixel` on lie contiguously in a plane: up to the end of
  // the output row, or all of them when Q' = Q and consecutive rows join up.
  int64_t run_length(int64_t pixel, int64_t limit) const {
    return row_floats == columns ? limit : std::min(limit, columns - pixel % columns);
  }
};
// Writes one NCHW image's phase planes (image_floats() floats), channels split over `threads`.
void fill_wide_planes(const ConvGeometry& g, const WideLayout& layout, const float* x_n, float* planes, int threads);
struct WideOperand {
  const WideLayout* layout;
  const float* planes;
};
// NCHW forward, one image: op(A) = im2col(x_n), PQ×CRS (lanes are output pixels p·Q + q).
PackSource nchw_wide_patches_by_pixel(const WideOperand& x);
#if defined(__x86_64__) || defined(__i386__)
// One sliver of that source at the AVX-512 micro-kernel's width (conv_pack_avx512.cpp): lanes
// [0, lanes) are output pixels from `pixel` on, k step t reads the plane slice at tap_offsets[t],
// lanes past `lanes` are zero. Only for CPUs with AVX-512F.
void pack_wide_sliver_avx512(const WideOperand& x, const int64_t* tap_offsets, int64_t kc, int64_t pixel,
                             int64_t lanes, float* sliver);
#endif
// NCHW backward-filter, one image: op(A) = im2col(x_n)ᵀ, CRS×PQ (lanes are taps).
PackSource nchw_wide_patches_by_tap(const WideOperand& x);

// The filters of a stride-1 backward_data read as those of the forward convolution it equals
// (see conv.cpp): w̃[c][k][r][s] = w[k][c][R−1−r][S−1−s], lanes are the C input channels, k steps
// the K·R·S taps (k, r, s). Packed straight from the stored KCRS w; nothing is materialised.
struct FlippedFilters {
  const float* w = nullptr;
  int64_t c = 0, taps = 0;  // input channels and R·S of the stored filters
};
PackSource flipped_filters(const FlippedFilters& f);

// The operand sources, each over a ConvGeometry and a tensor that outlive the GEMM call.
struct ConvOperand {
  const ConvGeometry* geometry;
  const float* data;
};
// NCHW forward, whole batch: op(B) = im2col(x)ᵀ, CRS×(N·PQ) (lanes are output pixels).
PackSource nchw_patches_by_pixel_batched(const ConvOperand& x);
// NCHW backward-filter, whole batch: op(A) = im2col(x)ᵀ, CRS×(N·PQ) (lanes are filter taps).
PackSource nchw_patches_by_tap(const ConvOperand& x);
// NCHW backward-filter, whole batch: op(B) = dy as (N·PQ)×K from NKPQ (lanes are filters).
PackSource nchw_gradients_by_filter(const ConvOperand& dy);
// NHWC forward, whole batch: op(B) = im2col(x), RSC×(N·PQ) (lanes are output pixels).
PackSource nhwc_patches_by_pixel(const ConvOperand& x);
// NHWC backward-filter, whole batch: op(A) = im2col(x), RSC×(N·PQ) (lanes are filter taps).
PackSource nhwc_patches_by_tap(const ConvOperand& x);

}  // namespace trainrate::kernels::cpu::detail
