#include "measure/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <vector>

namespace trainrate {

std::atomic<bool> g_stop_requested{false};

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

Measurement measure(Device& device, const std::function<void()>& run_once, const MeasureOptions& options) {
  auto timer = device.make_timer();
  Measurement result;

  double warmup_ms = 0;
  for (int64_t i = 0; i < std::max<int64_t>(options.warmup_runs, 1); ++i) {
    warmup_ms = time_runs_ms(*timer, run_once, 1);
  }
  result.runs_per_sample =
      options.mode == CacheMode::cold ? 1 : runs_for_sample(warmup_ms, options.min_sample_ms);

  std::vector<double> samples_ms;
  double elapsed_ms = 0;
  while (true) {
    // The budget bounds the time sampling costs the user, so cold mode's cache flushes count too.
    if (options.mode == CacheMode::cold) elapsed_ms += host_ms([&] { device.flush_caches(); });
    const double sample_ms = time_runs_ms(*timer, run_once, result.runs_per_sample);
    elapsed_ms += sample_ms;
    samples_ms.push_back(sample_ms / double(result.runs_per_sample));
    if (g_stop_requested.load()) {
      result.stop_reason = "interrupted";
      break;
    }
    const SampleStats running = summarize(samples_ms);
    result.stop_reason = options.stopping.reason_to_stop(running.samples, running.relative_noise, elapsed_ms);
    if (!result.stop_reason.empty()) break;
  }
  result.samples_ms = evenly_spaced(samples_ms, kMaxKeptSamples);
  result.stats = summarize(std::move(samples_ms));
  result.clock_mhz = device.current_clock_mhz();
  return result;
}

}  // namespace trainrate
