// trainrate replay: run one training iteration's problems (GEMMs, convs, the memory-bound passes
// and the optimizer step) back to back and compare the measured time with the layer model's
// prediction from each problem measured alone.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <memory>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "devices/cpu_device.hpp"
#include "run/data_parallel.hpp"
#include "run/replay.hpp"
#include "models/prediction.hpp"
#include "problems/problem_json.hpp"
#include "reports/table.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

// Small defaults so a replay of resnet50 or bert-base finishes in under a minute on 2 cores. Images
// of 128² rather than 64²: at 64² ResNet-50's last stage runs on 2×2 maps, so its layers do so little
// work per weight that streaming the weights from memory, which the model does not count, dominates
// them (docs/models.md).
struct ReplayArgs {
  std::string network, network_file, backend, json_out, dtype = "fp32", mode = "hot", optimizer, optimizer_form = "fused", comm;
  int64_t ranks = 0;  // data-parallel: the ranks expected (0: a single-process replay)
  double bucket_mib = kDdpBucketBytes / (1 << 20);
  int64_t batch = 4, image_size = 128, seq_len = 32;
  int64_t iteration_samples = 5;
  int64_t profile_passes = 3;
  double budget_ms = 500;
  int threads = 0;
  uint64_t seed = 1;
  bool quiet = false;
};

ReplayOptions replay_options(const ReplayArgs& a) {
  ReplayOptions o;
  o.backend = a.backend;
  const auto dtype = parse_dtype(a.dtype);
  if (!dtype) throw InputError(fmt::format("--dtype: '{}' is not one of fp32, tf32, fp16, bf16", a.dtype));
  o.lowering.dtype = *dtype;
  if (!a.optimizer.empty()) o.lowering.optimizer = parse_optimizer(a.optimizer);
  o.lowering.optimizer_form = *parse_update_form(a.optimizer_form);
  if (a.mode != "hot" && a.mode != "cold") throw InputError(fmt::format("--mode: '{}' is not one of hot, cold", a.mode));
  o.per_problem.measure.mode = a.mode == "cold" ? CacheMode::cold : CacheMode::hot;
  o.per_problem.measure.stopping.budget_ms = a.budget_ms;
  o.per_problem.input_seed = a.seed;
  // An iteration is long (tens of ms and more): a few samples pin its median; the noise target
  // stops earlier when the machine is quiet.
  o.iteration.mode = CacheMode::hot;
  o.iteration.stopping.min_samples = a.iteration_samples;
  o.iteration.stopping.min_time_ms = 0;
  o.iteration.stopping.target_relative_noise = 0.02;
  o.iteration.stopping.budget_ms = 20'000;
  o.profile_passes = a.profile_passes;
  o.input_seed = a.seed;
  return o;
}

void print_problem(size_t index, size_t total, const ReplayProblem& p) {
  const Result& r = p.alone;
  const std::string rate = r.status == ResultStatus::ok ? format_work_rate(p.problem, work_rate_per_s(r))
                                                        : fmt::format("{} ({})", to_string(r.status), r.reason);
  fmt::print(stderr, "[{:>3}/{}] x{:<3} {:<58} {:<12} {}\n", index + 1, total, p.count, describe(p.problem),
             p.backend, rate);
}

// The problems whose time inside the iteration differs most from their share of the prediction:
// where the model's error comes from.
std::string largest_differences(const ReplayReport& r, size_t rows) {
  std::vector<const ReplayProblem*> profiled;
  for (const auto& p : r.problems) {
    if (p.in_iteration && p.in_iteration_s > 0) profiled.push_back(&p);
  }
  if (profiled.empty()) return {};
  const auto gap_s = [](const ReplayProblem* p) { return std::abs(p->in_iteration_s - p->predicted_s); };
  std::sort(profiled.begin(), profiled.end(), [&](auto* a, auto* b) { return gap_s(a) > gap_s(b); });
  std::string out = fmt::format("  largest differences, each problem's calls timed inside the iteration (median of {} "
                                "passes) against its share of the prediction:\n", r.profile_passes);
  out += fmt::format("    {:<58} {:>4} {:>11} {:>11} {:>7}\n", "problem", "x", "alone", "in iter", "in/alone");
  for (size_t i = 0; i < std::min(rows, profiled.size()); ++i) {
    const ReplayProblem& p = *profiled[i];
    out += fmt::format("    {:<58} {:>4} {:>11} {:>11} {:>7.2f}\n", describe(p.problem), p.count,
                       human_duration(p.predicted_s), human_duration(p.in_iteration_s), p.in_iteration_s / p.predicted_s);
  }
  return out;
}

std::string summary(const ReplayReport& r) {
  const SampleStats& s = r.measured.stats;
  std::string out = fmt::format("\nreplay of {} on {} ({} distinct problems, {:.2f} GFLOP and {:.2f} GB of "
                                "memory-bound traffic per iteration)\n",
                                r.network, r.backend, r.problems.size(), r.predicted.flops / 1e9, r.predicted.bytes / 1e9);
  out += fmt::format("  predicted (sum of work / R alone): {} (GEMM/conv {}, memory-bound {})\n",
                     human_duration(r.predicted_s), human_duration(r.predicted.compute_time_s),
                     human_duration(r.predicted.memory_time_s));
  out += fmt::format("  measured (back to back, median of {}, noise {:.1f}%): {}\n", s.samples,
                     100 * s.relative_noise, human_duration(r.measured_s));
  out += fmt::format("  relative error (predicted - measured) / measured: {:+.1f}%\n", 100 * r.relative_error);
  if (s.relative_noise > 0.10) {
    // A loaded machine (other jobs, oversubscribed threads) makes both sides unreliable.
    out += fmt::format("  warning: the iteration timing is noisy ({:.0f}% relative stddev); the error above says more "
                       "about the machine's load than about the model: rerun on a quiet machine\n",
                       100 * s.relative_noise);
  }
  out += largest_differences(r, 8);
  if (r.predicted.missing_rows > 0) {
    out += fmt::format("  note: {} passes could not run and are left out of both\n", r.predicted.missing_rows);
  }
  return out;
}

nlohmann::json report_json(const ReplayReport& r) {
  nlohmann::json problems = nlohmann::json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"problem", to_json(p.problem)}, {"description", describe(p.problem)}, {"count", p.count},
                        {"backend", p.backend}, {"status", std::string(to_string(p.alone.status))},
                        {"rate_per_s", work_rate_per_s(p.alone)},
                        {"rate_unit", is_memory_bound(p.problem) ? "bytes/s" : "FLOP/s"}, {"in_iteration", p.in_iteration},
                        {"predicted_s", p.predicted_s}, {"in_iteration_s", p.in_iteration_s}});
  }
  return {{"network", r.network}, {"backend", r.backend}, {"predicted_iteration_s", r.predicted_s},
          {"measured_iteration_s", r.measured_s}, {"relative_error", r.relative_error},
          {"measured_samples", r.measured.stats.samples}, {"measured_relative_noise", r.measured.stats.relative_noise},
          {"iteration_flops", r.predicted.flops}, {"iteration_memory_bytes", r.predicted.bytes},
          {"predicted_compute_s", r.predicted.compute_time_s}, {"predicted_memory_s", r.predicted.memory_time_s},
          {"profile_passes", r.profile_passes}, {"problems", problems}};
}

DataParallelOptions data_parallel_options(const ReplayArgs& a) {
  DataParallelOptions o;
  o.replay = replay_options(a);
  o.bucket_bytes = a.bucket_mib * (1 << 20);
  o.step = o.replay.iteration;
  o.allreduce_sizes.measure.stopping.budget_ms = 300;
  if (!a.comm.empty()) o.measured_collectives = read_results_file(a.comm).results;
  return o;
}

// "5 + 6": how many iteration samples each rank's distribution has.
std::string sample_counts(const std::vector<std::vector<double>>& samples_per_rank) {
  std::string out;
  for (const auto& samples : samples_per_rank) out += fmt::format("{}{}", out.empty() ? "" : " + ", samples.size());
  return out;
}

std::string data_parallel_summary(const DataParallelReport& r, const std::string& comm) {
  const AlphaBetaFit& f = r.allreduce_fit.fit;
  const std::string source = comm.empty() ? fmt::format("all-reduces measured now ({} sizes)", f.points.size())
                                          : fmt::format("{} ({} sizes)", comm, f.points.size());
  std::string out = fmt::format("\ndata-parallel step over {} ranks on {} nodes ({:.1f} MB of fp32 gradients in {} "
                                "buckets of {:.0f} MiB, all-reduced after the backward pass)\n",
                                r.group.ranks, r.group.nodes, r.gradient_bytes / 1e6, r.buckets,
                                r.link.bucket_bytes / (1 << 20));
  out += fmt::format("  all-reduce alpha-beta from {}: t = {:.3g} us + bytes / {:.3g} GB/s (residuals rms {:.1f}%, "
                     "max {:.1f}%) -> ring B = {:.3g} GB/s, alpha = {:.3g} us per step\n",
                     source, f.alpha_s * 1e6, 1e-9 / f.beta_s_per_byte, 100 * f.rms_relative_residual,
                     100 * f.max_relative_residual, r.link.bandwidth_bytes_per_s / 1e9, r.link.latency_s * 1e6);
  out += fmt::format("  straggler wait: +{}, expected slowest of {} ranks' iterations measured alone (spread, not the "
                     "median, taken from measurement): {} expected slowest - {} mean, from {} samples\n",
                     human_duration(r.straggler.wait_s), r.group.ranks, human_duration(r.straggler.expected_slowest_s),
                     human_duration(r.straggler.mean_iteration_s), sample_counts(r.rank_iteration_samples_s));
  out += fmt::format("  predicted: compute {} + straggler wait {} + all-reduce {} = {}\n",
                     human_duration(r.predicted_compute_s), human_duration(r.straggler.wait_s),
                     human_duration(r.predicted_allreduce_s), human_duration(r.predicted_step_s));
  out += fmt::format("  measured (slowest rank, median of {}, noise {:.1f}%): step {}; its parts alone: iteration {}, "
                     "bucketed all-reduce {}\n",
                     r.measured_step.stats.samples, 100 * r.measured_step.stats.relative_noise,
                     human_duration(r.measured_step_s), human_duration(r.compute.measured_s),
                     human_duration(r.measured_allreduce.stats.median_ms * 1e-3));
  out += fmt::format("  relative error of the step (predicted - measured) / measured: {:+.1f}%\n", 100 * r.relative_error);
  return out;
}

nlohmann::json data_parallel_json(const DataParallelReport& r) {
  nlohmann::json out = report_json(r.compute);
  out["data_parallel"] = {{"ranks", r.group.ranks}, {"nodes", r.group.nodes}, {"gradient_bytes", r.gradient_bytes},
                          {"bucket_bytes", r.link.bucket_bytes}, {"buckets", r.buckets},
                          {"allreduce_alpha_s", r.allreduce_fit.fit.alpha_s},
                          {"allreduce_beta_s_per_byte", r.allreduce_fit.fit.beta_s_per_byte},
                          {"allreduce_fit_rms_relative_residual", r.allreduce_fit.fit.rms_relative_residual},
                          {"predicted_compute_s", r.predicted_compute_s},
                          {"straggler_wait_s", r.straggler.wait_s},
                          {"expected_slowest_iteration_s", r.straggler.expected_slowest_s},
                          {"mean_rank_iteration_s", r.straggler.mean_iteration_s},
                          {"rank_iteration_samples_s", r.rank_iteration_samples_s},
                          {"predicted_allreduce_s", r.predicted_allreduce_s},
                          {"predicted_step_s", r.predicted_step_s}, {"measured_step_s", r.measured_step_s},
                          {"measured_step_relative_noise", r.measured_step.stats.relative_noise},
                          {"measured_allreduce_s", r.measured_allreduce.stats.median_ms * 1e-3},
                          {"relative_error", r.relative_error}};
  return out;
}

// replay --ranks N under mpirun: every rank replays; rank 0 prints and writes.
int run_data_parallel(const ReplayArgs& a, const Network& network, const BackendSet& set) {
  const std::vector<Backend*> comm = collective_backends(set);
  if (comm.empty()) throw InputError("--ranks needs the mpi backend, and this build has none (docs/cluster.md)");
  const ProcessGroup group = comm.front()->device().process_group();
  if (group.ranks != a.ranks) {
    throw InputError(fmt::format("--ranks {}: {} ranks are running (start it with mpirun -n {})", a.ranks, group.ranks,
                                 a.ranks));
  }
  if (group.ranks == 1) {
    fmt::print(stderr, "trainrate replay: 1 rank: no gradients to all-reduce, nothing data-parallel to measure; "
                       "start 2 or more ranks (mpirun -n 2 trainrate replay --ranks 2 ...)\n");
    return kExitOk;
  }
  const bool writer = group.rank == 0;
  ReplayObserver observer;
  if (!a.quiet && writer) {
    observer.on_problem = print_problem;
    observer.on_iteration_start = [] { fmt::print(stderr, "timing the whole iteration...\n"); };
  }
  const DataParallelReport report = replay_data_parallel(network, data_parallel_options(a), set, observer);
  if (!writer) return kExitOk;
  fmt::print("{}{}", summary(report.compute), data_parallel_summary(report, a.comm));
  if (!a.json_out.empty()) write_file_atomically(a.json_out, data_parallel_json(report).dump(2) + "\n");
  return kExitOk;
}

int run_replay(const ReplayArgs& a) {
  const Network network = load_network(a.network, a.network_file, {a.batch, a.image_size, a.seq_len});
  const ReplayOptions options = replay_options(a);
  CpuDevice::instance().set_threads(a.threads);
  const BackendSet set = make_available_backends();
  if (a.ranks > 0) return run_data_parallel(a, network, set);
  ReplayObserver observer;
  if (!a.quiet) {
    observer.on_problem = print_problem;
    observer.on_iteration_start = [] { fmt::print(stderr, "timing the whole iteration...\n"); };
  }
  const ReplayReport report = replay(network, options, set, observer);
  fmt::print("{}", summary(report));
  if (!a.json_out.empty()) write_file_atomically(a.json_out, report_json(report).dump(2) + "\n");
  return kExitOk;
}

}  // namespace

Action add_replay_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("replay", "Run one training iteration's problems back to back; compare with the layer model");
  auto a = std::make_shared<ReplayArgs>();
  auto* net = cmd->add_option("-n,--network", a->network, "Built-in network: resnet50, vgg16, bert-base, gpt2-small");
  auto* file = cmd->add_option("--network-file", a->network_file, "Network JSON (format in docs/models.md)")
                   ->check(CLI::ExistingFile);
  net->excludes(file);
  cmd->add_option("-b,--backend", a->backend, "Backend to replay on, e.g. onednn, openblas, custom-cpu")->required();
  cmd->add_option("--batch", a->batch, "Batch (default 4)")->check(at_least(1));
  cmd->add_option("--image-size", a->image_size, "Image height and width for CNNs (default 128)")->check(at_least(1));
  cmd->add_option("--seq-len", a->seq_len, "Sequence length for transformers (default 32)")->check(at_least(1));
  cmd->add_option("--dtype", a->dtype, "fp32, tf32, fp16, bf16 (default fp32)");
  cmd->add_option("--optimizer", a->optimizer, "Optimizer step to run: sgd, adam (AdamW), none (default: the network's)")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "none"}));
  cmd->add_option("--optimizer-form", a->optimizer_form,
                  "How the optimizer step runs: fused (default), torch or keras (their element-wise op chains)")
      ->check(CLI::IsMember({"fused", "torch", "keras"}));
  cmd->add_option("--mode", a->mode, "Cache mode of the per-problem measurements: hot or cold (default hot)");
  cmd->add_option("--budget-ms", a->budget_ms, "Time budget per problem alone (default 500)")->check(greater_than(0));
  cmd->add_option("--iteration-samples", a->iteration_samples, "Minimum samples of the whole iteration (default 5)")
      ->check(between(2, 1000));
  cmd->add_option("--profile-passes", a->profile_passes,
                  "Extra iterations timed call by call to show where the error comes from (default 3; 0: none)")
      ->check(between(0, 100));
  cmd->add_option("--threads", a->threads, "CPU threads (default: all)")->check(at_least(0));
  cmd->add_option("--seed", a->seed, "Seed of the random inputs");
  cmd->add_option("--json", a->json_out, "Write the replay's numbers as JSON here");
  cmd->add_flag("-q,--quiet", a->quiet, "No per-problem lines");
  cmd->add_option("--ranks", a->ranks,
                  fmt::format("Data-parallel replay under mpirun -n N: every rank runs the iteration, then all-reduces "
                              "the gradients in buckets; every rank times its iteration alone {} times, side by side, "
                              "for the wait on the slowest; refused unless N ranks are running (docs/cluster.md)",
                              DataParallelOptions{}.rank_iteration_samples))
      ->check(at_least(1));
  cmd->add_option("--comm", a->comm, "With --ranks: take the all-reduce alpha-beta from this collectives results file "
                                     "instead of measuring it now")
      ->check(CLI::ExistingFile);
  cmd->add_option("--bucket-mib", a->bucket_mib, "With --ranks: gradient bucket size in MiB (default 25)")
      ->check(greater_than(0));
  return [a] { return run_replay(*a); };
}

}  // namespace trainrate::cli
