#include <fmt/format.h>

#include "backends/cpu/cpu_prepared.hpp"

namespace trainrate {

std::optional<std::string> cpu_dtype_unsupported(const Problem& problem) {
  const Dtype dtype = dtype_of(problem);
  if (dtype == Dtype::fp32) return std::nullopt;
  return fmt::format("{} is not supported on CPU (fp32 only)", to_string(dtype));
}

}  // namespace trainrate
