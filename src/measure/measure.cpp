#include "measure/measure.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
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

// Rests until the device's slowdowns that pass with rest are off, or max_rest_ms has passed.
void rest_until_cool(Device& device, double max_rest_ms) {
  const auto start = std::chrono::steady_clock::now();
  const auto poll = std::chrono::duration<double, std::milli>(std::min(100.0, max_rest_ms));
  while (std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() < max_rest_ms &&
         !g_stop_requested.load()) {
    std::this_thread::sleep_for(poll);
    const std::optional<DeviceState> state = device.state();
    if (!state || std::none_of(state->slowdowns.begin(), state->slowdowns.end(), passes_with_rest)) return;
  }
}

bool slowed_in_passing(const Measurement& m) {
  const std::vector<std::string> seen = slowdowns_seen(m);
  return std::any_of(seen.begin(), seen.end(), [](const std::string& s) { return passes_with_rest(s); });
}

Measurement measure_once(Device& device, const std::function<void()>& run_once, const MeasureOptions& options) {
  auto timer = device.make_timer();
  Measurement result;
  result.state_before = device.state();

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
  result.state_after = device.state();
  return result;
}

}  // namespace

Measurement measure(Device& device, const std::function<void()>& run_once, const MeasureOptions& options) {
  Measurement result = measure_once(device, run_once, options);
  int64_t retakes = 0;
  while (slowed_in_passing(result) && retakes < options.max_retakes && result.stop_reason != "interrupted") {
    rest_until_cool(device, options.max_rest_ms);
    result = measure_once(device, run_once, options);
    result.retakes = ++retakes;
  }
  return result;
}

}  // namespace trainrate
