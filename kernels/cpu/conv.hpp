// Our CPU convolutions, built on the packed SGEMM rather than a second kernel family:
// 1×1 stride-1 unpadded convolutions are a GEMM on the tensors as stored; forward and
// backward_filter gather im2col patches straight into the GEMM's packed panels (implicit GEMM,
// no column matrix); backward_data uses col2im chunks (see conv.cpp for why each).
#pragma once

#include <memory>

#include "kernels/cpu/gemm.hpp"
#include "problems/problem.hpp"

namespace trainrate::kernels::cpu {

namespace detail {
struct PackedPanels;
}

// A problem's filters packed once into the GEMM's panel format, so that repeated runs with the
// same weights skip packing them: the treatment oneDNN's timed primitive gets, whose weights are
// reordered into its blocked layout ahead of time. It copies what it needs from w. Holds nothing
// for backward_filter, which reads no filters. Throws like conv2d for a bad problem.
class PackedFilters {
 public:
  PackedFilters(const ConvProblem& problem, const float* w, const GemmOptions& options = {});
  const ConvProblem& problem() const { return problem_; }
  const detail::PackedPanels* panels() const { return panels_.get(); }

 private:
  ConvProblem problem_;
  std::shared_ptr<const detail::PackedPanels> panels_;
};

// Runs problem.pass with the operands of reference.hpp:
//   forward          in0 = x,  in1 = w,  out = y
//   backward_data    in0 = dy, in1 = w,  out = dx
//   backward_filter  in0 = x,  in1 = dy, out = dw
// Tensors in problem.layout order (NCHW: x NCHW, w KCRS, y NKPQ; NHWC: x NHWC, w KRSC, y NPQK).
// The output is fully overwritten. Scratch is reused per thread (bounded by
// conv_workspace_floats), so repeated calls of one shape do not allocate.
// Throws std::invalid_argument for an invalid problem, a non-fp32 dtype, or packed filters of
// another problem.
// `packed`, when given, must hold the filters of this problem packed from the same in1 (forward,
// backward_data); they are used when packed for the micro-kernel and blocking this call runs
// with, else the filters are packed from in1 as usual.
void conv2d(const ConvProblem& problem, const float* in0, const float* in1, float* out,
            const GemmOptions& options = {}, const PackedFilters* packed = nullptr);

// Floats of scratch conv2d uses per thread for this problem (0 when it packs patches straight
// from the tensors into the GEMM or is a plain GEMM).
int64_t conv_workspace_floats(const ConvProblem& problem);

namespace detail {
// Tests shrink the column chunk (in floats) so small problems cross chunk boundaries; 0 restores
// the default. Not thread-safe against concurrent conv2d calls.
void set_column_budget(int64_t floats);
}  // namespace detail

}  // namespace trainrate::kernels::cpu
