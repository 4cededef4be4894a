// The one measurement path: CLI, benchmark binary and replay all time work through measure().
//
// Warm-up, then samples until the stopping criterion is met. Cold mode flushes the device's
// caches before every sample and times a single run; hot mode times `runs_per_sample`
// back-to-back runs (chosen from the warm-up so a sample is long enough to time well).
#pragma once

#include <atomic>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "devices/device.hpp"
#include "measure/statistics.hpp"
#include "measure/stopping.hpp"

namespace trainrate {

enum class CacheMode { cold, hot };
std::string_view to_string(CacheMode mode);

struct MeasureOptions {
  CacheMode mode = CacheMode::hot;
  int64_t warmup_runs = 1;
  double min_sample_ms = 1.0;  // hot mode batches runs until one sample takes at least this long
  StoppingCriterion stopping;
};

struct Measurement {
  SampleStats stats;            // per single run, in milliseconds
  int64_t runs_per_sample = 1;
  std::string stop_reason;      // "noise-target", "time-budget", "max-samples", "interrupted"
  std::optional<double> clock_mhz;  // device clock after sampling, where the device reports one
};

// Set by signal handlers; measure() stops after the sample in flight when it becomes true.
extern std::atomic<bool> g_stop_requested;

// One measurement that can pause between samples, so the runner can interleave the backends of
// one problem and a slow stretch of a shared machine falls on all of them alike. The constructor
// warms up and sizes the samples; sample_for() adds samples; finish() summarises them.
class Sampler {
 public:
  Sampler(Device& device, std::function<void()> run_once, const MeasureOptions& options);
  // Samples until at least `slice_ms` more is measured (at least one sample) or sampling should
  // stop. `rewarm`: first run once untimed, so a hot-mode slice does not start with the caches
  // holding whatever ran in between (ignored in cold mode, which flushes anyway).
  void sample_for(double slice_ms, bool rewarm);
  bool done() const { return !stop_reason_.empty(); }
  double warmup_run_ms() const { return warmup_run_ms_; }  // the last warm-up run
  Measurement finish() const;

 private:
  Device& device_;
  std::function<void()> run_once_;
  MeasureOptions options_;
  std::unique_ptr<Timer> timer_;
  double warmup_run_ms_ = 0;
  int64_t runs_per_sample_ = 1;
  std::vector<double> samples_ms_;
  double elapsed_ms_ = 0;  // what the stopping criterion's budget counts
  std::string stop_reason_;
};

// The whole measurement in one go: a Sampler run to its stopping point.
Measurement measure(Device& device, const std::function<void()>& run_once, const MeasureOptions& options);

}  // namespace trainrate
