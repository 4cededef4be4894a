// The readable breakdown of a Prediction: what a person wants first (totals), then where the
// time goes, then the what-ifs (speed-up, more devices, failures).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "models/prediction.hpp"

namespace trainrate {

std::string human_duration(double seconds) {
  if (!std::isfinite(seconds)) return "never (failures outpace checkpoints)";
  if (seconds < 1e-3) return fmt::format("{:.1f} us", seconds * 1e6);
  if (seconds < 1) return fmt::format("{:.2f} ms", seconds * 1e3);
  if (seconds < 120) return fmt::format("{:.2f} s", seconds);
  if (seconds < 7200) return fmt::format("{:.1f} min", seconds / 60);
  if (seconds < 172800) return fmt::format("{:.1f} h", seconds / 3600);
  return fmt::format("{:.1f} days", seconds / 86400);
}

namespace {

std::string percent(double share) { return fmt::format("{:.1f}%", 100 * share); }

std::string source_name(const RateSupplier& s) { return s.backend.empty() ? "no rate" : s.backend; }

std::string supplier_list(const std::vector<RateSupplier>& sources) {
  std::vector<std::string> names;
  for (const RateSupplier& s : sources) names.push_back(source_name(s) + " " + percent(s.share));
  return fmt::format("{}", fmt::join(names, ", "));
}

// The backends whose rates the times use: a kind the requested backend has no rate for borrows
// its vendor's, so the requested name alone can be wrong for most of the work.
std::string rate_sources_text(const Prediction& p) {
  std::string out = fmt::format("rates from: {} of the GEMM/conv FLOPs", supplier_list(rate_sources(p.iteration, false)));
  const auto memory = rate_sources(p.iteration, true);
  if (!memory.empty()) out += fmt::format("; {} of the memory-bound bytes", supplier_list(memory));
  out += fmt::format(" (requested backend: {})\n", p.iteration.backend);
  std::string kind;
  for (const RateSupplier& s : rate_sources_by_kind(p.iteration)) {
    out += s.kind == kind ? ", " : fmt::format("{}  {}: ", kind.empty() ? "" : "\n", s.kind);
    out += source_name(s) + " " + percent(s.share);
    kind = s.kind;
  }
  out += "\n";
  for (const std::string& note : p.rate_views) out += "view: " + note + "\n";
  return out;
}

std::string shares_text(const WorkShares& s, std::string_view work) {
  return fmt::format("only {} of the {} have a measured rate for their exact shape; {} use the rate of the nearest "
                     "measured shape (marked *) and {} have no rate and are left out of every time below",
                     percent(s.measured), work, percent(s.estimated), percent(s.missing));
}

// Said before the times, not after them: a total resting on estimates must not read as measured.
std::string coverage_text(const Prediction& p) {
  const RateCoverage c = rate_coverage(p.iteration);
  std::string out;
  if (c.flops.estimated > 0 || c.flops.missing > 0) out += "ESTIMATED: " + shares_text(c.flops, "GEMM/conv FLOPs") + "\n";
  if (c.bytes.missing > 0) {
    out += "MISSING MEMORY-BOUND RATES: " + shares_text(c.bytes, "memory-bound bytes") +
           " (measure them: `trainrate run --suite resnet50` or `--suite transformer` include them)\n";
  } else if (c.bytes.estimated > 0) {
    out += "ESTIMATED: " + shares_text(c.bytes, "memory-bound bytes") + "\n";
  }
  if (!out.empty()) out += fmt::format("{} of {} layers are not fully measured\n", c.layers_not_measured, c.layers);
  return out;
}

std::string optimizer_form_text(const LoweringOptions& lowering) {
  const std::optional<Optimizer> optimizer = lowering.optimizer;
  if (!optimizer || *optimizer == Optimizer::none) return "";
  if (lowering.optimizer_form == UpdateForm::fused) return " (fused: one pass over the parameters)";
  return fmt::format(" ({}'s op chain: {} element-wise passes over the parameters{})", to_string(lowering.optimizer_form),
                     update_chain(optimizer_op(*optimizer), lowering.optimizer_form).size(),
                     updates_tensor_by_tensor(lowering.optimizer_form) ? ", tensor by tensor" : "");
}

std::string totals(const Prediction& p) {
  const auto& it = p.iteration;
  std::string out = fmt::format(
      "{}: {:.2f} M parameters, {:.3f} G multiply-adds per sample forward (conv/linear/attention GEMMs), "
      "optimizer {}{}\n",
      p.network, double(p.parameters) / 1e6, p.forward_macs_per_sample / 1e9,
      to_string(p.options.lowering.optimizer.value_or(Optimizer::none)), optimizer_form_text(p.options.lowering));
  out += rate_sources_text(p) + coverage_text(p);
  out += fmt::format("one iteration (batch {} per device) = {} (forward {}, backward {}, optimizer step {})\n",
                     p.batch, human_duration(it.iteration_time_s), human_duration(it.forward_time_s),
                     human_duration(it.backward_time_s), human_duration(it.update_time_s));
  out += fmt::format("  GEMM/conv        {:>10}  {:.2f} GFLOP at {:.1f} GFLOP/s\n", human_duration(it.compute_time_s),
                     it.flops / 1e9, it.compute_time_s > 0 ? (it.flops - it.missing_flops) / it.compute_time_s / 1e9 : 0.0);
  out += fmt::format("  memory-bound     {:>10}  {:.2f} GB at {:.1f} GB/s\n", human_duration(it.memory_time_s),
                     it.bytes / 1e9, it.memory_time_s > 0 ? (it.bytes - it.missing_bytes) / it.memory_time_s / 1e9 : 0.0);
  out += fmt::format("{} devices: step {} x {} iterations/epoch = epoch {}; {} epochs = {}{}\n", p.options.devices,
                     human_duration(p.time.step_time_s), p.time.iterations_per_epoch,
                     human_duration(p.time.epoch_time_s), p.options.epochs, human_duration(p.time.total_time_s),
                     it.estimated_rows > 0 || it.missing_rows > 0 ? " (ESTIMATED)" : "");
  return out;
}

// A layer's rate in its own unit: FLOP/s when it has GEMM/conv work, else bytes/s.
std::string layer_rate(const LayerTime& l) {
  if (!(l.time_s > 0)) return "-";
  if (l.flops > 0) return fmt::format("{:.1f} GFLOP/s", l.flops / l.time_s / 1e9);
  return fmt::format("{:.1f} GB/s", l.bytes / l.time_s / 1e9);
}

std::string top_layers_table(const Prediction& p, size_t top) {
  auto layers = layer_times(p.iteration);
  std::vector<LayerSpeedup> speedups;
  if (p.old_iteration) speedups = layer_speedups(*p.old_iteration, p.iteration);
  std::stable_sort(layers.begin(), layers.end(), [](const auto& a, const auto& b) { return a.time_s > b.time_s; });
  std::string out = fmt::format("\ntop layers by time (of {}):\n{:<36} {:>10} {:>7} {:>14}", layers.size(), "layer",
                                "time", "share", "rate");
  if (p.old_iteration) out += fmt::format(" {:>10} {:>15} {:>9}", "old time", "time reduction", "speed-up");
  out += "\n";
  for (size_t i = 0; i < std::min(top, layers.size()); ++i) {
    const LayerTime& l = layers[i];
    const double share = p.iteration.iteration_time_s > 0 ? l.time_s / p.iteration.iteration_time_s : 0;
    out += fmt::format("{:<36} {:>10} {:>6.1f}% {:>14}", l.layer + (l.has_estimate ? " *" : ""),
                       human_duration(l.time_s), 100 * share, layer_rate(l));
    for (const auto& s : speedups) {
      if (s.layer == l.layer && s.comparable) {
        out += fmt::format(" {:>10} {:>14.1f}% {:>8.2f}x", human_duration(s.speedup.old_time_s),
                           100 * s.speedup.time_reduction, s.speedup.ratio);
      }
    }
    out += "\n";
  }
  return out;
}

// The estimated or missing rows that cost the most time (missing ones first: they cost unknown time).
std::string estimates(const Prediction& p, size_t top) {
  std::vector<const PassPrediction*> rows;
  for (const auto& row : p.iteration.passes) {
    if (row.rate.origin == RateOrigin::estimated || row.rate.origin == RateOrigin::missing) rows.push_back(&row);
  }
  if (rows.empty()) return "";
  std::stable_sort(rows.begin(), rows.end(), [](const auto* a, const auto* b) {
    const bool a_missing = a->rate.origin == RateOrigin::missing, b_missing = b->rate.origin == RateOrigin::missing;
    return a_missing != b_missing ? a_missing : a->time_s > b->time_s;
  });
  std::string out = fmt::format("\nestimated or missing rates ({} passes, largest first):\n", rows.size());
  for (size_t i = 0; i < std::min(top, rows.size()); ++i) {
    const PassPrediction& row = *rows[i];
    if (row.rate.origin == RateOrigin::missing) {
      out += fmt::format("  ! {} [{}]: no rate on {} or its vendor backend\n", describe(row.pass.problem),
                         row.pass.layer, row.rate.backend);
    } else {
      out += fmt::format("  * {} [{}] {}: rate of {} on {}\n", describe(row.pass.problem), row.pass.layer,
                         human_duration(row.time_s), row.rate.estimated_from, row.rate.backend);
    }
  }
  if (rows.size() > top) out += fmt::format("  ... and {} more (all in the JSON)\n", rows.size() - top);
  return out;
}

std::string speedup_section(const Prediction& p) {
  if (!p.old_iteration) return "";
  std::string out = fmt::format("\nspeed-up of {} (new) over {} (old):\n", p.iteration.backend, p.old_iteration->backend);
  if (p.old_iteration->iteration_time_s > 0 && p.iteration.iteration_time_s > 0) {
    out += "  compute per iteration: " +
           describe(speedup(p.old_iteration->iteration_time_s, p.iteration.iteration_time_s)) + "\n";
  }
  if (p.old_time->total_time_s > 0 && p.time.total_time_s > 0) {
    out += fmt::format("  total training time:   {} ({} -> {})\n",
                       describe(speedup(p.old_time->total_time_s, p.time.total_time_s)),
                       human_duration(p.old_time->total_time_s), human_duration(p.time.total_time_s));
  }
  return out;
}

std::string flop_rule_section(const Prediction& p) {
  const FlopRuleCheck& f = p.flop_rule;
  if (!f.applies) {
    return fmt::format("\n6*N*D rule: not shown for {}: it counts each parameter once per token, as in a "
                       "transformer, but a conv weight is reused at every output pixel; the layer model above "
                       "counts that work\n",
                       p.network);
  }
  std::string out = fmt::format("\n6*N*D rule: D = {:.3g} tokens, 6ND = {:.3g} FLOP vs layer model {:.3g} FLOP ({:.2f}x)",
                                f.tokens, f.flops, f.layer_model_flops, f.flops > 0 ? f.layer_model_flops / f.flops : 0.0);
  if (f.rate_flops_per_s > 0) {
    out += fmt::format("; at R({}) = {:.1f} GFLOP/s: {}", f.problem_class, f.rate_flops_per_s / 1e9,
                       human_duration(f.time_s));
  }
  return out + "\n";
}

std::string scaling_section(const Prediction& p) {
  const Interconnect& link = p.options.link;
  const std::string buckets = link.bucket_bytes > 0 ? fmt::format("in {:.0f} MiB buckets", link.bucket_bytes / (1 << 20))
                                                    : std::string("as one message");
  std::string out = fmt::format("\ndata-parallel scaling (ring all-reduce of {:.1f} MB {}, B = {:.3g} GB/s, alpha = {:.3g} us "
                                "per step, overlap {}):\n  B and alpha: {}\n",
                                double(p.parameters) * p.options.gradient_bytes_per_parameter / 1e6, buckets,
                                link.bandwidth_bytes_per_s / 1e9, link.latency_s * 1e6, p.options.overlap ? "on" : "off",
                                p.options.link_origin);
  out += fmt::format("{:>8} {:>10} {:>10} {:>10} {:>11} {:>11} {:>15} {:>12}\n", "devices", "compute", "allreduce",
                     "step", "efficiency", "throughput", "step overlapped", "efficiency");
  for (size_t i = 0; i < p.scaling.size(); ++i) {
    const ScalingPoint& s = p.scaling[i];
    const ScalingPoint& o = p.scaling_overlapped[i];
    out += fmt::format("{:>8} {:>10} {:>10} {:>10} {:>10.1f}% {:>10.2f}x {:>15} {:>11.1f}%\n", s.devices,
                       human_duration(s.compute_s), human_duration(s.allreduce_s), human_duration(s.step_s),
                       100 * s.efficiency, s.throughput_speedup, human_duration(o.step_s), 100 * o.efficiency);
  }
  return out;
}

std::string reliability_section(const Prediction& p) {
  const ReliabilityReport& r = p.reliability;
  const ReliabilityOptions& o = p.options.reliability;
  std::string out = fmt::format("\nreliability ({} devices, device MTBF {:.0f} h -> job MTBF {}):\n", r.devices,
                                o.device_mtbf_s / 3600, human_duration(r.job_mtbf_s));
  out += fmt::format("  checkpoint every {} (Daly; Young {}), checkpoint {}, restart {}\n",
                     human_duration(r.daly_interval_s), human_duration(r.young_interval_s),
                     human_duration(o.checkpoint_s), human_duration(o.restart_s));
  out += fmt::format("  expected wall-clock {} for {} of work (+{:.1f}%), {:.2f} failures expected\n",
                     human_duration(r.wall_clock_s), human_duration(r.solve_s), 100 * r.overhead_fraction,
                     r.expected_failures);
  out += fmt::format("  P(no failure during the run) = {:.4f}; with {} spare devices, P(no wait for a repair) = {:.4f}\n",
                     r.p_no_failure, r.spares, r.p_spares_suffice);
  return out;
}

}  // namespace

std::string format_prediction(const Prediction& p, size_t top_layers) {
  return totals(p) + top_layers_table(p, top_layers) + estimates(p, top_layers) + speedup_section(p) + flop_rule_section(p) +
         scaling_section(p) + reliability_section(p);
}

}  // namespace trainrate
