#include "devices/device_state.hpp"

#include <algorithm>

namespace trainrate {

std::vector<std::string> slowdown_names(uint64_t nvml_reasons) {
  std::vector<std::string> names;
  for (const Slowdown& s : kSlowdowns) {
    if (nvml_reasons & s.nvml_bit) names.emplace_back(s.name);
  }
  return names;
}

bool passes_with_rest(std::string_view slowdown) {
  return std::any_of(std::begin(kSlowdowns), std::end(kSlowdowns),
                     [&](const Slowdown& s) { return s.name == slowdown && s.passes_with_rest; });
}

}  // namespace trainrate
