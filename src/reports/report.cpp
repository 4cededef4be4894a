#include "reports/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "reports/google_benchmark.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"
#include "results/results_json.hpp"

namespace trainrate::reports {

namespace {

constexpr size_t kFindingsPerList = 3;  // wins and losses named in "what this means"
constexpr size_t kReasonsPerStatus = 4;  // not-measured results named per status

std::vector<DeviceSection> build_sections(const ReportSource& source) {
  const ResultsFile& file = source.file;
  std::vector<DeviceSection> sections;
  // Devices in the file's order, then any device only the results mention.
  std::vector<DeviceInfo> devices = file.devices;
  for (const Result& r : file.results) {
    if (std::none_of(devices.begin(), devices.end(), [&](const DeviceInfo& d) { return d.id == r.device; })) {
      devices.push_back(DeviceInfo{r.device, r.device_kind, r.device, {}, {}});
    }
  }
  const std::vector<RatioRow> ratios = custom_vendor_ratios(file);
  for (const DeviceInfo& device : devices) {
    DeviceSection section{source.path, file.host, file.suite, file.created_utc, device, {}, {}, {}};
    std::set<std::string> vendor, custom, paired;
    for (const Result& r : file.results) {
      if (r.device != device.id) continue;
      (r.role == "custom" ? custom : vendor).insert(r.backend);
      auto row = std::find_if(section.rows.begin(), section.rows.end(),
                              [&](const ShapeRow& existing) { return existing.problem == r.problem; });
      if (row == section.rows.end()) {
        const double bytes = min_bytes(r.problem);
        section.rows.push_back(ShapeRow{r.problem, describe(r.problem), kind_label(r.problem),
                                        bytes > 0 ? flops(r.problem) / bytes : 0, {}, {}});
        row = section.rows.end() - 1;
      }
      // A later result for the same problem and backend (a re-run appended to the file) wins.
      row->by_backend.insert_or_assign(r.backend, r);
    }
    if (section.rows.empty()) continue;
    for (const RatioRow& ratio : ratios) {
      // A shape's ratio is against the fastest vendor measured on it (RatioRow::best_vendor).
      if (ratio.device != device.id || !ratio.best_vendor) continue;
      for (ShapeRow& row : section.rows) {
        if (row.problem == ratio.problem) {
          // Keep one pair per custom backend (the last, matching the re-run rule above).
          std::erase_if(row.ratios, [&](const RatioRow& r) { return r.custom_backend == ratio.custom_backend; });
          row.ratios.push_back(ratio);
          paired.insert(ratio.custom_backend);
        }
      }
    }
    section.backends.assign(vendor.begin(), vendor.end());
    for (const auto& backend : custom) {
      if (!vendor.contains(backend)) section.backends.push_back(backend);
    }
    section.custom_backends.assign(paired.begin(), paired.end());
    sections.push_back(std::move(section));
  }
  return sections;
}

std::vector<GeomeanRow> build_geomeans(const std::vector<DeviceSection>& sections) {
  std::vector<GeomeanRow> rows;
  for (const DeviceSection& section : sections) {
    // Key: kind, custom backend, vendor backend, in sorted order for a stable table.
    std::map<std::tuple<std::string, std::string, std::string>, std::vector<double>> groups;
    for (const ShapeRow& row : section.rows) {
      for (const RatioRow& ratio : row.ratios) {
        groups[{row.kind, ratio.custom_backend, ratio.vendor_backend}].push_back(ratio.ratio);
      }
    }
    for (const auto& [key, values] : groups) {
      const auto& [kind, custom, vendor] = key;
      rows.push_back(GeomeanRow{section.suite, section.host, section.device.id, kind, custom, vendor,
                                int64_t(values.size()), geomean(values),
                                *std::min_element(values.begin(), values.end()),
                                *std::max_element(values.begin(), values.end())});
    }
  }
  return rows;
}

std::string list_pairs(const std::vector<std::pair<const ShapeRow*, const RatioRow*>>& pairs) {
  std::vector<std::string> items;
  for (const auto& [row, ratio] : pairs) {
    items.push_back(fmt::format("{} at {} of {} on {}", ratio->custom_backend, format_ratio(ratio->ratio),
                                ratio->vendor_backend, row->name));
  }
  return fmt::format("{}", fmt::join(items, "; "));
}

// Rows timed while other jobs ran measure those jobs too: said before anything read from them.
std::vector<std::string> busy_machine_findings(const Report& report) {
  std::vector<std::string> findings;
  for (const ReportSource& source : report.sources) {
    const auto& options = source.file.options;
    const auto why = options.find(kMachineBusyOption), rows = options.find(kBusyRowsOption);
    if (why == options.end() && rows == options.end()) continue;
    std::vector<std::string> details;
    if (why != options.end()) details.push_back(why->second);
    if (rows != options.end()) details.push_back(rows->second + " rows marked busy");
    findings.push_back(fmt::format("{} was measured on a busy machine ({}): its rates and ratios are not "
                                   "trustworthy; rerun on an idle machine.",
                                   source.path, fmt::join(details, "; ")));
  }
  return findings;
}

namespace {

using RatioPairs = std::vector<std::pair<const ShapeRow*, const RatioRow*>>;

// Overall standing per device and custom backend; collects every ratio for the wins and losses.
void add_standing(const Report& report, std::vector<std::string>& findings, RatioPairs& all) {
  for (const DeviceSection& section : report.sections) {
    std::map<std::string, std::vector<double>> by_custom;
    for (const ShapeRow& row : section.rows) {
      for (const RatioRow& ratio : row.ratios) {
        by_custom[ratio.custom_backend].push_back(ratio.ratio);
        all.emplace_back(&row, &ratio);
      }
    }
    for (const auto& [custom, values] : by_custom) {
      const auto faster = std::count_if(values.begin(), values.end(), [](double v) { return v >= 1; });
      findings.push_back(fmt::format(
          "On {}, {} reaches a geometric mean of {} of the vendor's rate over {} shape{}: faster on {}, slower on {}.",
          section_title(section), custom, format_ratio(geomean(values)), values.size(), values.size() == 1 ? "" : "s",
          faster, int64_t(values.size()) - faster));
    }
  }
}

// Largest wins and losses across the whole report; ties broken by name so the text is stable.
void add_wins_and_losses(RatioPairs all, std::vector<std::string>& findings) {
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    if (a.second->ratio != b.second->ratio) return a.second->ratio > b.second->ratio;
    return std::tie(a.first->name, a.second->custom_backend) < std::tie(b.first->name, b.second->custom_backend);
  });
  RatioPairs wins, losses;
  for (const auto& pair : all) {
    if (pair.second->ratio > 1 && wins.size() < kFindingsPerList) wins.push_back(pair);
  }
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->second->ratio < 1 && losses.size() < kFindingsPerList) losses.push_back(*it);
  }
  if (!wins.empty()) findings.push_back("Largest wins: " + list_pairs(wins) + ".");
  if (!losses.empty()) findings.push_back("Largest losses: " + list_pairs(losses) + ".");
}

// Best utilisation per backend: how close each gets to the device's peak.
void add_best_peaks(const Report& report, std::vector<std::string>& findings) {
  for (const DeviceSection& section : report.sections) {
    std::vector<std::string> items;
    for (const std::string& backend : section.backends) {
      const Result* best = nullptr;
      for (const ShapeRow& row : section.rows) {
        const auto it = row.by_backend.find(backend);
        if (it != row.by_backend.end() && it->second.status == ResultStatus::ok && it->second.percent_of_peak &&
            (!best || *it->second.percent_of_peak > *best->percent_of_peak)) {
          best = &it->second;
        }
      }
      if (!best) continue;
      items.push_back(fmt::format("{} {}{}", backend, format_percent(*best->percent_of_peak),
                                  above_peak(*best) ? " (above peak: " + above_peak_reason(*best) + ")" : ""));
    }
    if (!items.empty()) {
      findings.push_back(fmt::format("Best % of peak on {}: {}.", section_title(section), fmt::join(items, ", ")));
    }
  }
}

// Results without a rate, and why.
void add_not_measured(const Report& report, std::vector<std::string>& findings) {
  for (const ResultStatus status : {ResultStatus::invalid, ResultStatus::failed, ResultStatus::skipped}) {
    std::vector<std::string> items;
    int64_t count = 0;
    for (const NotMeasured& entry : report.not_measured) {
      if (entry.result.status != status) continue;
      ++count;
      if (items.size() < kReasonsPerStatus) {
        items.push_back(fmt::format("{} on {} ({})", entry.result.backend, describe(entry.result.problem),
                                    entry.result.reason.empty() ? "no reason recorded" : entry.result.reason));
      }
    }
    if (count == 0) continue;
    const char* meaning = status == ResultStatus::invalid ? "output disagreed with the reference, so no rate is used"
                          : status == ResultStatus::failed ? "an error stopped the run"
                                                           : "the backend cannot run the problem";
    std::string sentence = fmt::format("{} result{} {} ({}): {}", count, count == 1 ? "" : "s", to_string(status),
                                       meaning, fmt::join(items, "; "));
    if (count > int64_t(items.size())) sentence += fmt::format("; and {} more", count - int64_t(items.size()));
    findings.push_back(sentence + ".");
  }
  if (report.not_measured.empty()) findings.push_back("Every result is verified and timed: none INVALID, skipped or FAILED.");
}

// Interrupted files, and the predicted training times.
void add_incomplete_and_predictions(const Report& report, std::vector<std::string>& findings) {
  for (const ReportSource& source : report.sources) {
    if (!source.file.complete) {
      findings.push_back(fmt::format("{} is marked incomplete (the run was interrupted or is still going): it "
                                     "covers only the problems that finished.", source.path));
    }
  }
  for (const NetworkPrediction& p : report.predictions) {
    if (!p.ratio || !p.time_reduction) continue;
    findings.push_back(fmt::format(
        "{}: predicted training time with {} instead of {}: time reduction {} (speed-up ratio {}){}.", p.network,
        p.new_backend.empty() ? "custom" : p.new_backend, p.old_backend.empty() ? "vendor" : p.old_backend,
        format_percent(100 * *p.time_reduction), format_ratio(*p.ratio),
        *p.ratio < 1 ? ", i.e. slower than the vendor" : ""));
  }
}

}  // namespace

std::vector<std::string> build_findings(const Report& report) {
  std::vector<std::string> findings = busy_machine_findings(report);
  RatioPairs all;
  add_standing(report, findings, all);
  if (all.empty()) {
    findings.push_back("No custom result has an ok vendor counterpart on the same problem and device, so no "
                       "custom/vendor ratio can be given.");
  }
  add_wins_and_losses(std::move(all), findings);
  add_best_peaks(report, findings);
  add_not_measured(report, findings);
  add_incomplete_and_predictions(report, findings);
  return findings;
}

}  // namespace

std::string section_title(const DeviceSection& section) {
  std::string title = section.device.name.empty() || section.device.name == section.device.id
                          ? section.device.id
                          : fmt::format("{} ({})", section.device.name, section.device.id);
  if (!section.host.empty()) title += " on " + section.host;
  return title;
}

std::string section_heading(const DeviceSection& section) {
  std::string heading = section_title(section) + ", " + section.source;
  if (!section.created_utc.empty()) heading += " (run " + section.created_utc + ")";
  return heading;
}

std::vector<std::pair<std::string, std::string>> environment_of(const ReportSource& source) {
  const ResultsFile& f = source.file;
  std::vector<std::pair<std::string, std::string>> lines{
      {"file", source.path},         {"host", f.host},
      {"created (UTC)", f.created_utc}, {"tool version", f.tool_version},
      {"suite", f.suite},            {"complete", f.complete ? "yes" : "no (interrupted or in progress)"}};
  for (const auto& [key, value] : f.build) lines.emplace_back("build: " + key, value);
  for (const auto& [key, value] : f.system) lines.emplace_back("system: " + key, value);
  for (const auto& [key, value] : f.libraries) lines.emplace_back("library: " + key, value);
  for (const auto& [key, value] : f.options) lines.emplace_back("option: " + key, value);
  for (const DeviceInfo& d : f.devices) {
    const std::string prefix = "device " + d.id;
    lines.emplace_back(prefix, fmt::format("{} ({})", d.name, d.kind));
    for (const auto& [key, value] : d.properties) lines.emplace_back(prefix + ": " + key, value);
    for (const auto& [dtype, rate] : d.peaks.datasheet_flops_per_s) {
      lines.emplace_back(fmt::format("{}: peak {} (datasheet)", prefix, to_string(dtype)), format_rate(rate));
    }
    for (const auto& [dtype, rate] : d.peaks.measured_flops_per_s) {
      lines.emplace_back(fmt::format("{}: peak {} (measured)", prefix, to_string(dtype)), format_rate(rate));
    }
    if (d.peaks.datasheet_bytes_per_s) {
      lines.emplace_back(prefix + ": memory bandwidth (datasheet)", fmt::format("{:.1f} GB/s", *d.peaks.datasheet_bytes_per_s / 1e9));
    }
    if (d.peaks.measured_bytes_per_s) {
      lines.emplace_back(prefix + ": memory bandwidth (measured)", fmt::format("{:.1f} GB/s", *d.peaks.measured_bytes_per_s / 1e9));
    }
  }
  std::erase_if(lines, [](const auto& line) { return line.second.empty(); });
  return lines;
}

std::string rate_cell(const ShapeRow& row, const std::string& backend) {
  const auto it = row.by_backend.find(backend);
  if (it == row.by_backend.end()) return "-";
  const Result& r = it->second;
  if (r.status != ResultStatus::ok) return std::string(to_string(r.status));
  if (r.percent_of_peak) {
    return fmt::format("{} ({}{})", format_work_rate(r.problem, work_rate_per_s(r)), format_percent(*r.percent_of_peak),
                       above_peak(r) ? "*" : "");
  }
  return format_work_rate(r.problem, work_rate_per_s(r));
}

std::vector<std::string> above_peak_lines(const DeviceSection& section) {
  std::vector<std::string> lines;
  for (const ShapeRow& row : section.rows) {
    for (const std::string& backend : section.backends) {
      const auto it = row.by_backend.find(backend);
      if (it == row.by_backend.end() || !above_peak(it->second)) continue;
      lines.push_back(fmt::format("{} on {} ({}): {}.", row.name, backend, format_percent(*it->second.percent_of_peak),
                                  above_peak_reason(it->second)));
    }
  }
  return lines;
}

std::string batch_cell(const NetworkPrediction& p) { return p.batch ? std::to_string(*p.batch) : "-"; }

std::string input_cell(const NetworkPrediction& p) {
  if (p.image_size) return fmt::format("{0}x{0}", *p.image_size);
  if (p.seq_len) return fmt::format("seq {}", *p.seq_len);
  return "-";
}

std::string ratio_cell(const ShapeRow& row, const std::string& custom_backend) {
  for (const RatioRow& ratio : row.ratios) {
    if (ratio.custom_backend == custom_backend) return format_ratio(ratio.ratio);
  }
  return "-";
}

std::string vendor_label(const DeviceSection& section, const std::string& custom_backend) {
  std::set<std::string> vendors;
  for (const ShapeRow& row : section.rows) {
    for (const RatioRow& ratio : row.ratios) {
      if (ratio.custom_backend == custom_backend) vendors.insert(ratio.vendor_backend);
    }
  }
  if (vendors.size() == 1) return *vendors.begin();
  return fmt::format("vendor ({})", fmt::join(vendors, ", "));
}

Report build_report(ReportInput input) {
  Report report;
  report.sources = std::move(input.sources);
  report.predictions = std::move(input.predictions);
  report.run_comparison = std::move(input.run_comparison);
  for (const ReportSource& source : report.sources) {
    for (DeviceSection& section : build_sections(source)) report.sections.push_back(std::move(section));
  }
  for (const DeviceSection& section : report.sections) {
    for (const ShapeRow& row : section.rows) {
      for (const auto& [backend, result] : row.by_backend) {
        if (result.status != ResultStatus::ok) report.not_measured.push_back({section_title(section), result});
      }
    }
  }
  report.geomeans = build_geomeans(report.sections);
  report.findings = build_findings(report);
  return report;
}

void write_report(const Report& report, const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  write_file_atomically(directory / "report.md", render_markdown(report));
  write_file_atomically(directory / "report.html", render_html(report));
  write_file_atomically(directory / "results.csv", render_csv(report));
  if (report.run_comparison) {
    write_file_atomically(directory / "comparison.csv", run_comparison_csv(*report.run_comparison));
  }
}

}  // namespace trainrate::reports
