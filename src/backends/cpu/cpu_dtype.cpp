#include <fmt/format.h>

#include "backends/cpu/cpu_prepared.hpp"
#include "kernels/cpu/gemm.hpp"

namespace trainrate {

std::optional<std::string> cpu_dtype_unsupported(const Problem& problem, std::string_view backend, bool bf16_gemm) {
  const Dtype dtype = dtype_of(problem);
  const bool gemm = std::holds_alternative<GemmProblem>(problem);
  if (dtype != Dtype::bf16 || (gemm && bf16_gemm)) return std::nullopt;
  if (gemm) return fmt::format("{} has no bf16 GEMM", backend);
  if (is_memory_bound(problem)) {
    return std::string("bf16 memory-bound layers are not implemented on CPU (bf16 runs GEMM only)");
  }
  return std::string("bf16 convolution is not implemented on CPU (bf16 runs GEMM only)");
}

std::vector<uint16_t> to_bf16_bits(const std::vector<float>& values) {
  std::vector<uint16_t> bits(values.size());
  for (size_t i = 0; i < values.size(); ++i) bits[i] = kernels::cpu::to_bf16(values[i]);
  return bits;
}

}  // namespace trainrate
