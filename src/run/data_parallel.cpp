#include "run/data_parallel.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>

namespace trainrate {

namespace {

Backend& collective_backend(const BackendSet& set) {
  const std::vector<Backend*> found = collective_backends(set);
  if (found.empty()) throw std::invalid_argument("no collective backend in this build (MPI was not found)");
  return *found.front();
}

// The buckets of a framework's gradient all-reduce: full buckets and the remainder, each prepared
// once and run as many times as it occurs (buffers shared, like replay's repeated layers).
struct Buckets {
  std::unique_ptr<PreparedProblem> full, last;
  int64_t full_count = 0;

  void run() const {
    for (int64_t i = 0; i < full_count; ++i) full->run();
    if (last) last->run();
  }
};

CollectiveProblem fp32_allreduce(int64_t bytes, int64_t ranks) {
  return {CollectiveOp::all_reduce, bytes / 4 * 4, ranks, Dtype::fp32};
}

Buckets prepare_buckets(Backend& backend, double gradient_bytes, double bucket_bytes, int64_t ranks) {
  Buckets b;
  const int64_t bucket = std::max<int64_t>(4, int64_t(bucket_bytes) / 4 * 4);
  const int64_t total = int64_t(std::ceil(gradient_bytes / 4)) * 4;
  b.full_count = total / bucket;
  if (b.full_count > 0) b.full = backend.prepare(fp32_allreduce(bucket, ranks), {});
  if (total % bucket > 0) b.last = backend.prepare(fp32_allreduce(total % bucket, ranks), {});
  return b;
}

std::vector<double> seconds(const std::vector<double>& values_ms) {
  std::vector<double> values_s;
  for (double v : values_ms) values_s.push_back(v * 1e-3);
  return values_s;
}

StoppingCriterion fixed_samples(int64_t samples) {
  StoppingCriterion exactly;
  exactly.min_samples = exactly.max_samples = samples;
  exactly.min_time_ms = 0;
  exactly.target_relative_noise = 0;
  exactly.budget_ms = std::numeric_limits<double>::infinity();
  return exactly;
}

std::vector<Result> measure_sweep(Backend& backend, const DataParallelOptions& options, int64_t ranks) {
  std::vector<Result> sweep;
  for (int64_t bytes : allreduce_sweep_bytes(options.bucket_bytes)) {
    sweep.push_back(run_one(backend, fp32_allreduce(bytes, ranks), options.allreduce_sizes));
    if (sweep.back().status != ResultStatus::ok) {
      throw std::runtime_error(fmt::format("{}: {}", describe(sweep.back().problem), sweep.back().reason));
    }
  }
  return sweep;
}

}  // namespace

std::vector<int64_t> allreduce_sweep_bytes(double bucket_bytes) {
  const int64_t bucket = int64_t(bucket_bytes) / 4 * 4;
  std::vector<int64_t> sizes;
  for (int64_t divisor : {8, 4, 2}) sizes.push_back(std::max<int64_t>(4, bucket / divisor / 4 * 4));
  sizes.push_back(bucket);
  return sizes;
}

DataParallelReport replay_data_parallel(const Network& network, const DataParallelOptions& options,
                                        const BackendSet& set, const ReplayObserver& observer) {
  Backend& comm = collective_backend(set);
  DataParallelReport report;
  report.group = comm.device().process_group();
  if (report.group.ranks < 2) throw std::invalid_argument("a data-parallel replay needs 2 or more ranks");

  ReplayOptions per_rank = options.replay;
  per_rank.iteration.stopping = fixed_samples(options.rank_iteration_samples);
  ReplayObserver lined_up = observer;
  lined_up.on_iteration_start = [&] {
    if (observer.on_iteration_start) observer.on_iteration_start();
    comm.device().sum_over_group(0);  // a barrier: no rank starts its samples while another still measures
  };
  report.compute = replay(network, per_rank, set, lined_up);
  report.rank_iteration_samples_s = comm.device().gather_over_group(seconds(report.compute.measured.samples_ms));
  report.straggler = straggler_wait(report.rank_iteration_samples_s);
  report.gradient_bytes = 4.0 * double(parameter_count(network));  // fp32 gradients, as predict counts them

  // α-β of the all-reduce on this machine, now or from a collectives run.
  std::vector<Result> source = options.measured_collectives;
  if (source.empty()) {
    report.allreduce_sweep = measure_sweep(comm, options, report.group.ranks);
    source = report.allreduce_sweep;
  }
  std::optional<CollectiveFit> fit;
  for (const CollectiveFit& f : fit_collectives(source, gradient_fit_min_bytes(options.bucket_bytes))) {
    if (f.op == CollectiveOp::all_reduce && f.dtype == Dtype::fp32 && f.ranks == report.group.ranks) fit = f;
  }
  if (!fit) {
    throw std::invalid_argument(fmt::format("no fp32 all-reduce over {} ranks with 2 or more sizes of {} or more to fit",
                                            report.group.ranks,
                                            format_message_size(int64_t(gradient_fit_min_bytes(options.bucket_bytes)))));
  }
  report.allreduce_fit = *fit;
  report.link = link_from_allreduce_fit(*fit);
  report.link.bucket_bytes = options.bucket_bytes;

  const StepCompute step = step_compute(report.compute.predicted, report.gradient_bytes);
  const ScalingPoint predicted = scale_step(step, report.group.ranks, report.link, false, report.straggler.wait_s);
  report.predicted_compute_s = predicted.compute_s;
  report.predicted_allreduce_s = predicted.allreduce_s;
  report.predicted_step_s = predicted.step_s;

  // The measured step: this rank's iteration, then its gradients all-reduced bucket by bucket.
  const Buckets buckets = prepare_buckets(comm, report.gradient_bytes, options.bucket_bytes, report.group.ranks);
  report.buckets = buckets.full_count + (buckets.last ? 1 : 0);
  const PreparedIteration iteration = prepare_iteration(network, options.replay, set, report.compute.problems);
  report.measured_allreduce = measure(comm.device(), [&] { buckets.run(); }, options.step);
  report.measured_step = measure(comm.device(), [&] {
    iteration.run();
    buckets.run();
  }, options.step);
  report.measured_step_s = report.measured_step.stats.median_ms * 1e-3;
  report.relative_error = (report.predicted_step_s - report.measured_step_s) / report.measured_step_s;
  return report;
}

}  // namespace trainrate
