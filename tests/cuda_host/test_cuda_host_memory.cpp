// custom-cuda's memory-bound pass (src/backends/cuda/custom_cuda_memory.cpp: the operands on the
// device, the host ↔ device copies and conversions, each op's launcher with its arguments) run on
// the host under the CUDA emulation and checked by the shared verifier against the reference, on
// the odd shapes the GPU tests use (cuda_memory_cases.hpp), in every dtype memory_rules.hpp admits.
// Only the device handle differs from the GPU backend: CudaDevice needs a driver.
#include <gtest/gtest.h>

#include <string>

#include "backends/cuda/custom_cuda_memory.hpp"
#include "backends/cuda/memory_rules.hpp"
#include "cuda_emulation.hpp"
#include "cuda_memory_cases.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

TEST(CudaHostMemory, CustomCudaPassVerifiesEveryOpPassAndDtype) {
  int ran = 0;
  for (MemoryProblem m : testing::cuda_memory_cases()) {
    for (Dtype dtype : {Dtype::fp32, Dtype::fp16, Dtype::bf16}) {
      m.dtype = dtype;
      if (custom_cuda_memory_unsupported(m)) continue;
      const HostInputs inputs = make_inputs(m, 11);
      const CustomCudaMemoryPass pass(nullptr, m, inputs);
      pass.run();
      // A second run must not accumulate; an optimizer step updates in place, so it runs once.
      if (m.op != MemoryOp::sgd_momentum && m.op != MemoryOp::adamw) pass.run();
      const Verification v = verify(m, inputs, pass.output());
      EXPECT_TRUE(passed(v)) << describe(m) << ": " << v.mismatches << " of " << v.elements_checked
                             << " wrong, max error " << v.max_error << " (tolerance " << v.tolerance
                             << "); first: " << v.first_mismatch;
      const bool reduces = m.op == MemoryOp::batchnorm || (m.op == MemoryOp::layernorm && m.backward);
      const bool chain = m.form != UpdateForm::fused;  // its temporaries
      EXPECT_EQ(pass.workspace_bytes() > 0, reduces || chain) << describe(m);
      ++ran;
    }
  }
  // 28 cases in fp32 (4 of them optimizer chains), and the 12 of the activations, adds, softmax and
  // layer norm in fp16 and bf16.
  EXPECT_EQ(ran, 28 + 2 * 12);
}

}  // namespace
}  // namespace trainrate
