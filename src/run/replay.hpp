// Replay: how wrong is the layer model? Runs every GEMM/conv of one training iteration back to
// back on real buffers, timed by the common measurement path, and compares that with the layer
// model's sum of FLOPs / R, where each R is measured for the problem alone (run_one).
//
// What the comparison isolates: the layer model's composition assumption (an iteration costs
// the sum of its problems measured in isolation). Cache state differs (alone, a problem's
// operands stay warm between runs; in the iteration, the previous problem evicted them), and so
// does thread start-up between calls. Norms, activations and the optimizer step are not run in
// either, so their cost is outside this error (docs/models.md).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "backends/registry.hpp"
#include "run/runner.hpp"
#include "problems/network.hpp"
#include "models/training_time.hpp"

namespace trainrate {

struct ReplayOptions {
  std::string backend;      // name or family pattern, as for select_backends
  LoweringOptions lowering;
  RunOptions per_problem;   // each distinct problem alone
  MeasureOptions iteration; // the whole iteration back to back
  // Extra iterations, outside the measured ones, that time every call separately to show which
  // problems run slower (or faster) inside the iteration than alone.
  int64_t profile_passes = 3;
  uint64_t input_seed = 1;
};

struct ReplayProblem {
  Problem problem;
  int64_t count = 0;        // times per iteration
  std::string backend;      // the one that ran it (the kind's vendor when the requested cannot)
  Result alone;             // run_one's result; its rate feeds the prediction
  bool in_iteration = false;  // false when no backend could run it: left out of both sides
  double predicted_s = 0;     // count × FLOPs / R alone: its share of the prediction
  double in_iteration_s = 0;  // its calls' time inside the iteration (median over profile passes)
};

struct ReplayReport {
  std::string network;
  std::string backend;
  std::vector<ReplayProblem> problems;  // distinct, in first-use order
  IterationPrediction predicted;
  Measurement measured;                  // of one whole iteration
  double predicted_s = 0;
  double measured_s = 0;                 // median
  double relative_error = 0;             // (predicted − measured) / measured
  int64_t profile_passes = 0;            // iterations timed call by call for in_iteration_s
};

struct ReplayObserver {
  std::function<void(size_t index, size_t total, const ReplayProblem&)> on_problem;  // after run_one
  std::function<void()> on_iteration_start;
};

// One training iteration ready to run again and again: each distinct problem that ran alone
// prepared once on the backend that ran it, called in pass order (forward, then backward in reverse).
struct PreparedIteration {
  struct Call {
    PreparedProblem* run;
    size_t problem;  // index into the ReplayProblems it was prepared from
  };
  std::vector<std::unique_ptr<PreparedProblem>> prepared;
  std::vector<Call> sequence;
  void run() const {
    for (const Call& call : sequence) call.run->run();
  }
};
PreparedIteration prepare_iteration(const Network& network, const ReplayOptions& options, const BackendSet& backends,
                                    const std::vector<ReplayProblem>& problems);

// Throws std::invalid_argument when the backend is unknown, std::runtime_error when nothing can run.
ReplayReport replay(const Network& network, const ReplayOptions& options, const BackendSet& backends,
                    const ReplayObserver& observer = {});

}  // namespace trainrate
