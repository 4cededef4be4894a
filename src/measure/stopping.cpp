#include "measure/stopping.hpp"

namespace trainrate {

std::string StoppingCriterion::reason_to_stop(int64_t samples, double relative_noise, double elapsed_ms) const {
  if (samples >= max_samples) return "max-samples";
  if (elapsed_ms >= budget_ms && samples >= 1) return "time-budget";
  if (samples >= min_samples && elapsed_ms >= min_time_ms && relative_noise <= target_relative_noise) {
    return "noise-target";
  }
  return {};
}

}  // namespace trainrate
