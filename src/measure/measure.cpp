#include "measure/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace trainrate {

std::atomic<bool> g_stop_requested{false};

std::string_view to_string(CacheMode mode) { return mode == CacheMode::cold ? "cold" : "hot"; }

namespace {

double time_runs_ms(Timer& timer, const std::function<void()>& run_once, int64_t runs) {
  timer.start();
  for (int64_t i = 0; i < runs; ++i) run_once();
  return timer.stop_ms();
}

double host_ms(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// Enough back-to-back runs that one sample lasts min_sample_ms, so timer resolution and launch
// overhead vanish in the noise; capped so a slow problem is never run more than needed.
int64_t runs_for_sample(double single_run_ms, double min_sample_ms) {
  if (single_run_ms <= 0) return 1000;
  return std::clamp<int64_t>(int64_t(std::ceil(min_sample_ms / single_run_ms)), 1, 1000);
}

}  // namespace

Sampler::Sampler(Device& device, std::function<void()> run_once, const MeasureOptions& options)
    : device_(device), run_once_(std::move(run_once)), options_(options), timer_(device.make_timer()) {
  for (int64_t i = 0; i < std::max<int64_t>(options_.warmup_runs, 1); ++i) {
    warmup_run_ms_ = time_runs_ms(*timer_, run_once_, 1);
  }
  runs_per_sample_ = options_.mode == CacheMode::cold ? 1 : runs_for_sample(warmup_run_ms_, options_.min_sample_ms);
}

void Sampler::sample_for(double slice_ms, bool rewarm) {
  // The budget bounds the time sampling costs the user, so re-warming and cold mode's cache
  // flushes count too.
  if (rewarm && options_.mode == CacheMode::hot && !done()) elapsed_ms_ += time_runs_ms(*timer_, run_once_, 1);
  const double slice_end_ms = elapsed_ms_ + slice_ms;
  while (!done()) {
    if (options_.mode == CacheMode::cold) elapsed_ms_ += host_ms([&] { device_.flush_caches(); });
    const double sample_ms = time_runs_ms(*timer_, run_once_, runs_per_sample_);
    elapsed_ms_ += sample_ms;
    samples_ms_.push_back(sample_ms / double(runs_per_sample_));
    if (g_stop_requested.load()) {
      stop_reason_ = "interrupted";
      break;
    }
    const SampleStats running = summarize(samples_ms_);
    stop_reason_ = options_.stopping.reason_to_stop(running.samples, running.relative_noise, elapsed_ms_);
    if (elapsed_ms_ >= slice_end_ms) break;
  }
}

Measurement Sampler::finish() const {
  Measurement result;
  result.stats = summarize(samples_ms_);
  result.runs_per_sample = runs_per_sample_;
  result.stop_reason = stop_reason_;
  result.clock_mhz = device_.current_clock_mhz();
  return result;
}

Measurement measure(Device& device, const std::function<void()>& run_once, const MeasureOptions& options) {
  Sampler sampler(device, run_once, options);
  sampler.sample_for(std::numeric_limits<double>::infinity(), false);
  return sampler.finish();
}

}  // namespace trainrate
