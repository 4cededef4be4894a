#include "reports/screen.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "problems/problem_json.hpp"
#include "reports/compare.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"

namespace trainrate::reports {

using nlohmann::json;

namespace {

std::string verdict_of(const ScreenDevice& d) { return d.accepted() ? "ACCEPT" : "REJECT"; }

std::string device_model_of(const ResultsFile& file, const std::string& device_id) {
  for (const DeviceInfo& d : file.devices) {
    if (d.id == device_id) return d.name;
  }
  return device_id;
}

std::vector<std::string> model_names(const Baseline& baseline) {
  std::vector<std::string> names;
  for (const BaselineModel& m : baseline.models) names.push_back("'" + m.device_model + "'");
  return names;
}

void add_groups(ScreenDevice& device) {
  std::map<std::pair<std::string, std::string>, std::vector<double>> ratios;
  for (const ScreenRow& row : device.rows) {
    if (row.ratio) ratios[{kind_label(row.identity.problem), row.identity.backend}].push_back(*row.ratio);
  }
  for (const auto& [group, values] : ratios) {
    device.groups.push_back({group.first, group.second, int64_t(values.size()), geomean(values)});
  }
}

void apply_rules(ScreenDevice& device, const ScreenOptions& options) {
  std::vector<std::string> errors;
  for (const ScreenRow& row : device.rows) {
    if (row.status != ResultStatus::invalid && row.status != ResultStatus::failed) continue;
    errors.push_back(fmt::format("{} {} {}{}", row.identity.backend, describe(row.identity.problem),
                                 to_string(row.status), row.reason.empty() ? "" : " (" + row.reason + ")"));
  }
  if (!errors.empty()) {
    device.fired.push_back(fmt::format("errors: {} INVALID/FAILED result{}: {}", errors.size(),
                                       errors.size() == 1 ? "" : "s", fmt::join(errors, "; ")));
  }
  for (const ScreenGroup& g : device.groups) {
    if (g.geomean_ratio >= options.kind_threshold) continue;
    device.fired.push_back(fmt::format("kind: {} on {}: geomean {:.3f} of the baseline over {} row{}, below {:g}",
                                       g.kind, g.backend, g.geomean_ratio, g.rows, g.rows == 1 ? "" : "s",
                                       options.kind_threshold));
  }
  for (const ScreenRow& row : device.rows) {
    if (!row.ratio || *row.ratio >= options.floor) continue;
    device.fired.push_back(fmt::format("floor: {} {}: {:.3f} of the baseline, below {:g}", row.identity.backend,
                                       describe(row.identity.problem), *row.ratio, options.floor));
  }
}

ScreenDevice screen_device(const ResultsFile& file, const std::string& source, const std::string& device_id,
                           const Baseline& baseline, const std::string& baseline_source, const ScreenOptions& options) {
  ScreenDevice device{file.host, device_id, device_model_of(file, device_id), {}, {}, {}, 0, 0};
  const BaselineModel* model = baseline.find(device.device_model);
  if (!model) {
    throw InputError(fmt::format("{}: device {} is a '{}', but {} is a baseline for {}", source, device_id,
                                 device.device_model, baseline_source, fmt::join(model_names(baseline), ", ")));
  }
  std::set<std::string> keys;
  int64_t in_common = 0;
  for (const Result& r : file.results) {
    if (r.device != device_id || r.status == ResultStatus::skipped) continue;
    ScreenRow row{identity_of(r), r.status, work_rate_per_s(r), std::nullopt, std::nullopt, r.reason};
    const std::string key = row_key(row.identity);
    keys.insert(key);
    if (const BaselineRow* base = model->find(key)) {
      ++in_common;
      row.baseline_per_s = base->median_per_s;
      if (r.status == ResultStatus::ok && row.rate_per_s > 0) row.ratio = row.rate_per_s / base->median_per_s;
    } else if (r.status == ResultStatus::ok) {
      ++device.not_in_baseline;
    }
    device.rows.push_back(std::move(row));
  }
  if (in_common == 0) {
    throw InputError(fmt::format("{}: device {} ('{}') has no result in common with {} (rows match on problem, "
                                 "backend, mode and threads: run the baseline's suite with its options)",
                                 source, device_id, device.device_model, baseline_source));
  }
  for (const BaselineRow& row : model->rows) device.baseline_rows_missing += keys.contains(row_key(row.identity)) ? 0 : 1;
  add_groups(device);
  apply_rules(device, options);
  return device;
}

std::string ratio_cell(const std::optional<double>& ratio) { return ratio ? fmt::format("{:.3f}", *ratio) : "-"; }

std::string coverage_sentence(const ScreenDevice& d) {
  int64_t compared = 0;
  for (const ScreenRow& row : d.rows) compared += row.ratio ? 1 : 0;
  return fmt::format("{} row{} compared; {} not in the baseline; {} baseline row{} not run", compared,
                     compared == 1 ? "" : "s", d.not_in_baseline, d.baseline_rows_missing,
                     d.baseline_rows_missing == 1 ? "" : "s");
}

std::string rule_sentence(const ScreenOptions& o) {
  return fmt::format("Rules: REJECT on any INVALID/FAILED result, a kind's geomean on a backend below {:g} of the "
                     "baseline, or any row below {:g}.",
                     o.kind_threshold, o.floor);
}

}  // namespace

bool ScreenReport::any_rejected() const {
  return std::any_of(devices.begin(), devices.end(), [](const ScreenDevice& d) { return !d.accepted(); });
}

ScreenReport screen_node(const ResultsFile& node, const std::string& source, const Baseline& baseline,
                         const std::string& baseline_source, const ScreenOptions& options) {
  ScreenReport report{options, source, baseline_source, {}};
  std::vector<std::string> device_ids;
  for (const Result& r : node.results) {
    if (r.status == ResultStatus::skipped) continue;
    if (std::find(device_ids.begin(), device_ids.end(), r.device) == device_ids.end()) device_ids.push_back(r.device);
  }
  if (device_ids.empty()) {
    throw InputError(fmt::format("{}: no result that ran (all skipped, or none): nothing to screen", source));
  }
  for (const std::string& id : device_ids) {
    report.devices.push_back(screen_device(node, source, id, baseline, baseline_source, options));
  }
  return report;
}

std::string render_screen_text(const ScreenReport& report) {
  std::string text;
  for (const ScreenDevice& d : report.devices) {
    text += fmt::format("{} {} {} ({}): {}\n", verdict_of(d), d.host, d.device_id, d.device_model, coverage_sentence(d));
    for (const ScreenGroup& g : d.groups) {
      text += fmt::format("  {:<20} {:<18} geomean {:.3f} of baseline over {} row{}\n", g.kind, g.backend,
                          g.geomean_ratio, g.rows, g.rows == 1 ? "" : "s");
    }
    for (const std::string& rule : d.fired) text += "  REJECT by " + rule + "\n";
  }
  return text;
}

std::string render_screen_markdown(const ScreenReport& report) {
  std::string md = fmt::format("# trainrate screen: {}\n\nAgainst the baseline {}. {}\n\n", report.source,
                               report.baseline_source, rule_sentence(report.options));
  const std::vector<std::string> header{"node", "device", "model", "verdict", "rules fired"};
  md += markdown_row(header) + markdown_rule(header.size(), header.size());
  for (const ScreenDevice& d : report.devices) {
    md += markdown_row({d.host, d.device_id, d.device_model, verdict_of(d),
                        d.fired.empty() ? "none" : fmt::format("{}", fmt::join(d.fired, "; "))});
  }
  for (const ScreenDevice& d : report.devices) {
    md += fmt::format("\n## {} {}: {}\n\n{}.\n\n", markdown_cell(d.host), markdown_cell(d.device_id), verdict_of(d),
                      coverage_sentence(d));
    const std::vector<std::string> groups{"kind", "backend", "rows", "geomean of baseline"};
    md += markdown_row(groups) + markdown_rule(groups.size(), 2);
    for (const ScreenGroup& g : d.groups) {
      md += markdown_row({g.kind, g.backend, std::to_string(g.rows), fmt::format("{:.3f}", g.geomean_ratio)});
    }
    const std::vector<std::string> rows{"problem", "backend", "status", "rate", "baseline", "ratio"};
    md += "\n";
    md += markdown_row(rows) + markdown_rule(rows.size(), 3);
    for (const ScreenRow& row : d.rows) {
      const Problem& p = row.identity.problem;
      md += markdown_row({describe(p), row.identity.backend, std::string(to_string(row.status)),
                          row.status == ResultStatus::ok ? format_work_rate(p, row.rate_per_s) : "-",
                          row.baseline_per_s ? format_work_rate(p, *row.baseline_per_s) : "-", ratio_cell(row.ratio)});
    }
  }
  return md;
}

std::string render_screen_csv(const ScreenReport& report) {
  std::string csv = "host,device,device_model,verdict,backend,problem,kind,mode,threads,status,unit,rate_per_s,"
                    "baseline_per_s,ratio\n";
  for (const ScreenDevice& d : report.devices) {
    for (const ScreenRow& row : d.rows) {
      const Problem& p = row.identity.problem;
      const std::vector<std::string> fields{
          d.host, d.device_id, d.device_model, verdict_of(d), row.identity.backend, describe(p), kind_label(p),
          row.identity.mode, std::to_string(row.identity.threads), std::string(to_string(row.status)),
          is_memory_bound(p) ? "bytes/s" : "FLOP/s", row.status == ResultStatus::ok ? format_number(row.rate_per_s) : "",
          row.baseline_per_s ? format_number(*row.baseline_per_s) : "", row.ratio ? format_number(*row.ratio) : ""};
      csv += csv_line(fields);
    }
  }
  return csv;
}

json screen_to_json(const ScreenReport& report) {
  json devices = json::array();
  for (const ScreenDevice& d : report.devices) {
    json groups = json::array(), rows = json::array();
    for (const ScreenGroup& g : d.groups) {
      groups.push_back({{"kind", g.kind}, {"backend", g.backend}, {"rows", g.rows}, {"geomean_ratio", g.geomean_ratio}});
    }
    for (const ScreenRow& row : d.rows) {
      rows.push_back({{"problem", to_json(row.identity.problem)},
                      {"name", describe(row.identity.problem)},
                      {"backend", row.identity.backend},
                      {"mode", row.identity.mode},
                      {"threads", row.identity.threads},
                      {"status", std::string(to_string(row.status))},
                      {"rate_per_s", row.rate_per_s},
                      {"baseline_per_s", row.baseline_per_s ? json(*row.baseline_per_s) : json(nullptr)},
                      {"ratio", row.ratio ? json(*row.ratio) : json(nullptr)}});
    }
    devices.push_back({{"host", d.host},
                       {"device", d.device_id},
                       {"device_model", d.device_model},
                       {"verdict", verdict_of(d)},
                       {"fired", d.fired},
                       {"not_in_baseline", d.not_in_baseline},
                       {"baseline_rows_missing", d.baseline_rows_missing},
                       {"groups", groups},
                       {"rows", rows}});
  }
  return json{{"schema", "trainrate-screen"},
              {"schema_version", 1},
              {"source", report.source},
              {"baseline", report.baseline_source},
              {"rules", {{"kind_threshold", report.options.kind_threshold}, {"floor", report.options.floor}}},
              {"devices", devices}};
}

}  // namespace trainrate::reports
