#include "results/measurement.hpp"

#include <algorithm>

namespace trainrate {

std::string_view to_string(CacheMode mode) { return mode == CacheMode::cold ? "cold" : "hot"; }

std::vector<std::string> slowdowns_seen(const Measurement& m) {
  std::vector<std::string> seen;
  for (const auto* state : {&m.state_before, &m.state_after}) {
    if (!*state) continue;
    for (const std::string& name : (*state)->slowdowns) {
      if (std::find(seen.begin(), seen.end(), name) == seen.end()) seen.push_back(name);
    }
  }
  return seen;
}

std::vector<Repetition> repetitions_of(const Measurement& m) {
  if (!m.repetitions.empty()) return m.repetitions;
  return {Repetition{m.stats.median_ms, m.samples_ms.size()}};
}

}  // namespace trainrate
