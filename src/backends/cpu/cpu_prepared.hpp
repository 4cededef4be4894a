// The PreparedProblem shared by all CPU backends: host copies of the inputs, an output buffer,
// and the call that computes it. CPU work is synchronous, so run() returns when it is done.
#pragma once

#include <functional>

#include "backends/backend.hpp"

namespace trainrate {

class CpuPrepared final : public PreparedProblem {
 public:
  using Kernel = std::function<void(const float* in0, const float* in1, float* out)>;

  CpuPrepared(const Problem& problem, const HostInputs& inputs, Kernel kernel, std::string algorithm)
      : in0_(inputs.in0),
        in1_(inputs.in1),
        out_(size_t(operand_elements(problem).output)),
        kernel_(std::move(kernel)),
        algorithm_(std::move(algorithm)) {}

  void run() override { kernel_(in0_.data(), in1_.data(), out_.data()); }
  std::vector<float> output() override { return out_; }
  std::string algorithm() const override { return algorithm_; }

 private:
  std::vector<float> in0_, in1_, out_;
  Kernel kernel_;
  std::string algorithm_;
};

// CPU backends compute in fp32 only: tf32, fp16 and bf16 are GPU tensor-core formats here.
std::optional<std::string> cpu_dtype_unsupported(const Problem& problem);

}  // namespace trainrate
