// Which math the vendor libraries may use for each problem dtype: the one place for that rule.
//
// fp32 means IEEE fp32 arithmetic: cuDNN FMA math only (its DEFAULT math permits TF32 on sm_80+,
// TENSOR_OP math is TF32 for float data) and cuBLAS CUBLAS_COMPUTE_32F. tf32 is where tensor-op
// TF32 math is allowed; fp16/bf16 may use tensor ops. Free of CUDA headers so the CPU-only build
// compiles and tests it; the backends map these enums onto the libraries' own.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>

#include "problems/problem.hpp"

namespace trainrate {

// cuDNN's cudnnMathType_t, one value each.
enum class CudnnMath { default_math, tensor_op, tensor_op_allow_conversion, fma };
const char* to_string(CudnnMath math);

// One entry of a cuDNN perf list (Find: sorted by measured time; heuristics: by rank).
struct CudnnCandidate {
  int algo = 0;
  bool succeeded = false;
  float time_ms = -1.0f;  // heuristics report no time
  size_t workspace_bytes = 0;
  CudnnMath math = CudnnMath::default_math;
};

// The chosen candidate, or why none qualifies.
struct CudnnPick {
  std::optional<CudnnCandidate> chosen;
  std::string why_none;
};

// The math type the convolution descriptor asks for before the search.
CudnnMath cudnn_requested_math(Dtype dtype);
// Whether a result computed with `math` is a `dtype` result.
bool cudnn_math_allowed(Dtype dtype, CudnnMath math);
// First candidate in cuDNN's order that succeeded, fits the workspace and whose math `dtype` allows.
CudnnPick pick_cudnn_algorithm(Dtype dtype, std::span<const CudnnCandidate> candidates,
                               size_t workspace_limit_bytes);

// cuBLAS compute types this project uses. The cuBLAS handle stays in CUBLAS_DEFAULT_MATH for every
// dtype (no handle-wide TF32), so the compute type alone decides whether tf32 is used.
enum class CublasCompute { f32, f32_fast_tf32 };
const char* to_string(CublasCompute compute);
CublasCompute cublas_compute(Dtype dtype);

}  // namespace trainrate
