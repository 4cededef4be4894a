// Pieces of the convolutions shared between their files: the geometry and the implicit-GEMM
// operand sources that gather im2col patches straight into the GEMM's packed panels. Not part of
// the public API.
#pragma once

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
