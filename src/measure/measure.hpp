// The one measurement path: CLI, benchmark binary and replay all time work through measure().
//
// Warm-up, then samples until the stopping criterion is met. Cold mode flushes the device's
// caches before every sample and times a single run; hot mode times `runs_per_sample`
// back-to-back runs (chosen from the warm-up so a sample is long enough to time well).
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "devices/device.hpp"
#include "results/measurement.hpp"
#include "results/statistics.hpp"
#include "measure/stopping.hpp"

namespace trainrate {

struct MeasureOptions {
  CacheMode mode = CacheMode::hot;
  int64_t warmup_runs = 1;
  double min_sample_ms = 1.0;  // hot mode batches runs until one sample takes at least this long
  StoppingCriterion stopping;
  // A measurement with a slowdown on that passes with rest (heat; devices/device_state.hpp) is
  // taken again, up to this many times, each after resting until it is off or max_rest_ms passed.
  int64_t max_retakes = 2;
  double max_rest_ms = 10000;
};

// Set by signal handlers; measure() stops after the sample in flight when it becomes true.
extern std::atomic<bool> g_stop_requested;

// Samples run_once until the stopping criterion says enough; the device's state is read before and
// after, and the whole measurement is taken again while it shows a slowdown that passes with rest.
Measurement measure(Device& device, const std::function<void()>& run_once, const MeasureOptions& options);

}  // namespace trainrate
