// Google Benchmark JSON from `trainrate-bench --benchmark_out=x.json`, read back as trainrate Results,
// so users who ran the benchmark binary directly get the same report.
//
// The contract with bench/trainrate_bench.cpp (see docs/reports.md):
//   - benchmark name: [<suite>/]<backend>/<describe(problem)>, optionally followed by Google
//     Benchmark's own suffixes (/manual_time, /repeats:N, /iterations:N, ...); the backend may hold
//     a slash (custom-cpu/avx512); without a suite the name starts with the backend family
//     (custom-*, openblas, onednn, cublas, cudnn);
//   - label: to_json(problem).dump(), set before any SkipWithError / SkipWithMessage (a failed
//     benchmark without a label is counted in the file's options, not turned into a result);
//   - user counters: "flops" (FLOP per iteration), "FLOP/s" (R), "bytes/s", "pct_peak" (percent,
//     0..100; 0 = unknown), and optionally "samples" and "noise" of trainrate's own measurement;
//   - counter "busy" = 1 on a row timed on a busy machine, and context "machine_busy" saying why;
//     files without them are judged by Google Benchmark's own "load_avg" and "num_cpus";
//   - real_time (manual time) is one iteration, in the row's time_unit;
//   - an error message starting with "INVALID" marks a result that failed verification and one
//     starting with "skipped" a problem the backend cannot run; any other error is FAILED.
// With --benchmark_repetitions the "median" aggregate is used when present, else the median of the
// repetitions.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "results/result.hpp"

namespace trainrate::reports {

// Options of a ResultsFile read from a busy machine's benchmark: why ("load average 3.10 on 2 cores
// at start") and how many results were marked busy ("3 of 40"). The report leads with them.
inline constexpr const char* kMachineBusyOption = "machine_busy";
inline constexpr const char* kBusyRowsOption = "rows measured on a busy machine";

// True for a Google Benchmark JSON document (top-level "context" and "benchmarks").
bool is_google_benchmark_json(const nlohmann::json& json);

// Throws InputError naming `where` and the offending benchmark.
ResultsFile results_from_google_benchmark(const nlohmann::json& json, const std::string& where);

// Reads a trainrate results file or a Google Benchmark JSON file, whichever `path` holds.
ResultsFile read_results_or_benchmark_file(const std::filesystem::path& path);

}  // namespace trainrate::reports
