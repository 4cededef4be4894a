#include "models/prediction.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "problems/problem_json.hpp"

namespace trainrate {

using nlohmann::json;

namespace {

TrainingTime time_on_devices(const IterationPrediction& iteration, const Prediction& p) {
  const StepCompute step = step_compute(iteration, double(p.parameters) * p.options.gradient_bytes_per_parameter);
  const ScalingPoint at = scale_step(step, p.options.devices, p.options.link, p.options.overlap);
  return training_time(at.step_s, p.options.dataset_samples, p.batch * p.options.devices, p.options.epochs);
}

FlopRuleCheck flop_rule_check(const Network& network, const RateTable& table, const std::string& backend,
                              const Prediction& p) {
  FlopRuleCheck check;
  check.applies = six_nd_applies(network);
  const ProblemClass dominant = dominant_problem_class(lower_training_step(network, p.options.lowering));
  check.problem_class = dominant.kind;
  check.class_share = dominant.flops_share;
  check.rate_flops_per_s =
      class_rate_flops_per_s(table, backend, dominant.kind, p.options.lowering.dtype).value_or(0);
  const double samples = double(p.options.dataset_samples) * double(p.options.epochs);
  check.tokens = samples * double(network.tokens_per_sample);
  check.flops = six_nd_flops(double(p.parameters), check.tokens);
  if (check.rate_flops_per_s > 0) check.time_s = check.flops / (check.rate_flops_per_s * double(p.options.devices));
  check.layer_model_flops = p.iteration.flops / double(network.batch) * samples;
  return check;
}

// A line for a backend whose library has two views (RateTable: vendor-best and framework) saying
// which one its rates are and why; empty for a backend with one.
std::string rate_view_note(const RateTable& table, const std::string& backend) {
  const auto d = table.declaration(backend);
  if (!d || d->view == RateView::sole) return {};
  const bool framework_preferred = table.preferred() == RateView::framework;
  if (d->view == RateView::framework) {
    if (!framework_preferred) {
      return fmt::format("{}: the framework view of {}, standing in where the results have no vendor-best {} rate "
                         "(its times include the layout reorders a framework pays)",
                         backend, d->framework_view_of, d->framework_view_of);
    }
    return fmt::format("{}: the framework view of {}: plain tensors in and out, layout reorders timed, as a "
                       "framework pays them on every call (--vendor-best: {}'s own rates, the primitive alone, "
                       "where the results have them)",
                       backend, d->framework_view_of, d->framework_view_of);
  }
  const std::string view = table.framework_view(backend);
  if (view.empty()) {
    return fmt::format("{}: vendor-best view, the primitive alone with layouts converted outside the timing; the "
                       "results have no framework view of it, so the reorders a framework pays are not in these times",
                       backend);
  }
  if (framework_preferred) {
    return fmt::format("{}: vendor-best view, for the kinds its framework view {} has no rates for", backend, view);
  }
  return fmt::format("{}: vendor-best view, the primitive alone with layouts converted outside the timing, as asked "
                     "(--vendor-best or --compare); its framework view {} is in the results, unused",
                     backend, view);
}

std::vector<std::string> rate_view_notes(const RateTable& table, const Prediction& p) {
  std::vector<std::string> backends;
  for (const IterationPrediction* it : {&p.iteration, p.old_iteration ? &*p.old_iteration : nullptr}) {
    if (!it) continue;
    for (const PassPrediction& row : it->passes) {
      const bool seen = std::find(backends.begin(), backends.end(), row.rate.backend) != backends.end();
      if (row.rate.origin != RateOrigin::missing && !seen) backends.push_back(row.rate.backend);
    }
  }
  std::vector<std::string> notes;
  for (const std::string& backend : backends) {
    if (std::string note = rate_view_note(table, backend); !note.empty()) notes.push_back(std::move(note));
  }
  return notes;
}

}  // namespace

std::string choose_backend(const RateTable& table, const std::vector<Problem>& problems) {
  std::string best;
  size_t best_count = 0;
  for (const std::string& backend : table.backends()) {
    const auto covered = size_t(std::count_if(problems.begin(), problems.end(),
                                              [&](const Problem& p) { return table.exact(backend, p).has_value(); }));
    if (covered > best_count) best = backend, best_count = covered;
  }
  return best;
}

Prediction predict(const Network& network, RateTable& table, const std::string& backend,
                   const std::optional<std::string>& old_backend, const PredictOptions& options,
                   const MeasureMissing& measure) {
  Prediction p;
  p.network = network.name;
  p.batch = network.batch;
  const auto first_conv = std::find_if(network.layers.begin(), network.layers.end(),
                                       [](const Layer& l) { return std::holds_alternative<ConvLayer>(l.shape); });
  if (first_conv != network.layers.end()) {
    p.image_size = std::get<ConvLayer>(first_conv->shape).h;
  } else {
    p.seq_len = network.tokens_per_sample;
  }
  p.parameters = parameter_count(network);
  p.forward_macs_per_sample = forward_macs_per_sample(network);
  p.options = options;
  p.options.lowering.optimizer = options.lowering.optimizer.value_or(network.optimizer);
  p.iteration = predict_iteration(network, p.options.lowering, table, backend, measure);
  p.time = time_on_devices(p.iteration, p);
  if (old_backend) {
    p.old_iteration = predict_iteration(network, options.lowering, table, *old_backend, measure);
    p.old_time = time_on_devices(*p.old_iteration, p);
  }
  p.rate_views = rate_view_notes(table, p);
  p.flop_rule = flop_rule_check(network, table, backend, p);
  const StepCompute step = step_compute(p.iteration, double(p.parameters) * options.gradient_bytes_per_parameter);
  p.scaling = scaling_table(step, options.devices, options.link, options.overlap);
  p.scaling_overlapped = scaling_table(step, options.devices, options.link, true);
  p.reliability = assess_reliability(p.time.total_time_s, options.devices, options.reliability);
  return p;
}

// ---- JSON -----------------------------------------------------------------------------------

namespace {

json pass_to_json(const PassPrediction& row) {
  return json{{"pass", row.pass.pass},
              {"problem", to_json(row.pass.problem)},
              {"description", describe(row.pass.problem)},
              {"count", row.pass.count},
              {"flops", row.flops},
              {"work", row.work},
              {"rate_unit", is_memory_bound(row.pass.problem) ? "bytes/s" : "FLOP/s"},
              {"rate_per_s", row.rate.rate_per_s},
              {"time_s", row.time_s},
              {"rate_origin", std::string(to_string(row.rate.origin))},
              {"rate_backend", row.rate.backend},
              {"estimated_from", row.rate.estimated_from.empty() ? json(nullptr) : json(row.rate.estimated_from)}};
}

json layers_to_json(const Prediction& p) {
  const double total_s = p.iteration.iteration_time_s;
  std::vector<LayerSpeedup> speedups;
  if (p.old_iteration) speedups = layer_speedups(*p.old_iteration, p.iteration);
  json layers = json::array();
  for (const LayerTime& layer : layer_times(p.iteration)) {
    json entry{{"name", layer.layer},
               {"time_s", layer.time_s},
               {"flops", layer.flops},
               {"bytes", layer.bytes},
               {"share", total_s > 0 ? layer.time_s / total_s : 0.0},
               {"estimated", layer.has_estimate},
               {"passes", json::array()}};
    for (const auto& row : p.iteration.passes) {
      if (row.pass.layer == layer.layer) entry["passes"].push_back(pass_to_json(row));
    }
    for (const auto& s : speedups) {
      if (s.layer != layer.layer || !s.comparable) continue;
      entry["old_time_s"] = s.speedup.old_time_s;
      entry["time_reduction"] = s.speedup.time_reduction;
      entry["ratio"] = s.speedup.ratio;
    }
    layers.push_back(entry);
  }
  return layers;
}

json speedup_to_json(const Prediction& p) {
  if (!p.old_iteration || !(p.old_time->total_time_s > 0) || !(p.time.total_time_s > 0)) return nullptr;
  const Speedup total = speedup(p.old_time->total_time_s, p.time.total_time_s);
  json out{{"basis", "total_time"},
           {"time_reduction", total.time_reduction},
           {"ratio", total.ratio},
           {"old_backend", p.old_iteration->backend},
           {"new_backend", p.iteration.backend},
           {"old_total_time_s", p.old_time->total_time_s},
           {"new_total_time_s", p.time.total_time_s},
           {"old_iteration_time_s", p.old_iteration->iteration_time_s},
           {"new_iteration_time_s", p.iteration.iteration_time_s}};
  if (p.old_iteration->iteration_time_s > 0 && p.iteration.iteration_time_s > 0) {
    const Speedup compute = speedup(p.old_iteration->iteration_time_s, p.iteration.iteration_time_s);
    out["compute_only"] = json{{"time_reduction", compute.time_reduction}, {"ratio", compute.ratio}};
  }
  return out;
}

json scaling_to_json(const std::vector<ScalingPoint>& table) {
  json out = json::array();
  for (const ScalingPoint& s : table) {
    out.push_back(json{{"devices", s.devices},
                       {"compute_s", s.compute_s},
                       {"allreduce_s", s.allreduce_s},
                       {"exposed_comm_s", s.exposed_comm_s},
                       {"step_s", s.step_s},
                       {"efficiency", s.efficiency},
                       {"throughput_speedup", s.throughput_speedup}});
  }
  return out;
}

// JSON has no infinity; a run that never finishes is written as null.
json finite_or_null(double value) { return std::isfinite(value) ? json(value) : json(nullptr); }

json reliability_to_json(const ReliabilityReport& r, const ReliabilityOptions& o) {
  return json{{"devices", r.devices},
              {"device_mtbf_h", o.device_mtbf_s / 3600},
              {"job_mtbf_h", r.job_mtbf_s / 3600},
              {"checkpoint_s", o.checkpoint_s},
              {"restart_s", o.restart_s},
              {"young_interval_s", r.young_interval_s},
              {"daly_interval_s", r.daly_interval_s},
              {"failure_free_time_s", r.solve_s},
              {"expected_wall_clock_s", finite_or_null(r.wall_clock_s)},
              {"overhead_fraction", finite_or_null(r.overhead_fraction)},
              {"expected_failures", finite_or_null(r.expected_failures)},
              {"p_no_failure", r.p_no_failure},
              {"spares", r.spares},
              {"p_spares_suffice", r.p_spares_suffice},
              {"expected_failures_without_spare", finite_or_null(r.expected_failures_without_spare)}};
}

json rate_sources_to_json(const IterationPrediction& iteration) {
  json out = json::array();
  for (const RateSupplier& s : rate_sources_by_kind(iteration)) {
    out.push_back(json{{"kind", s.kind},
                       {"backend", s.backend.empty() ? json(nullptr) : json(s.backend)},
                       {"work", s.work},
                       {"share_of_kind", s.share}});
  }
  return out;
}

json shares_to_json(const WorkShares& s) {
  return json{{"measured_share", s.measured}, {"estimated_share", s.estimated}, {"missing_share", s.missing}};
}

json rate_coverage_to_json(const RateCoverage& c) {
  return json{{"flops", shares_to_json(c.flops)}, {"memory_bytes", shares_to_json(c.bytes)},
              {"layers", c.layers}, {"layers_not_measured", c.layers_not_measured}};
}

json optional_count(const std::optional<int64_t>& value) { return value ? json(*value) : json(nullptr); }

json flop_rule_to_json(const FlopRuleCheck& f) {
  return json{{"applies", f.applies}, {"problem_class", f.problem_class}, {"class_share", f.class_share},
              {"rate_flops_per_s", f.rate_flops_per_s}, {"tokens", f.tokens},
              {"flops", f.flops}, {"time_s", f.rate_flops_per_s > 0 ? json(f.time_s) : json(nullptr)},
              {"layer_model_flops", f.layer_model_flops}};
}

}  // namespace

json to_json(const Prediction& p) {
  const auto& o = p.options;
  return json{{"network", p.network},
              {"backend", p.iteration.backend},
              {"batch", p.batch},
              {"image_size", optional_count(p.image_size)},
              {"seq_len", optional_count(p.seq_len)},
              {"devices", o.devices},
              {"dataset_samples", o.dataset_samples},
              {"epochs", o.epochs},
              {"dtype", std::string(to_string(o.lowering.dtype))},
              {"parameters", p.parameters},
              {"forward_macs_per_sample", p.forward_macs_per_sample},
              {"optimizer", std::string(to_string(o.lowering.optimizer.value_or(Optimizer::none)))},
              {"optimizer_form", std::string(to_string(o.lowering.optimizer_form))},
              {"iteration_flops", p.iteration.flops},
              {"iteration_memory_bytes", p.iteration.bytes},
              {"iteration_time_s", p.iteration.iteration_time_s},
              {"forward_time_s", p.iteration.forward_time_s},
              {"backward_time_s", p.iteration.backward_time_s},
              {"update_time_s", p.iteration.update_time_s},
              {"compute_time_s", p.iteration.compute_time_s},
              {"memory_time_s", p.iteration.memory_time_s},
              {"step_time_s", p.time.step_time_s},
              {"iterations_per_epoch", p.time.iterations_per_epoch},
              {"epoch_time_s", p.time.epoch_time_s},
              {"total_time_s", p.time.total_time_s},
              {"estimated_passes", p.iteration.estimated_rows},
              {"missing_passes", p.iteration.missing_rows},
              {"measured_now_passes", p.iteration.measured_now_rows},
              {"estimated", p.iteration.estimated_rows > 0 || p.iteration.missing_rows > 0},
              {"rate_sources", rate_sources_to_json(p.iteration)},
              {"rate_views", p.rate_views},
              {"rate_coverage", rate_coverage_to_json(rate_coverage(p.iteration))},
              {"layers", layers_to_json(p)},
              {"speedup", speedup_to_json(p)},
              {"flop_rule", flop_rule_to_json(p.flop_rule)},
              {"interconnect", json{{"bandwidth_bytes_per_s", o.link.bandwidth_bytes_per_s},
                                    {"latency_s", o.link.latency_s}, {"bucket_bytes", o.link.bucket_bytes},
                                    {"origin", o.link_origin}, {"overlap", o.overlap}}},
              {"scaling", scaling_to_json(p.scaling)},
              {"reliability", reliability_to_json(p.reliability, o.reliability)}};
}

}  // namespace trainrate
