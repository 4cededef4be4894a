// The PreparedProblem shared by the custom-cpu and openblas backends: an output buffer and the
// call that computes it, which owns its inputs in whatever type it reads (fp32 copies of the host
// inputs, or bf16 ones). CPU work is synchronous, so run() returns when it is done.
#pragma once

#include <functional>

#include "backends/backend.hpp"

namespace trainrate {

class CpuPrepared final : public PreparedProblem {
 public:
  using Kernel = std::function<void(float* out)>;

  CpuPrepared(const Problem& problem, Kernel kernel, std::string algorithm)
      : out_(size_t(operand_elements(problem).output)), kernel_(std::move(kernel)), algorithm_(std::move(algorithm)) {}

  void run() override { kernel_(out_.data()); }
  std::vector<float> output() override { return out_; }
  std::string algorithm() const override { return algorithm_; }

 private:
  std::vector<float> out_;
  Kernel kernel_;
  std::string algorithm_;
};

// CPU backends compute fp32, and bf16 GEMM (bf16 A and B, fp32 accumulation and C) where the
// backend has it. Their facts admit fp32 and bf16 only (tf32 and fp16 are GPU tensor-core formats),
// so this says which bf16 problems a backend still cannot run; empty when it can, naming the backend.
std::optional<std::string> cpu_dtype_unsupported(const Problem& problem, std::string_view backend, bool bf16_gemm);

// The host inputs as bf16 (exact: make_inputs rounds them to bf16 for bf16 problems).
std::vector<uint16_t> to_bf16_bits(const std::vector<float>& values);

}  // namespace trainrate
