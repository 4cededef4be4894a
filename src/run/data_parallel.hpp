// Data-parallel replay: every rank runs the training iteration of `replay` on its own buffers, then
// all-reduces the gradients in buckets over the collective backend (mpi), as a framework's
// data-parallel step does; the step is timed as the slowest rank's. The prediction comes from the
// same machine: the layer model's compute (each problem measured alone, on every rank at once), the
// wait for the slowest rank (StragglerWait of every rank's iteration samples, measured alone), and
// the bucketed ring all-reduce of scaling.hpp with α-β fitted to all-reduces of bucket-like sizes
// measured here now (or read from a collectives results file).
//
// What it checks: that compute and communication add up as the scaling model says. The all-reduce
// follows the backward pass (no overlap); the gradient buffers have the network's gradient size but
// are separate from the buffers the backward-filter problems write (replay.hpp keeps those inside
// each backend).
#pragma once

#include <optional>
#include <vector>

#include "models/collective_fit.hpp"
#include "run/replay.hpp"

namespace trainrate {

struct DataParallelOptions {
  ReplayOptions replay;           // the per-rank iteration
  // Samples every rank takes of its iteration alone (for the straggler wait): the same count on every
  // rank, started together, so the ranks share the machine for all of them. A noise rule per rank
  // would stop one early and let the other's last samples run on a quieter machine.
  int64_t rank_iteration_samples = 20;
  double bucket_bytes = kDdpBucketBytes;
  MeasureOptions step;            // the whole data-parallel step
  RunOptions allreduce_sizes;     // each all-reduce of the α-β sweep
  // Results of `run --suite collectives` to take the all-reduce from instead of measuring it now.
  std::vector<Result> measured_collectives;
};

struct DataParallelReport {
  ReplayReport compute;            // this rank's replay (rank 0's is the one reported)
  ProcessGroup group;
  double gradient_bytes = 0;
  int64_t buckets = 0;
  std::vector<Result> allreduce_sweep;  // measured now; empty when taken from measured_collectives
  CollectiveFit allreduce_fit;
  Interconnect link;
  // Every rank's samples of its iteration measured alone (replay's), in rank order, in seconds.
  std::vector<std::vector<double>> rank_iteration_samples_s;
  StragglerWait straggler;
  double predicted_compute_s = 0;
  double predicted_allreduce_s = 0;
  double predicted_step_s = 0;
  Measurement measured_step;       // iteration + bucketed all-reduce, slowest rank per sample
  Measurement measured_allreduce;  // the bucketed all-reduce alone, slowest rank per sample
  double measured_step_s = 0;
  double relative_error = 0;       // (predicted − measured) / measured
};

// The all-reduce sizes of the α-β sweep: an eighth, a quarter and half of the bucket, and the bucket
// (the sizes the step sends; gradient_fit_min_bytes).
std::vector<int64_t> allreduce_sweep_bytes(double bucket_bytes);

// Throws std::invalid_argument when the set has no collective backend or runs a single rank.
DataParallelReport replay_data_parallel(const Network& network, const DataParallelOptions& options,
                                        const BackendSet& backends, const ReplayObserver& observer = {});

}  // namespace trainrate
