// Which memory-bound layers the GPU backends run (backends/cuda/memory_rules.hpp), on the smoke
// suite's problems: custom-cuda every op in fp32 and the activations, adds, softmax and layer
// norm in fp16/bf16; cudnn what cuDNN's legacy API has, with a reason naming cuDNN for the rest.
// Runs in every build: the rules have no CUDA dependency, and the GPU tests skip without a GPU.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "backends/cuda/memory_rules.hpp"
#include "problems/suite.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;

std::vector<MemoryProblem> smoke_in(Dtype dtype) {
  std::vector<MemoryProblem> out;
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems) {
    MemoryProblem m = std::get<MemoryProblem>(p);
    m.dtype = dtype;
    out.push_back(m);
  }
  return out;
}

// The kind labels of the smoke problems the rule admits in `dtype`; each refusal's reason must
// contain `reason_part`.
template <typename Rule>
std::set<std::string> admitted(Rule rule, Dtype dtype, const std::string& reason_part) {
  std::set<std::string> kinds;
  for (const MemoryProblem& m : smoke_in(dtype)) {
    if (auto reason = rule(m)) {
      EXPECT_THAT(*reason, HasSubstr(reason_part)) << describe(m);
    } else {
      kinds.insert(kind_label(m));
    }
  }
  return kinds;
}

const std::set<std::string> kEveryKind = {"relu-fwd",    "relu-bwd",    "gelu-fwd",    "gelu-bwd",    "bn-fwd",
                                          "bn-bwd",      "ln-fwd",      "ln-bwd",      "maxpool-fwd", "maxpool-bwd",
                                          "avgpool-fwd", "avgpool-bwd", "softmax-fwd", "softmax-bwd", "add",
                                          "bias-add",    "xent-fwd",    "xent-bwd",    "embed-fwd",   "embed-bwd",
                                          "sgd",         "adamw",       "sgd-torch",   "adamw-torch", "sgd-keras",
                                          "adamw-keras"};
const std::set<std::string> kHalfKinds = {"relu-fwd", "relu-bwd", "gelu-fwd",    "gelu-bwd",    "ln-fwd", "ln-bwd",
                                          "add",      "bias-add", "softmax-fwd", "softmax-bwd"};

TEST(CudaMemoryRules, CustomCudaRunsEveryOpInFp32AndTheStorageGenericOnesInHalves) {
  EXPECT_EQ(admitted(custom_cuda_memory_unsupported, Dtype::fp32, ""), kEveryKind);
  EXPECT_EQ(admitted(custom_cuda_memory_unsupported, Dtype::fp16, "store fp32 only"), kHalfKinds);
  EXPECT_EQ(admitted(custom_cuda_memory_unsupported, Dtype::bf16, "store fp32 only"), kHalfKinds);
  EXPECT_EQ(admitted(custom_cuda_memory_unsupported, Dtype::tf32, "tf32 is a math mode"), std::set<std::string>{});
  const MemoryProblem bn{.op = MemoryOp::batchnorm, .dtype = Dtype::fp16};
  EXPECT_EQ(custom_cuda_memory_unsupported(bn), "custom-cuda's batchnorm kernels store fp32 only");
  const MemoryProblem keras_half{.op = MemoryOp::adamw, .form = UpdateForm::keras, .dtype = Dtype::bf16};
  EXPECT_EQ(custom_cuda_memory_unsupported(keras_half), "custom-cuda's adamw kernels store fp32 only");
}

TEST(CudaMemoryRules, CudnnRunsWhatItsLegacyApiHas) {
  // The smoke suite's softmax pairs are one plain and one scaled and masked: the plain one runs.
  const std::set<std::string> fp32 = {"relu-fwd",    "relu-bwd",    "bn-fwd",      "bn-bwd",      "maxpool-fwd",
                                      "maxpool-bwd", "avgpool-fwd", "avgpool-bwd", "softmax-fwd", "softmax-bwd",
                                      "add",         "bias-add"};
  EXPECT_EQ(admitted(cudnn_memory_unsupported, Dtype::fp32, "cuDNN"), fp32);
  EXPECT_EQ(admitted(cudnn_memory_unsupported, Dtype::fp16, ""),
            (std::set<std::string>{"relu-fwd", "relu-bwd", "softmax-fwd", "softmax-bwd", "add", "bias-add"}));
  EXPECT_EQ(admitted(cudnn_memory_unsupported, Dtype::bf16, ""), std::set<std::string>{});

  MemoryProblem softmax{.op = MemoryOp::softmax, .rows = 4, .cols = 4};
  EXPECT_EQ(cudnn_memory_unsupported(softmax), std::nullopt);
  softmax.scale = 0.125;
  EXPECT_THAT(cudnn_memory_unsupported(softmax).value_or(""), HasSubstr("no input scale"));
  softmax.causal_seq = 4;
  EXPECT_THAT(cudnn_memory_unsupported(softmax).value_or(""), HasSubstr("no causal mask"));
  EXPECT_EQ(cudnn_memory_unsupported(MemoryProblem{.op = MemoryOp::layernorm}), "cuDNN's legacy API has no layer norm");
  EXPECT_EQ(cudnn_memory_unsupported(MemoryProblem{.op = MemoryOp::maxpool, .dtype = Dtype::fp16}),
            "cudnn runs maxpool in fp32 only here, not fp16");
  EXPECT_EQ(cudnn_memory_unsupported(MemoryProblem{.op = MemoryOp::relu, .dtype = Dtype::bf16}),
            "cudnn runs relu in fp32 and fp16 here, not bf16");
}

TEST(CudaMemoryRules, NormParametersAndStatisticsStayFp32) {
  const MemoryProblem ln{.op = MemoryOp::layernorm, .backward = true, .dtype = Dtype::fp16};
  std::set<std::string> fp32;
  for (const MemoryTensor& t : memory_inputs(ln))
    if (stored_as_fp32(ln, t.name)) fp32.insert(std::string(t.name));
  for (const MemoryTensor& t : memory_outputs(ln))
    if (stored_as_fp32(ln, t.name)) fp32.insert(std::string(t.name));
  EXPECT_EQ(fp32, (std::set<std::string>{"gamma", "mean", "variance", "dgamma", "dbeta"}));
  EXPECT_FALSE(stored_as_fp32(MemoryProblem{.op = MemoryOp::layernorm}, "y"));
  EXPECT_TRUE(stored_as_fp32(MemoryProblem{.op = MemoryOp::layernorm}, "beta"));
  EXPECT_FALSE(stored_as_fp32(MemoryProblem{.op = MemoryOp::adamw, .dtype = Dtype::fp16}, "m"));
}

// The saved statistic of the GPU and custom-cpu norms (1/√(var + eps)) and the problem's variance.
TEST(CudaMemoryRules, InverseStdAndVarianceRoundTrip) {
  EXPECT_DOUBLE_EQ(inv_std_from_variance(4.0 - kNormEps), 0.5);
  EXPECT_DOUBLE_EQ(variance_from_inv_std(0.5), 4.0 - kNormEps);
  for (double variance : {1e-3, 0.25, 3.0}) EXPECT_NEAR(variance_from_inv_std(inv_std_from_variance(variance)), variance, 1e-12);
}

}  // namespace
}  // namespace trainrate
