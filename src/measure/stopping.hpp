// When to stop sampling: once the noise is low enough (after a minimum number of samples and
// minimum time), or when the time budget or sample cap runs out, whichever comes first.
#pragma once

#include <cstdint>
#include <string>

namespace trainrate {

struct StoppingCriterion {
  int64_t min_samples = 10;
  int64_t max_samples = 1000;
  double target_relative_noise = 0.01;  // 1% on CPU; GPU runs use 0.5% (nvbench's default)
  double min_time_ms = 50;              // measured time before the noise target may end sampling
  double budget_ms = 2000;              // per problem and backend: measured time plus cold-mode flushes

  // Why sampling should stop now, or empty to continue.
  std::string reason_to_stop(int64_t samples, double relative_noise, double elapsed_ms) const;
};

}  // namespace trainrate
