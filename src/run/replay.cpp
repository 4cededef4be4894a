#include "run/replay.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "results/statistics.hpp"
#include "models/rates.hpp"
#include "verify/verify.hpp"

namespace trainrate {

namespace {

Backend* find_backend(const BackendSet& set, const std::string& name) {
  try {
    const auto found = select_backends(set, name);
    return found.empty() ? nullptr : found.front();
  } catch (const std::invalid_argument&) {
    return nullptr;
  }
}

// The requested backend when it can run the problem, else the first vendor backend on the same
// device kind that can (a GEMM-only custom backend still replays a whole CNN that way), else none.
Backend* backend_for(const BackendSet& set, Backend& requested, const Problem& problem) {
  if (!requested.unsupported_reason(problem)) return &requested;
  for (const auto& backend : set.backends) {
    const BackendFacts& facts = backend->facts();
    if (facts.role == BackendRole::vendor && facts.device_kind == requested.facts().device_kind &&
        !backend->unsupported_reason(problem)) {
      return backend.get();
    }
  }
  return nullptr;
}

// One PreparedProblem per distinct problem (null where it could not run); each runs `count` times
// in the iteration, like a framework's identical blocks. Buffers are shared between repeats:
// activations differ per layer in a real network, but at these sizes the extra memory traffic is
// small (docs/models.md).
std::vector<std::unique_ptr<PreparedProblem>> prepare_all(const std::vector<ReplayProblem>& problems,
                                                          const BackendSet& set, uint64_t seed) {
  std::vector<std::unique_ptr<PreparedProblem>> prepared;
  for (const ReplayProblem& p : problems) {
    prepared.push_back(p.in_iteration ? find_backend(set, p.backend)->prepare(p.problem, make_inputs(p.problem, seed))
                                      : nullptr);
  }
  return prepared;
}

size_t index_of(const std::vector<ReplayProblem>& problems, const Problem& problem) {
  return size_t(std::find_if(problems.begin(), problems.end(), [&](const auto& p) { return p.problem == problem; }) -
                problems.begin());
}

// Times each call of `passes` iterations on its own and stores, per problem, the median over the
// passes of its calls' summed time. Separate from the measured iterations: the timer's wait after
// every call (a GPU synchronize) would otherwise add to what is measured.
void profile_calls(Device& device, const std::vector<PreparedIteration::Call>& sequence, int64_t passes,
                   std::vector<ReplayProblem>& problems) {
  auto timer = device.make_timer();
  std::vector<std::vector<double>> per_pass_ms(problems.size());
  for (int64_t pass = 0; pass < passes; ++pass) {
    std::vector<double> sum_ms(problems.size(), 0.0);
    for (const PreparedIteration::Call& call : sequence) {
      timer->start();
      call.run->run();
      sum_ms[call.problem] += timer->stop_ms();
    }
    for (size_t i = 0; i < problems.size(); ++i) per_pass_ms[i].push_back(sum_ms[i]);
  }
  for (size_t i = 0; i < problems.size(); ++i) {
    if (problems[i].in_iteration && passes > 0) problems[i].in_iteration_s = summarize(per_pass_ms[i]).median_ms * 1e-3;
  }
}

}  // namespace

PreparedIteration prepare_iteration(const Network& network, const ReplayOptions& options, const BackendSet& set,
                                    const std::vector<ReplayProblem>& problems) {
  PreparedIteration iteration;
  iteration.prepared = prepare_all(problems, set, options.input_seed);
  for (const LayerPass& pass : lower_training_step(network, options.lowering)) {
    const size_t index = index_of(problems, pass.problem);
    for (int64_t r = 0; iteration.prepared[index] && r < pass.count; ++r) {
      iteration.sequence.push_back({iteration.prepared[index].get(), index});
    }
  }
  return iteration;
}

ReplayReport replay(const Network& network, const ReplayOptions& options, const BackendSet& set,
                    const ReplayObserver& observer) {
  Backend* requested = find_backend(set, options.backend);
  if (!requested) throw std::invalid_argument(fmt::format("unknown backend '{}'", options.backend));
  ReplayReport report;
  report.network = network.name;
  report.backend = requested->name();

  // Each distinct problem alone, through the one runner path (verified, then timed).
  const std::vector<ProblemCount> counts = training_problem_counts(network, options.lowering);
  for (size_t i = 0; i < counts.size(); ++i) {
    ReplayProblem p{counts[i].problem, counts[i].count, requested->name(), {}, false};
    if (Backend* backend = backend_for(set, *requested, p.problem)) {
      p.backend = backend->name();
      p.alone = run_one(*backend, p.problem, options.per_problem);
      p.in_iteration = p.alone.status == ResultStatus::ok;
    } else {
      p.alone.status = ResultStatus::skipped;
      p.alone.reason = "neither the backend nor its vendor fallback runs it";
    }
    if (observer.on_problem) observer.on_problem(i, counts.size(), p);
    report.problems.push_back(std::move(p));
  }
  if (std::none_of(report.problems.begin(), report.problems.end(), [](const auto& p) { return p.in_iteration; })) {
    throw std::runtime_error("no problem of the network could be run on " + report.backend);
  }

  // The layer model from those rates, over the passes that will run.
  const std::vector<LayerPass> passes = lower_training_step(network, options.lowering);
  report.predicted = predict_iteration(passes, [&](const Problem& problem) {
    const ReplayProblem& p = report.problems[index_of(report.problems, problem)];
    if (!p.in_iteration) return RateLookup{0, RateOrigin::missing, p.backend, {}};
    return RateLookup{p.alone.rate_flops_per_s, RateOrigin::measured_now, p.backend, {}};
  });
  report.predicted.backend = report.backend;
  report.predicted_s = report.predicted.iteration_time_s;
  for (ReplayProblem& p : report.problems) {
    if (p.in_iteration) p.predicted_s = double(p.count) * flops(p.problem) / p.alone.rate_flops_per_s;
  }

  // The whole iteration: forward passes in layer order, backward in reverse, each repeat.
  const PreparedIteration iteration = prepare_iteration(network, options, set, report.problems);
  if (observer.on_iteration_start) observer.on_iteration_start();
  report.measured = measure(requested->device(), [&] { iteration.run(); }, options.iteration);
  report.profile_passes = options.profile_passes;
  profile_calls(requested->device(), iteration.sequence, options.profile_passes, report.problems);
  report.measured_s = report.measured.stats.median_ms * 1e-3;
  report.relative_error = report.measured_s > 0 ? (report.predicted_s - report.measured_s) / report.measured_s : 0;
  return report;
}

}  // namespace trainrate
