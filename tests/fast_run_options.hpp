// Run options for backend tests: one sample, no batching, a 5 ms budget. Correctness is the point
// of these tests, not the rate.
#pragma once

#include "run/runner.hpp"

namespace trainrate::testing {

inline RunOptions fast_options() {
  RunOptions o;
  o.measure.mode = CacheMode::hot;
  o.measure.warmup_runs = 1;
  o.measure.min_sample_ms = 0;
  o.measure.stopping.budget_ms = 5;
  o.measure.stopping.min_samples = 1;
  o.measure.stopping.min_time_ms = 0;
  return o;
}

}  // namespace trainrate::testing
