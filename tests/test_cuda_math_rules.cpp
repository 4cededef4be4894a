// The vendor math rule (backends/cuda/math_rules.hpp) on mocked cuDNN perf lists: fp32 takes FMA
// math only, tf32 and fp16/bf16 may take tensor ops, nothing takes ALLOW_CONVERSION. Runs in every
// build: the rule has no CUDA dependency, and the GPU tests cannot see which math cuDNN chose.
#include <gtest/gtest.h>

#include <vector>

#include "backends/cuda/math_rules.hpp"

namespace trainrate {
namespace {

constexpr size_t kLimitBytes = 1000;

// A cuDNN-Find-like list, fastest first: the tensor-op (TF32 for float data) entry wins on time.
const std::vector<CudnnCandidate> kFindList = {
    {.algo = 1, .succeeded = true, .time_ms = 0.5f, .workspace_bytes = 10, .math = CudnnMath::tensor_op},
    {.algo = 6, .succeeded = true, .time_ms = 0.6f, .workspace_bytes = 20, .math = CudnnMath::default_math},
    {.algo = 1, .succeeded = true, .time_ms = 0.9f, .workspace_bytes = 10, .math = CudnnMath::fma},
    {.algo = 0, .succeeded = true, .time_ms = 1.4f, .workspace_bytes = 0, .math = CudnnMath::fma},
};

TEST(CudnnMathRule, Fp32SkipsFasterTensorOpAndDefaultMathForTheFirstFma) {
  const CudnnPick pick = pick_cudnn_algorithm(Dtype::fp32, kFindList, kLimitBytes);
  ASSERT_TRUE(pick.chosen.has_value()) << pick.why_none;
  EXPECT_EQ(pick.chosen->algo, 1);
  EXPECT_EQ(pick.chosen->math, CudnnMath::fma);
  EXPECT_FLOAT_EQ(pick.chosen->time_ms, 0.9f);
}

TEST(CudnnMathRule, Tf32AndHalfTypesTakeTheFastestTensorOp) {
  for (Dtype dtype : {Dtype::tf32, Dtype::fp16, Dtype::bf16}) {
    const CudnnPick pick = pick_cudnn_algorithm(dtype, kFindList, kLimitBytes);
    ASSERT_TRUE(pick.chosen.has_value()) << to_string(dtype) << ": " << pick.why_none;
    EXPECT_EQ(pick.chosen->math, CudnnMath::tensor_op) << to_string(dtype);
    EXPECT_FLOAT_EQ(pick.chosen->time_ms, 0.5f) << to_string(dtype);
  }
}

TEST(CudnnMathRule, FailedAndOversizedCandidatesAreSkipped) {
  const std::vector<CudnnCandidate> list = {
      {.algo = 2, .succeeded = false, .time_ms = 0.1f, .workspace_bytes = 0, .math = CudnnMath::fma},
      {.algo = 5, .succeeded = true, .time_ms = 0.2f, .workspace_bytes = kLimitBytes + 1, .math = CudnnMath::fma},
      {.algo = 0, .succeeded = true, .time_ms = 0.3f, .workspace_bytes = kLimitBytes, .math = CudnnMath::fma},
  };
  const CudnnPick pick = pick_cudnn_algorithm(Dtype::fp32, list, kLimitBytes);
  ASSERT_TRUE(pick.chosen.has_value()) << pick.why_none;
  EXPECT_EQ(pick.chosen->algo, 0);
}

TEST(CudnnMathRule, Fp32WithoutAnFmaCandidateSaysWhy) {
  const std::vector<CudnnCandidate> list(kFindList.begin(), kFindList.begin() + 2);
  const CudnnPick pick = pick_cudnn_algorithm(Dtype::fp32, list, kLimitBytes);
  EXPECT_FALSE(pick.chosen.has_value());
  EXPECT_EQ(pick.why_none,
            "cuDNN has no usable algorithm for this fp32 convolution: 2 candidates, 2 succeeded, 2 within the "
            "workspace limit, none with math this dtype allows (fp32 takes FMA_MATH only; tensor-op math is TF32)");
}

TEST(CudnnMathRule, AllowConversionIsNeverTaken) {
  const std::vector<CudnnCandidate> list = {
      {.algo = 1, .succeeded = true, .time_ms = 0.1f, .workspace_bytes = 0,
       .math = CudnnMath::tensor_op_allow_conversion},
  };
  for (Dtype dtype : {Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16})
    EXPECT_FALSE(pick_cudnn_algorithm(dtype, list, kLimitBytes).chosen.has_value()) << to_string(dtype);
}

TEST(CudnnMathRule, DescriptorAsksForFmaOnlyInFp32) {
  EXPECT_EQ(cudnn_requested_math(Dtype::fp32), CudnnMath::fma);
  EXPECT_EQ(cudnn_requested_math(Dtype::tf32), CudnnMath::tensor_op);
  EXPECT_EQ(cudnn_requested_math(Dtype::fp16), CudnnMath::tensor_op);
  EXPECT_EQ(cudnn_requested_math(Dtype::bf16), CudnnMath::tensor_op);
}

TEST(CublasMathRule, OnlyTf32UsesTheFastTf32ComputeType) {
  EXPECT_EQ(cublas_compute(Dtype::fp32), CublasCompute::f32);
  EXPECT_EQ(cublas_compute(Dtype::tf32), CublasCompute::f32_fast_tf32);
  EXPECT_EQ(cublas_compute(Dtype::fp16), CublasCompute::f32);
  EXPECT_EQ(cublas_compute(Dtype::bf16), CublasCompute::f32);
  EXPECT_STREQ(to_string(CublasCompute::f32), "CUBLAS_COMPUTE_32F");
}

}  // namespace
}  // namespace trainrate
