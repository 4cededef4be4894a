#include "models/training_time.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>

namespace trainrate {

double simple_training_time_s(double parameters, double work_per_parameter_flops, double rate_flops_per_s) {
  if (rate_flops_per_s <= 0) throw std::invalid_argument("rate must be > 0");
  return parameters * work_per_parameter_flops / rate_flops_per_s;
}

double six_nd_flops(double parameters, double tokens) { return 6 * parameters * tokens; }

bool six_nd_applies(const Network& network) {
  return std::none_of(network.layers.begin(), network.layers.end(),
                      [](const Layer& layer) { return std::holds_alternative<ConvLayer>(layer.shape); });
}

double six_nd_time_s(double parameters, double tokens, double rate_flops_per_s) {
  if (rate_flops_per_s <= 0) throw std::invalid_argument("rate must be > 0");
  return six_nd_flops(parameters, tokens) / rate_flops_per_s;
}

ProblemClass dominant_problem_class(const std::vector<LayerPass>& passes) {
  std::map<std::string, double> by_kind;
  double total = 0;
  for (const LayerPass& p : passes) {
    if (is_memory_bound(p.problem)) continue;  // their work is bytes; the rule is about FLOPs
    const double f = flops(p.problem) * double(p.count);
    by_kind[kind_label(p.problem)] += f;
    total += f;
  }
  ProblemClass best;
  for (const auto& [kind, f] : by_kind) {
    if (f > best.flops_share) best = {kind, f};
  }
  if (total > 0) best.flops_share /= total;
  return best;
}

namespace {

// Σ F / Σ (F / R) over one backend's rows of a kind: a FLOP-weighted harmonic mean.
std::optional<double> harmonic_class_rate(const RateTable& table, const std::string& backend, const std::string& kind,
                                          Dtype dtype, const std::vector<Problem>& probes) {
  double total_flops = 0, total_time_s = 0;
  for (const Problem& probe : probes) {
    if (kind_label(probe) != kind || dtype_of(probe) != dtype) continue;
    if (auto rate = table.exact(backend, probe)) {
      total_flops += flops(probe);
      total_time_s += flops(probe) / *rate;
    }
  }
  if (total_time_s <= 0) return std::nullopt;
  return total_flops / total_time_s;
}

}  // namespace

std::optional<double> class_rate_flops_per_s(const RateTable& table, const std::string& backend,
                                             const std::string& kind, Dtype dtype) {
  const std::vector<Problem> probes = table.problems();
  if (auto rate = harmonic_class_rate(table, backend, kind, dtype, probes)) return rate;
  std::optional<double> best;
  for (const std::string& vendor : table.vendors_beside(backend)) {
    if (auto rate = harmonic_class_rate(table, vendor, kind, dtype, probes)) best = std::max(best.value_or(0), *rate);
  }
  return best;
}

namespace {

void add_time(IterationPrediction& out, const PassPrediction& row) {
  switch (row.pass.phase) {
    case Phase::forward: out.forward_time_s += row.time_s; break;
    case Phase::backward: out.backward_time_s += row.time_s; break;
    case Phase::update: out.update_time_s += row.time_s; break;
  }
  (is_memory_bound(row.pass.problem) ? out.memory_time_s : out.compute_time_s) += row.time_s;
}

}  // namespace

IterationPrediction predict_iteration(const std::vector<LayerPass>& passes, const RateSource& rate_of) {
  IterationPrediction out;
  for (const LayerPass& pass : passes) {
    const double count = double(pass.count);
    PassPrediction row{pass, rate_of(pass.problem), flops(pass.problem) * count, work(pass.problem) * count, 0};
    const bool missing = row.rate.origin == RateOrigin::missing;
    if (is_memory_bound(pass.problem)) {
      out.bytes += row.work;
      out.missing_bytes += missing ? row.work : 0;
    } else {
      out.flops += row.flops;
      out.missing_flops += missing ? row.flops : 0;
    }
    if (missing) {
      ++out.missing_rows;
    } else {
      row.time_s = row.work / row.rate.rate_per_s;
      add_time(out, row);
    }
    out.estimated_rows += row.rate.origin == RateOrigin::estimated ? 1 : 0;
    out.measured_now_rows += row.rate.origin == RateOrigin::measured_now ? 1 : 0;
    out.passes.push_back(std::move(row));
  }
  out.iteration_time_s = out.forward_time_s + out.backward_time_s + out.update_time_s;
  return out;
}

IterationPrediction predict_iteration(const Network& network, const LoweringOptions& lowering, RateTable& table,
                                      const std::string& backend, const MeasureMissing& measure) {
  IterationPrediction out = predict_iteration(lower_training_step(network, lowering), [&](const Problem& problem) {
    return look_up_rate(table, backend, problem, measure);
  });
  out.backend = backend;
  return out;
}

namespace {

// Shares of work within each group (a kind, or one of the two summaries), by supplying backend.
std::vector<RateSupplier> group_rate_sources(const IterationPrediction& prediction,
                                             const std::function<std::optional<std::string>(const Problem&)>& group) {
  std::map<std::pair<std::string, std::string>, double> work_by;  // (group, backend): in name order
  std::map<std::string, double> group_work;
  for (const PassPrediction& row : prediction.passes) {
    const auto key = group(row.pass.problem);
    if (!key) continue;
    work_by[{*key, row.rate.origin == RateOrigin::missing ? "" : row.rate.backend}] += row.work;
    group_work[*key] += row.work;
  }
  std::vector<RateSupplier> sources;
  for (const auto& [key, w] : work_by) {
    const double total = group_work.at(key.first);
    sources.push_back({key.first, key.second, w, total > 0 ? w / total : 0});
  }
  std::stable_sort(sources.begin(), sources.end(), [](const RateSupplier& a, const RateSupplier& b) {
    return a.kind != b.kind ? a.kind < b.kind : a.work > b.work;
  });
  return sources;
}

WorkShares shares(const IterationPrediction& prediction, bool memory_bound) {
  double measured = 0, estimated = 0, missing = 0;
  for (const PassPrediction& row : prediction.passes) {
    if (is_memory_bound(row.pass.problem) != memory_bound) continue;
    if (row.rate.origin == RateOrigin::estimated) estimated += row.work;
    if (row.rate.origin == RateOrigin::missing) missing += row.work;
    if (row.rate.origin == RateOrigin::measured || row.rate.origin == RateOrigin::measured_now) measured += row.work;
  }
  const double total = measured + estimated + missing;
  if (total <= 0) return {};
  return {measured / total, estimated / total, missing / total};
}

}  // namespace

std::vector<RateSupplier> rate_sources(const IterationPrediction& prediction, bool memory_bound) {
  return group_rate_sources(prediction, [&](const Problem& problem) -> std::optional<std::string> {
    if (is_memory_bound(problem) != memory_bound) return std::nullopt;
    return std::string();
  });
}

std::vector<RateSupplier> rate_sources_by_kind(const IterationPrediction& prediction) {
  return group_rate_sources(prediction, [](const Problem& problem) -> std::optional<std::string> { return kind_label(problem); });
}

RateCoverage rate_coverage(const IterationPrediction& prediction) {
  RateCoverage c;
  c.flops = shares(prediction, false);
  c.bytes = shares(prediction, true);
  const std::vector<LayerTime> layers = layer_times(prediction);
  c.layers = int64_t(layers.size());
  c.layers_not_measured = std::count_if(layers.begin(), layers.end(), [](const LayerTime& l) { return l.has_estimate; });
  return c;
}

std::vector<LayerTime> layer_times(const IterationPrediction& prediction) {
  std::vector<LayerTime> layers;
  for (const PassPrediction& row : prediction.passes) {
    auto found = std::find_if(layers.begin(), layers.end(), [&](const LayerTime& l) { return l.layer == row.pass.layer; });
    if (found == layers.end()) found = layers.insert(layers.end(), LayerTime{row.pass.layer});
    found->time_s += row.time_s;
    (is_memory_bound(row.pass.problem) ? found->bytes : found->flops) += row.work;
    found->has_estimate |= row.rate.origin == RateOrigin::estimated || row.rate.origin == RateOrigin::missing;
  }
  return layers;
}

TrainingTime training_time(double step_time_s, int64_t dataset_samples, int64_t global_batch, int64_t epochs) {
  if (global_batch < 1 || dataset_samples < 0 || epochs < 0) {
    throw std::invalid_argument("training_time: batch must be >= 1, dataset and epochs >= 0");
  }
  TrainingTime t;
  t.iterations_per_epoch = (dataset_samples + global_batch - 1) / global_batch;
  t.step_time_s = step_time_s;
  t.epoch_time_s = double(t.iterations_per_epoch) * step_time_s;
  t.total_time_s = double(epochs) * t.epoch_time_s;
  return t;
}

StepCompute step_compute(const IterationPrediction& iteration, double gradient_bytes) {
  return StepCompute{.forward_s = iteration.forward_time_s,
                     .backward_s = iteration.backward_time_s,
                     .update_s = iteration.update_time_s,
                     .gradient_bytes = gradient_bytes};
}

}  // namespace trainrate
