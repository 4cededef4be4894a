// trainrate predict: training time, speed-up, scaling and reliability of a network from a
// results file's measured rates (models in src/models, formulas in docs/models.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <memory>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "devices/cpu_device.hpp"
#include "run/runner.hpp"
#include "models/collective_fit.hpp"
#include "models/prediction.hpp"
#include "problems/problem_json.hpp"
#include "reports/table.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct PredictArgs {
  std::string results, network, network_file, backend, compare, json_out, dtype = "fp32", optimizer, optimizer_form = "fused", comm;
  double bucket_mib = kDdpBucketBytes / (1 << 20);
  bool link_given = false;  // --bandwidth-gbps or --latency-us on the command line
  int64_t batch = 32, image_size = 224, seq_len = 128;
  int64_t dataset = 1'281'167, epochs = 1, devices = 1, spares = 0, top = 10;
  double bandwidth_gbps = 100, latency_us = 5;
  double checkpoint_s = 60, restart_s = 600, mtbf_device_h = llama3_device_mtbf_h();
  bool overlap = false, measure_missing = false, allow_missing = false, vendor_best = false;
  int threads = 0;
  double budget_ms = 1000;
};

struct BackendPair {
  std::string new_backend;
  std::optional<std::string> old_backend;
};

// --compare A:B → A is new (custom), B is old (vendor).
BackendPair backends_to_use(const PredictArgs& a, const RateTable& table, const Network& network,
                            const LoweringOptions& lowering) {
  if (!a.compare.empty()) {
    const auto colon = a.compare.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == a.compare.size()) {
      throw InputError(fmt::format("--compare: expected NEW:OLD such as custom-cpu:onednn, got '{}'", a.compare));
    }
    return {a.compare.substr(0, colon), a.compare.substr(colon + 1)};
  }
  if (!a.backend.empty()) return {a.backend, std::nullopt};
  const std::string chosen = choose_backend(table, training_problems(network, lowering));
  if (chosen.empty() && table.backends().empty()) {
    throw InputError(fmt::format("{}: no ok results to predict from", a.results));
  }
  return {chosen.empty() ? table.backends().front() : chosen, std::nullopt};
}

// A backend the results file has never seen is most likely a typo: say which ones it has.
void require_known(const std::string& backend, const RateTable& table, const std::string& results) {
  const auto known = table.backends();
  if (std::any_of(known.begin(), known.end(), [&](const std::string& k) { return backend_matches(backend, k); })) return;
  throw InputError(fmt::format("{}: no ok results for backend '{}' (it has: {}); use --measure-missing to measure it now",
                               results, backend, fmt::join(known, ", ")));
}

// --measure-missing: the runner's path (verify, then time), on the backend named in the table.
MeasureMissing measure_missing(const PredictArgs& a) {
  auto set = std::make_shared<BackendSet>(make_available_backends());
  RunOptions options;
  options.measure.stopping.budget_ms = a.budget_ms;
  return [set, options](const std::string& backend, const Problem& problem) -> std::optional<double> {
    std::vector<Backend*> found;
    try {
      found = select_backends(*set, backend);
    } catch (const std::invalid_argument&) {
      return std::nullopt;  // not in this build or on this machine: estimate instead
    }
    if (found.empty()) return std::nullopt;
    const Result r = run_one(*found.front(), problem, options);
    fmt::print(stderr, "measured {} on {}: {}\n", describe(problem), r.backend,
               r.status == ResultStatus::ok ? format_work_rate(problem, work_rate_per_s(r))
                                            : fmt::format("{} ({})", to_string(r.status), r.reason));
    if (r.status != ResultStatus::ok) return std::nullopt;
    return work_rate_per_s(r);
  };
}

// GEMM/conv FLOPs and memory-bound bytes are judged apart: the memory-bound passes carry few
// FLOPs, so a prediction missing all of them would pass a FLOP-only check while leaving out a
// third of a real step.
int missing_rates_status(const Prediction& prediction, bool allow_missing) {
  const RateCoverage coverage = rate_coverage(prediction.iteration);
  std::vector<std::string> missing;
  if (coverage.flops.missing > 0) missing.push_back(fmt::format("{:.1f}% of the GEMM/conv FLOPs", 100 * coverage.flops.missing));
  if (coverage.bytes.missing > 0) {
    missing.push_back(fmt::format("{:.1f}% of the memory-bound bytes", 100 * coverage.bytes.missing));
  }
  if (missing.empty()) return kExitOk;
  const std::string what = fmt::format("{} have no measured rate and no estimate ({} passes), and the times above "
                                       "leave them out",
                                       fmt::join(missing, " and "), prediction.iteration.missing_rows);
  const bool refused = std::max(coverage.flops.missing, coverage.bytes.missing) > kMaxMissingShare;
  if (!refused || allow_missing) {
    fmt::print(stderr, "trainrate predict: warning: {}\n", what);
    return kExitOk;
  }
  fmt::print(stderr,
             "trainrate predict: error: {}; above {:.0f}% the total is refused (measure those kinds with "
             "`trainrate run`, e.g. --suite resnet50 or --suite transformer, or --measure-missing; or pass "
             "--allow-missing to accept it)\n",
             what, 100 * kMaxMissingShare);
  return kExitFailure;
}

// --comm: B and α from the all-reduce measured by `trainrate run --suite collectives`.
void link_from_comm(const std::string& path, PredictOptions& o) {
  const double min_bytes = gradient_fit_min_bytes(o.link.bucket_bytes);
  const std::optional<CollectiveFit> found =
      gradient_allreduce_fit(fit_collectives(read_results_file(path).results, min_bytes));
  if (!found) {
    throw InputError(fmt::format("{}: no all-reduce over 2 or more ranks with 2 or more ok sizes of {} or more to fit "
                                 "(measure with `mpirun -n 2 trainrate run --suite collectives`)",
                                 path, format_message_size(int64_t(min_bytes))));
  }
  const double bucket_bytes = o.link.bucket_bytes;
  o.link = link_from_allreduce_fit(*found);
  o.link.bucket_bytes = bucket_bytes;
  const AlphaBetaFit& f = found->fit;
  o.link_origin = fmt::format("fitted to the {} all-reduce of {} ({} ranks on {}, {} sizes from {}): t = {:.3g} us + "
                              "bytes / {:.3g} GB/s, residuals rms {:.1f}%, max {:.1f}%",
                              to_string(found->dtype), path, found->ranks, found->backend, f.points.size(),
                              format_message_size(int64_t(f.points.front().bytes)),
                              f.alpha_s * 1e6, 1e-9 / f.beta_s_per_byte, 100 * f.rms_relative_residual,
                              100 * f.max_relative_residual);
}

PredictOptions predict_options(const PredictArgs& a) {
  PredictOptions o;
  const auto dtype = parse_dtype(a.dtype);
  if (!dtype) throw InputError(fmt::format("--dtype: '{}' is not one of fp32, tf32, fp16, bf16", a.dtype));
  o.lowering.dtype = *dtype;
  if (!a.optimizer.empty()) o.lowering.optimizer = parse_optimizer(a.optimizer);
  o.lowering.optimizer_form = *parse_update_form(a.optimizer_form);
  o.dataset_samples = a.dataset;
  o.epochs = a.epochs;
  o.devices = a.devices;
  o.link = Interconnect{a.bandwidth_gbps * 1e9, a.latency_us * 1e-6, a.bucket_mib * (1 << 20)};
  if (a.link_given) {
    o.link_origin = "given on the command line";
  } else if (!a.comm.empty()) {
    link_from_comm(a.comm, o);
  } else {
    o.link_origin = fmt::format("assumed defaults (B = {:.0f} GB/s, alpha = {:.0f} us), nothing measured; measure them "
                                "with `mpirun -n N trainrate run --suite collectives` and pass --comm RESULTS.json",
                                a.bandwidth_gbps, a.latency_us);
  }
  o.overlap = a.overlap;
  o.reliability = ReliabilityOptions{a.mtbf_device_h * 3600, a.checkpoint_s, a.restart_s, a.spares};
  return o;
}

int run_predict(const PredictArgs& a) {
  const Network network = load_network(a.network, a.network_file, {a.batch, a.image_size, a.seq_len});
  const PredictOptions options = predict_options(a);
  // A custom/vendor comparison is held against the vendor at its best, as `compare` is.
  const bool vendor_best = a.vendor_best || !a.compare.empty();
  RateTable table(read_results_file(a.results), vendor_best ? RateView::vendor_best : RateView::framework);
  const BackendPair pair = backends_to_use(a, table, network, options.lowering);
  MeasureMissing measure;
  if (!a.measure_missing) {
    require_known(pair.new_backend, table, a.results);
    if (pair.old_backend) require_known(*pair.old_backend, table, a.results);
  } else {
    CpuDevice::instance().set_threads(a.threads);
    measure = measure_missing(a);
  }
  const Prediction prediction = predict(network, table, pair.new_backend, pair.old_backend, options, measure);
  fmt::print("{}", format_prediction(prediction, size_t(a.top)));
  if (!a.json_out.empty()) {
    write_file_atomically(a.json_out, to_json(prediction).dump(2) + "\n");
    fmt::print(stderr, "prediction written to {}\n", a.json_out);
  }
  return missing_rates_status(prediction, a.allow_missing);
}

}  // namespace

Action add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Predict training time, speed-up, scaling and reliability from measured rates");
  auto a = std::make_shared<PredictArgs>();
  cmd->add_option("-r,--results", a->results, "Results JSON written by `trainrate run`")->required()->check(CLI::ExistingFile);
  auto* net = cmd->add_option("-n,--network", a->network, "Built-in network: resnet50, vgg16, bert-base, gpt2-small");
  auto* file = cmd->add_option("--network-file", a->network_file, "Network JSON (format in docs/models.md)")
                   ->check(CLI::ExistingFile);
  net->excludes(file);
  cmd->add_option("--batch", a->batch, "Batch per device (default 32)")->check(at_least(1));
  cmd->add_option("--image-size", a->image_size, "Image height and width for CNNs (default 224)")->check(at_least(1));
  cmd->add_option("--seq-len", a->seq_len, "Sequence length for transformers (default 128)")->check(at_least(1));
  cmd->add_option("--dtype", a->dtype, "Dtype of the problems to look up: fp32, tf32, fp16, bf16 (default fp32)");
  cmd->add_option("--dataset", a->dataset, "Training samples per epoch (default 1281167, ImageNet-1k)")
      ->check(at_least(1));
  cmd->add_option("--epochs", a->epochs, "Epochs (default 1)")->check(at_least(0));
  cmd->add_option("--devices", a->devices, "Data-parallel devices (default 1)")->check(at_least(1));
  auto* backend = cmd->add_option("-b,--backend", a->backend,
                                  "Backend whose rates to use (default: the one covering most of the network)");
  auto* compare = cmd->add_option("--compare", a->compare,
                                  "NEW:OLD, e.g. custom-cpu:onednn: each side uses its own rates for every kind "
                                  "it has any for (onednn's GEMMs included); a kind a side has none for uses its "
                                  "vendor (CPU: GEMM openblas, conv and memory-bound onednn; GPU: cublas, cudnn) or, for "
                                  "what no vendor has, the custom backend on that device");
  backend->excludes(compare);
  cmd->add_flag("--vendor-best", a->vendor_best,
                "Where the results have both views of a library (onednn and onednn-plain), take the vendor-best "
                "one (the primitive alone, layouts converted untimed) instead of the framework view (plain tensors "
                "in and out, reorders timed); --compare always does");
  cmd->add_flag("--measure-missing", a->measure_missing, "Measure problems missing from the results now (else estimate)");
  cmd->add_flag("--allow-missing", a->allow_missing,
                fmt::format("Exit 0 even when more than {:.0f}% of the GEMM/conv FLOPs or of the memory-bound bytes "
                            "have no rate (default: exit 1)",
                            100 * kMaxMissingShare));
  cmd->add_option("--optimizer", a->optimizer,
                  "Optimizer step to count: sgd, adam (AdamW), none (default: the network's: sgd for CNNs, adamw "
                  "for transformers, a network file's \"optimizer\")")
      ->check(CLI::IsMember({"sgd", "adam", "adamw", "none"}));
  cmd->add_option("--optimizer-form", a->optimizer_form,
                  "How the optimizer step runs: fused (one pass, default), or the chain of element-wise passes of "
                  "torch's or keras's default optimizer on CPU (docs/models.md)")
      ->check(CLI::IsMember({"fused", "torch", "keras"}));
  cmd->add_option("--threads", a->threads, "CPU threads for --measure-missing (default: all)")->check(at_least(0));
  cmd->add_option("--budget-ms", a->budget_ms, "Time budget per problem for --measure-missing")->check(greater_than(0));
  auto* bandwidth = cmd->add_option("--bandwidth-gbps", a->bandwidth_gbps, "All-reduce bus bandwidth B in GB/s (default 100)")
      ->check(greater_than(0));
  auto* latency = cmd->add_option("--latency-us", a->latency_us, "All-reduce per-step latency alpha in us (default 5)")
      ->check(at_least(0));
  auto* comm = cmd->add_option("--comm", a->comm,
                               "Results of `trainrate run --suite collectives`: B and alpha from its all-reduce fit "
                               "(docs/cluster.md)")
      ->check(CLI::ExistingFile);
  comm->excludes(bandwidth);
  comm->excludes(latency);
  cmd->add_option("--bucket-mib", a->bucket_mib, "Gradient bucket size in MiB, as PyTorch DDP's (default 25; 0: one message)")
      ->check(at_least(0));
  cmd->add_flag("--overlap", a->overlap, "Overlap the all-reduce with the backward pass");
  cmd->add_option("--checkpoint-s", a->checkpoint_s, "Time to write one checkpoint (default 60)")->check(greater_than(0));
  cmd->add_option("--restart-s", a->restart_s, "Time to restart after a failure (default 600)")
      ->check(at_least(0));
  cmd->add_option("--mtbf-device-h", a->mtbf_device_h, "Per-device MTBF in hours (default ~50,677, from Llama 3)")
      ->check(greater_than(0));
  cmd->add_option("--spares", a->spares, "Spare devices (default 0)")->check(at_least(0));
  cmd->add_option("--top", a->top, "Layers shown in the breakdown (default 10)")->check(at_least(1));
  cmd->add_option("--json", a->json_out, "Write the prediction JSON here");
  return [a, bandwidth, latency] {
    PredictArgs args = *a;
    args.link_given = bandwidth->count() > 0 || latency->count() > 0;
    return run_predict(args);
  };
}

}  // namespace trainrate::cli
