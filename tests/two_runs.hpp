// Fixture generator for comparing two runs: a small run with samples, copies of it with one
// backend's samples scaled, as a slower (or faster) build of that backend would give, and
// repetitions of it whose whole level moves from one to the next, as fresh processes do.
#pragma once

#include <string>
#include <vector>

#include "results/repetitions.hpp"
#include "results/result.hpp"
#include "results/statistics.hpp"

namespace trainrate::testing {

// `count` samples around `median_ms`, spread ±`spread` (relative) in a fixed pattern whose median
// is median_ms, so every test run sees the same numbers.
inline std::vector<double> samples_around(double median_ms, size_t count = 20, double spread = 0.01) {
  std::vector<double> samples;
  for (size_t i = 0; i < count; ++i) samples.push_back(median_ms * (1 + spread * (double((i * 7) % 11) - 5) / 5));
  return samples;
}

// An ok result on the CPU whose statistics and rates follow from its samples.
inline Result timed_result(const Problem& problem, const std::string& backend, const std::vector<double>& samples_ms,
                           int threads = 2) {
  Result r;
  r.problem = problem;
  r.backend = backend;
  r.role = backend.starts_with("custom") ? "custom" : "vendor";
  r.device = "cpu";
  r.device_kind = "cpu";
  r.mode = "hot";
  r.threads = threads;
  r.status = ResultStatus::ok;
  r.verification.elements_checked = 1;
  r.measurement = Measurement{};
  r.measurement->stats = summarize(samples_ms);
  r.measurement->samples_ms = samples_ms;
  r.measurement->stop_reason = "time-budget";
  r.flops = flops(problem);
  r.bytes = min_bytes(problem);
  const double median_s = r.measurement->stats.median_ms * 1e-3;
  r.rate_flops_per_s = r.flops / median_s;
  r.rate_bytes_per_s = r.bytes / median_s;
  return r;
}

inline const GemmProblem kRunGemmA{.m = 64, .n = 64, .k = 64};
inline const GemmProblem kRunGemmB{.m = 32, .n = 48, .k = 16};
inline const MemoryProblem kRunRelu{.op = MemoryOp::relu, .elements = 1 << 16};

// Two GEMMs on openblas and custom-cpu and one memory-bound row on onednn and custom-cpu.
inline ResultsFile small_run() {
  ResultsFile file;
  file.suite = "smoke";
  file.host = "node1";
  file.created_utc = "2026-12-07T06:00:00Z";
  file.build = {{"commit", "1111111111111111111111111111111111111111"}, {"cxx_flags", "-O3 -DNDEBUG"}};
  file.libraries = {{"openblas", "OpenBLAS 0.3.21"}, {"onednn", "2.7.3"}};
  DeviceInfo cpu;
  cpu.id = "cpu";
  cpu.kind = "cpu";
  cpu.name = "AMD EPYC";
  cpu.properties = {{"cpufreq_governor", "performance"}};
  file.devices = {cpu};
  file.results = {timed_result(kRunGemmA, "openblas", samples_around(1.0)),
                  timed_result(kRunGemmA, "custom-cpu", samples_around(1.1)),
                  timed_result(kRunGemmB, "openblas", samples_around(0.2)),
                  timed_result(kRunGemmB, "custom-cpu", samples_around(0.25)),
                  timed_result(kRunRelu, "onednn", samples_around(0.05)),
                  timed_result(kRunRelu, "custom-cpu", samples_around(0.06))};
  file.complete = true;
  return file;
}

// The result with every sample multiplied by `time_factor` (1.1: 10% more time).
inline Result scaled(const Result& r, double time_factor) {
  if (!r.measurement) return r;
  std::vector<double> samples = r.measurement->samples_ms;
  for (double& s : samples) s *= time_factor;
  return timed_result(r.problem, r.backend, samples, r.threads);
}

// The run with every sample of `backend` multiplied by `time_factor`.
inline ResultsFile with_backend_scaled(ResultsFile file, const std::string& backend, double time_factor) {
  for (Result& r : file.results) {
    if (r.backend == backend) r = scaled(r, time_factor);
  }
  return file;
}

// The run with every sample of every backend multiplied by `time_factor`: the whole machine slower.
inline ResultsFile with_all_scaled(ResultsFile file, double time_factor) {
  for (Result& r : file.results) r = scaled(r, time_factor);
  return file;
}

// Repetitions of `run`, repetition k at level levels[k] (a factor on every time), pooled as
// `run --repetitions` pools its processes' files.
inline ResultsFile repeated(const ResultsFile& run, const std::vector<double>& levels) {
  std::vector<ResultsFile> runs;
  std::vector<std::string> names;
  for (double level : levels) {
    runs.push_back(with_all_scaled(run, level));
    names.push_back("repetition " + std::to_string(runs.size()));
  }
  return pool_repetitions(runs, names);
}

}  // namespace trainrate::testing
