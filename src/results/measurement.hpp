// What one measurement produced, as plain data: results files, reports and models read it;
// measure/ fills it. It sits here, below measure/, so readers never depend on the timing code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/device_state.hpp"

namespace trainrate {

enum class CacheMode { cold, hot };
std::string_view to_string(CacheMode mode);

struct SampleStats {
  int64_t samples = 0;
  double min_ms = 0, median_ms = 0, mean_ms = 0, max_ms = 0;
  double stddev_ms = 0;       // sample standard deviation (n − 1)
  double relative_noise = 0;  // stddev / mean
};

// One repetition of a run: a fresh process that measured the whole suite once (run --repetitions).
struct Repetition {
  double median_ms = 0;     // of every sample the repetition took
  size_t samples_kept = 0;  // how many of Measurement::samples_ms are its own
};

// At most this many samples are kept in a Measurement (and a results file): enough for a rank
// test to see a 1% shift, few enough that a 1000-row file stays a few MB.
constexpr size_t kMaxKeptSamples = 1000;

struct Measurement {
  SampleStats stats;            // per single run, in milliseconds, over every sample taken
  // The samples themselves (per single run, ms, in the order taken), so two runs can be tested
  // against each other; at most kMaxKeptSamples, evenly spaced over the run when more were taken.
  std::vector<double> samples_ms;
  int64_t runs_per_sample = 1;
  std::string stop_reason;      // "noise-target", "time-budget", "max-samples", "interrupted"
  // The device just before the first sample and just after the last, where it reports itself.
  std::optional<DeviceState> state_before, state_after;
  int64_t retakes = 0;  // measurements thrown away because a slowdown that passes with rest was on
  // Several runs pooled (results/repetitions.hpp), in order; samples_ms holds each one's kept
  // samples in turn. Empty for a single run: read it through repetitions_of().
  std::vector<Repetition> repetitions;
};

// The repetitions of a measurement: those pooled, or the measurement itself as one.
std::vector<Repetition> repetitions_of(const Measurement& m);

// The slowdowns on before or after the measurement kept, each named once.
std::vector<std::string> slowdowns_seen(const Measurement& m);

}  // namespace trainrate
