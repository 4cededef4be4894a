// The runner: for each problem and backend, prepare, verify, measure, and hand back a Result.
//
// This is the single path from a problem to a Result; the CLI, the benchmark binary and the
// models' --measure-missing all use it. Observers see each result as soon as it exists, so
// the CLI can print progress and rewrite the results file after every problem.
#pragma once

#include <functional>
#include <vector>

#include "backends/backend.hpp"
#include "measure/measure.hpp"
#include "results/result.hpp"
#include "verify/verify.hpp"

namespace trainrate {

struct RunOptions {
  MeasureOptions measure;
  VerifyOptions verify;
  uint64_t input_seed = 1;
};

// Sets the result's peak and % of peak from its device's peaks (the rate must be set).
void stamp_peak(Result& result, const Peaks& peaks);

// Verifies then times one problem on one backend. Never throws for per-problem trouble:
// unsupported → skipped, wrong output → INVALID, exceptions → FAILED with the message.
Result run_one(Backend& backend, const Problem& problem, const RunOptions& options);

struct RunObserver {
  std::function<void(size_t index, size_t total, const Problem&, const Backend&)> on_start;
  std::function<void(size_t index, size_t total, const Result&)> on_result;
};

// Runs every (problem, backend) pair in order, problem-major, skipping pairs for which
// `already_done` returns true (resume). Stops early when g_stop_requested is set.
std::vector<Result> run_all(const std::vector<Problem>& problems, const std::vector<Backend*>& backends,
                            const RunOptions& options, const RunObserver& observer,
                            const std::function<bool(const Problem&, const Backend&)>& already_done = {});

}  // namespace trainrate
