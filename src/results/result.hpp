// Results: the record every measurement produces and every printer, report and model reads.
//
// The measurement path fills these; the table printer, JSON writer, reports, models and the
// Google Benchmark adapter only read them (running apart from reporting).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "devices/device.hpp"
#include "results/backend_facts.hpp"
#include "results/measurement.hpp"
#include "problems/problem.hpp"

namespace trainrate {

// ok: verified and timed. invalid: output disagreed with the reference, never used as R.
// skipped: the backend cannot run this problem (reason says why). failed: an error while running.
enum class ResultStatus { ok, invalid, skipped, failed };
std::string_view to_string(ResultStatus status);
std::optional<ResultStatus> parse_status(std::string_view text);

struct Verification {
  bool sampled = false;           // true when a random sample of outputs was checked
  int64_t elements_checked = 0;
  int64_t mismatches = 0;
  double max_error = 0;           // max |out − ref| / (|ref| + typical magnitude), see verify.hpp
  double tolerance = 0;
  std::string first_mismatch;     // human-readable, empty when none
};

struct Result {
  Problem problem;
  std::string backend;
  std::string role;      // "vendor" or "custom"
  std::string device;    // DeviceInfo::id
  std::string device_kind;                 // DeviceInfo::kind, from the backend's facts
  std::vector<std::string> compared_with;  // custom: the vendor backends its ratios are taken against
  RateView view = RateView::sole;          // which way of calling the library the rate is (BackendFacts)
  std::string framework_view_of;           // framework view: the vendor-best backend it is the view of
  ResultStatus status = ResultStatus::ok;
  std::string reason;    // for invalid / skipped / failed
  Verification verification;
  std::optional<Measurement> measurement;  // present for ok and invalid (timed for the record only if ok)
  std::string mode;                        // "cold" or "hot"
  double flops = 0;
  double rate_flops_per_s = 0;             // flops / median time; 0 unless status is ok
  std::optional<double> peak_flops_per_s;
  double bytes = 0;                        // min_bytes(problem)
  double rate_bytes_per_s = 0;             // bytes / median time; 0 unless status is ok
  std::optional<double> peak_bytes_per_s; // the device's bandwidth (datasheet, else measured triad)
  // Of the FLOP/s peak for GEMM and conv; of the bandwidth for memory-bound problems, whose rate
  // is bytes/s (rated_in_bytes; collectives have no peak).
  std::optional<double> percent_of_peak;
  std::string algorithm;
  int64_t workspace_bytes = 0;
  int threads = 0;                         // CPU threads used (0 for GPU)
};

// The rate of a result's work: bytes/s for memory-bound problems, FLOP/s for the rest.
inline double work_rate_per_s(const Result& r) {
  return rated_in_bytes(r.problem) ? r.rate_bytes_per_s : r.rate_flops_per_s;
}

// 1: the first; 2: each measurement keeps its samples (samples_ms); 3: the device's state before
// and after each measurement (clock, temperature, power, slowdowns) replaces clock_mhz, and retakes;
// 4: each measurement lists its repetitions (median and kept samples of each, run --repetitions).
// Readers take all four.
constexpr int kResultsSchemaVersion = 4;

struct ResultsFile {
  int schema_version = kResultsSchemaVersion;  // as read; a written file is always the current version
  std::string tool_version;
  std::string created_utc;  // ISO 8601
  std::string host;
  std::string suite;
  std::map<std::string, std::string> build;     // compiler, flags, build type, CUDA on/off, trainrate commit
  std::map<std::string, std::string> system;    // the host's software: os, kernel, arch
  std::map<std::string, std::string> libraries;  // openblas, onednn, cuda runtime, cublas, cudnn
  std::map<std::string, std::string> options;    // the run's settings (mode, noise target, ...)
  std::vector<DeviceInfo> devices;
  std::vector<Result> results;
  bool complete = false;  // false while a run is in progress or after an interruption
};

}  // namespace trainrate
