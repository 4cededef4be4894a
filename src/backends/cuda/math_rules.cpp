#include "backends/cuda/math_rules.hpp"

namespace trainrate {

const char* to_string(CudnnMath math) {
  switch (math) {
    case CudnnMath::default_math: return "DEFAULT_MATH";
    case CudnnMath::tensor_op: return "TENSOR_OP_MATH";
    case CudnnMath::tensor_op_allow_conversion: return "TENSOR_OP_MATH_ALLOW_CONVERSION";
    case CudnnMath::fma: return "FMA_MATH";
  }
  return "unknown math";
}

CudnnMath cudnn_requested_math(Dtype dtype) { return dtype == Dtype::fp32 ? CudnnMath::fma : CudnnMath::tensor_op; }

bool cudnn_math_allowed(Dtype dtype, CudnnMath math) {
  // ALLOW_CONVERSION lets cuDNN round operands to a narrower type than the problem's: never wanted.
  if (math == CudnnMath::tensor_op_allow_conversion) return false;
  if (dtype == Dtype::fp32) return math == CudnnMath::fma;
  return true;
}

CudnnPick pick_cudnn_algorithm(Dtype dtype, std::span<const CudnnCandidate> candidates,
                               size_t workspace_limit_bytes) {
  int succeeded = 0, within_workspace = 0;
  for (const CudnnCandidate& c : candidates) {
    if (!c.succeeded) continue;
    ++succeeded;
    if (c.workspace_bytes > workspace_limit_bytes) continue;
    ++within_workspace;
    if (cudnn_math_allowed(dtype, c.math)) return {c, ""};
  }
  std::string why = "cuDNN has no usable algorithm for this " + std::string(to_string(dtype)) + " convolution: " +
                    std::to_string(candidates.size()) + " candidates, " + std::to_string(succeeded) +
                    " succeeded, " + std::to_string(within_workspace) + " within the workspace limit";
  if (within_workspace > 0) why += ", none with math this dtype allows";
  if (within_workspace > 0 && dtype == Dtype::fp32) why += " (fp32 takes FMA_MATH only; tensor-op math is TF32)";
  return {std::nullopt, why};
}

const char* to_string(CublasCompute compute) {
  return compute == CublasCompute::f32_fast_tf32 ? "CUBLAS_COMPUTE_32F_FAST_TF32" : "CUBLAS_COMPUTE_32F";
}

CublasCompute cublas_compute(Dtype dtype) {
  return dtype == Dtype::tf32 ? CublasCompute::f32_fast_tf32 : CublasCompute::f32;
}

}  // namespace trainrate
