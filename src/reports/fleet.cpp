#include "reports/fleet.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "problems/problem_json.hpp"
#include "reports/charts.hpp"
#include "reports/compare.hpp"
#include "reports/html_page.hpp"
#include "reports/table.hpp"
#include "reports/text.hpp"
#include "results/results_json.hpp"

namespace trainrate::reports {

namespace {

// 0.6745 is the 0.75 quantile of the standard normal: it makes the MAD of normal data comparable
// to a standard deviation (Iglewicz & Hoaglin, 1993).
constexpr double kMadToSigma = 0.6745;

std::string device_label(const FleetDevice& d) { return fmt::format("{} {}", d.host, d.device_id); }

void score_devices(FleetReport& fleet) {
  const FleetOptions& options = fleet.options;
  // Peer groups: devices of the same model.
  std::map<std::string, std::vector<size_t>> models;
  for (size_t d = 0; d < fleet.devices.size(); ++d) models[fleet.devices[d].device_name].push_back(d);

  std::vector<std::vector<double>> z_by_device(fleet.devices.size()), relative_by_device(fleet.devices.size());
  for (const auto& [model, members] : models) {
    for (size_t c = 0; c < fleet.columns.size(); ++c) {
      std::vector<size_t> measured;
      std::vector<double> rates;
      for (const size_t d : members) {
        const auto& cell = fleet.devices[d].cells[c];
        if (cell && cell->status == ResultStatus::ok && cell->rate > 0) {
          measured.push_back(d);
          rates.push_back(cell->rate);
        }
      }
      const std::vector<double> z = robust_z_scores(rates, options);
      if (z.empty()) continue;
      const double peer_median = median(rates);
      for (size_t i = 0; i < measured.size(); ++i) {
        FleetCell& cell = *fleet.devices[measured[i]].cells[c];
        cell.peer_median = peer_median;
        cell.z = z[i];
        z_by_device[measured[i]].push_back(z[i]);
        relative_by_device[measured[i]].push_back(cell.rate / peer_median);
      }
    }
    if (members.size() < options.min_peers) {
      fleet.notes.push_back(fmt::format(
          "{} device{} of model '{}': at least {} are needed to tell a slow one from its peers, so {} not scored.",
          members.size(), members.size() == 1 ? "" : "s", model, options.min_peers,
          members.size() == 1 ? "it is" : "they are"));
    }
  }
  for (size_t d = 0; d < fleet.devices.size(); ++d) {
    FleetDevice& device = fleet.devices[d];
    device.scored = int64_t(z_by_device[d].size());
    if (device.scored > 0) {
      device.score = median(z_by_device[d]);
      device.relative_rate = median(relative_by_device[d]);
      device.slow = *device.score < -options.threshold;
    }
    device.flagged = device.slow || device.errors > 0;
    std::vector<std::string> verdict;
    if (device.slow) verdict.push_back("SLOW");
    if (device.errors > 0) verdict.push_back("ERRORS");
    if (verdict.empty()) verdict.push_back(device.scored > 0 ? "ok" : "not scored (too few peers)");
    device.verdict = fmt::format("{}", fmt::join(verdict, ", "));
  }
}

std::string z_text(const std::optional<double>& z) { return z ? fmt::format("{:+.2f}", *z) : "-"; }

std::string cell_text(const FleetColumn& column, const std::optional<FleetCell>& cell) {
  if (!cell) return "-";
  if (cell->status != ResultStatus::ok) return std::string(to_string(cell->status));
  const std::string rate = format_work_rate(column.problem, cell->rate);
  return cell->z ? fmt::format("{} (z {})", rate, z_text(cell->z)) : rate;
}

// The settings of one file that must match across a fleet, as "section.key" → value.
std::map<std::string, std::string> settings_of(const ResultsFile& file) {
  std::map<std::string, std::string> settings{{"tool_version", file.tool_version}};
  using Section = std::pair<const char*, const std::map<std::string, std::string>*>;
  for (const Section& section :
       {Section{"build", &file.build}, {"libraries", &file.libraries}, {"options", &file.options}}) {
    for (const auto& [key, value] : *section.second) settings[fmt::format("{}.{}", section.first, key)] = value;
  }
  std::set<int> threads;
  for (const Result& r : file.results) {
    if (r.status != ResultStatus::skipped) threads.insert(r.threads);
  }
  settings["threads"] = fmt::format("{}", fmt::join(threads, ","));
  return settings;
}

// "'9.8.0' in 2 files (c.json, d.json)": at most three files named, so a large fleet stays readable.
std::string files_with_value(const std::string& value, const std::vector<std::string>& files) {
  constexpr size_t kNamed = 3;
  const std::vector<std::string> named(files.begin(), files.begin() + ptrdiff_t(std::min(files.size(), kNamed)));
  return fmt::format("{} in {} file{} ({}{})", value, files.size(), files.size() == 1 ? "" : "s", fmt::join(named, ", "),
                     files.size() > kNamed ? ", ..." : "");
}

std::vector<std::string> backends_of(const FleetReport& fleet) {
  std::vector<std::string> backends;
  for (const FleetColumn& column : fleet.columns) {
    if (std::find(backends.begin(), backends.end(), column.backend) == backends.end()) {
      backends.push_back(column.backend);
    }
  }
  return backends;
}

std::string summary_sentence(const FleetReport& fleet) {
  std::set<std::string> hosts;
  int64_t flagged = 0;
  for (const FleetDevice& d : fleet.devices) {
    hosts.insert(d.host);
    flagged += d.flagged ? 1 : 0;
  }
  return fmt::format("{} device{} on {} node{}, {} problem/backend pair{}; {} flagged (threshold: median z below "
                     "-{:g}, or INVALID/FAILED results).",
                     fleet.devices.size(), fleet.devices.size() == 1 ? "" : "s", hosts.size(),
                     hosts.size() == 1 ? "" : "s", fleet.columns.size(), fleet.columns.size() == 1 ? "" : "s",
                     flagged, fleet.options.threshold);
}

std::string method_sentence(const FleetOptions& options) {
  return fmt::format(
      "Method: for every problem and backend, each device's R is compared with the other devices of the same model: "
      "z = 0.6745·(R − median)/MAD, with the MAD taken as at least {:g}% of the median. A device's score is the "
      "median of its z over the problems; below -{:g} it is flagged SLOW. At least {} devices of a model are needed "
      "to score them. Relative R is the median of R / peer median.",
      100 * options.min_relative_spread, options.threshold, options.min_peers);
}

std::vector<std::string> summary_row(const FleetDevice& d) {
  return {d.host, d.device_id, d.device_name, d.verdict, std::to_string(d.scored), z_text(d.score),
          d.relative_rate ? format_ratio(*d.relative_rate) : "-", std::to_string(d.errors)};
}

const std::vector<std::string> kSummaryHeader{"node", "device", "model", "verdict", "problems scored", "median z",
                                              "relative R", "INVALID/FAILED"};
constexpr size_t kSummaryTextColumns = 4;

constexpr const char* kDifferencesMeaning =
    "These files were not all measured the same way: rates of devices run with different settings are compared "
    "here as if they were not, so a flagged device may only differ in its settings.";

// The columns of one backend, and the devices that ran at least one of them: a per-backend table.
struct BackendTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
BackendTable backend_table(const FleetReport& fleet, const std::string& backend) {
  BackendTable table{{"node", "device"}, {}};
  std::vector<size_t> columns;
  for (size_t c = 0; c < fleet.columns.size(); ++c) {
    if (fleet.columns[c].backend != backend) continue;
    table.header.push_back(fleet.columns[c].name);
    columns.push_back(c);
  }
  for (const FleetDevice& d : fleet.devices) {
    if (std::none_of(columns.begin(), columns.end(), [&](size_t c) { return d.cells[c].has_value(); })) continue;
    std::vector<std::string> cells{d.host, d.device_id};
    for (const size_t c : columns) cells.push_back(cell_text(fleet.columns[c], d.cells[c]));
    table.rows.push_back(std::move(cells));
  }
  return table;
}

}  // namespace

std::vector<double> robust_z_scores(const std::vector<double>& values, const FleetOptions& options) {
  if (values.size() < std::max<size_t>(options.min_peers, 1)) return {};
  const double center = median(values);
  std::vector<double> deviations;
  for (const double v : values) deviations.push_back(std::fabs(v - center));
  const double mad = std::max(median(deviations), options.min_relative_spread * std::fabs(center));
  std::vector<double> z;
  for (const double v : values) z.push_back(mad > 0 ? kMadToSigma * (v - center) / mad : 0.0);
  return z;
}

std::vector<std::string> setting_differences(const std::vector<FleetNode>& nodes) {
  std::vector<std::map<std::string, std::string>> settings;
  std::set<std::string> keys;
  for (const FleetNode& node : nodes) {
    settings.push_back(settings_of(node.file));
    for (const auto& [key, value] : settings.back()) keys.insert(key);
  }
  std::vector<std::string> lines;
  for (const std::string& key : keys) {
    std::map<std::string, std::vector<std::string>> files_by_value;
    for (size_t i = 0; i < nodes.size(); ++i) {
      const auto found = settings[i].find(key);
      files_by_value[found == settings[i].end() ? "(absent)" : "'" + found->second + "'"].push_back(nodes[i].path);
    }
    if (files_by_value.size() < 2) continue;
    std::vector<std::string> values;
    for (const auto& [value, files] : files_by_value) values.push_back(files_with_value(value, files));
    lines.push_back(fmt::format("{}: {}", key, fmt::join(values, "; ")));
  }
  return lines;
}

bool FleetReport::any_flagged() const {
  return std::any_of(devices.begin(), devices.end(), [](const FleetDevice& d) { return d.flagged; });
}

FleetReport build_fleet(const std::vector<FleetNode>& nodes, const FleetOptions& options) {
  if (nodes.empty()) throw InputError("merge: no results files given");
  FleetReport fleet;
  fleet.options = options;
  fleet.differences = setting_differences(nodes);
  std::map<std::string, std::string> seen;  // "host device" -> file
  for (const FleetNode& node : nodes) {
    const ResultsFile& file = node.file;
    std::vector<std::string> device_ids;
    for (const DeviceInfo& d : file.devices) device_ids.push_back(d.id);
    for (const Result& r : file.results) {
      if (std::find(device_ids.begin(), device_ids.end(), r.device) == device_ids.end()) device_ids.push_back(r.device);
    }
    if (!file.complete) {
      fleet.notes.push_back(fmt::format("{} is marked incomplete: only the problems it finished are compared.", node.path));
    }
    for (const std::string& id : device_ids) {
      const std::string key = file.host + " " + id;
      if (auto it = seen.find(key); it != seen.end()) {
        throw InputError(fmt::format("{}: device {} on host '{}' is already in {}; give each node/device once",
                                     node.path, id, file.host, it->second));
      }
      seen[key] = node.path;
      FleetDevice device;
      device.source = node.path;
      device.host = file.host;
      device.device_id = id;
      device.device_name = id;
      for (const DeviceInfo& d : file.devices) {
        if (d.id == id) device.device_name = d.name;
      }
      device.complete = file.complete;
      for (const Result& r : file.results) {
        if (r.device != id) continue;
        auto column = std::find_if(fleet.columns.begin(), fleet.columns.end(), [&](const FleetColumn& c) {
          return c.backend == r.backend && c.problem == r.problem;
        });
        if (column == fleet.columns.end()) {
          fleet.columns.push_back({r.backend, r.problem, describe(r.problem)});
          for (FleetDevice& other : fleet.devices) other.cells.emplace_back();
          column = fleet.columns.end() - 1;
        }
        device.cells.resize(fleet.columns.size());
        const size_t c = size_t(column - fleet.columns.begin());
        if (device.cells[c] && device.cells[c]->status != ResultStatus::ok) --device.errors;  // re-run replaces it
        device.cells[c] = FleetCell{r.status, work_rate_per_s(r), std::nullopt, std::nullopt, r.reason};
        if (r.status == ResultStatus::invalid || r.status == ResultStatus::failed) ++device.errors;
      }
      device.cells.resize(fleet.columns.size());
      fleet.devices.push_back(std::move(device));
    }
  }
  for (FleetDevice& device : fleet.devices) device.cells.resize(fleet.columns.size());
  // Sorted by node and device, so the report does not depend on the order of the files.
  std::stable_sort(fleet.devices.begin(), fleet.devices.end(), [](const FleetDevice& a, const FleetDevice& b) {
    return std::tie(a.host, a.device_id) < std::tie(b.host, b.device_id);
  });
  score_devices(fleet);
  for (const FleetDevice& d : fleet.devices) {
    if (d.errors == 0) continue;
    std::vector<std::string> items;
    for (size_t c = 0; c < fleet.columns.size(); ++c) {
      const auto& cell = d.cells[c];
      if (cell && (cell->status == ResultStatus::invalid || cell->status == ResultStatus::failed)) {
        items.push_back(fmt::format("{} {} {}{}", fleet.columns[c].backend, fleet.columns[c].name,
                                    to_string(cell->status), cell->reason.empty() ? "" : ": " + cell->reason));
      }
    }
    fleet.notes.push_back(fmt::format("{}: {}.", device_label(d), fmt::join(items, "; ")));
  }
  return fleet;
}

std::string render_fleet_markdown(const FleetReport& fleet) {
  std::string md = "# trainrate fleet report\n\n" + summary_sentence(fleet) + "\n\n" + method_sentence(fleet.options) +
                   "\n\n## Devices\n\n";
  md += markdown_row(kSummaryHeader) + markdown_rule(kSummaryHeader.size(), kSummaryTextColumns);
  for (const FleetDevice& d : fleet.devices) md += markdown_row(summary_row(d));
  for (const std::string& backend : backends_of(fleet)) {
    md += fmt::format("\n## R per problem: {}\n\nEach cell: R (z against the device's peers).\n\n", markdown_cell(backend));
    const BackendTable table = backend_table(fleet, backend);
    md += markdown_row(table.header) + markdown_rule(table.header.size(), 2);
    for (const auto& row : table.rows) md += markdown_row(row);
  }
  if (!fleet.differences.empty()) {
    md += "\n## Settings that differ between the files\n\n" + std::string(kDifferencesMeaning) + "\n\n";
    for (const std::string& line : fleet.differences) md += "- " + markdown_cell(line) + "\n";
  }
  md += "\n## Notes\n\n";
  if (fleet.notes.empty()) md += "None.\n";
  for (const std::string& note : fleet.notes) md += "- " + note + "\n";
  return md;
}

std::string render_fleet_csv(const FleetReport& fleet) {
  std::string csv = "host,device,device_name,source,backend,problem,pass,status,unit,rate_per_s,peer_median,z,"
                    "device_median_z,flagged,reason\n";
  for (const FleetDevice& d : fleet.devices) {
    for (size_t c = 0; c < fleet.columns.size(); ++c) {
      const auto& cell = d.cells[c];
      if (!cell) continue;
      const std::vector<std::string> fields{
          d.host, d.device_id, d.device_name, d.source, fleet.columns[c].backend, fleet.columns[c].name,
          kind_label(fleet.columns[c].problem), std::string(to_string(cell->status)),
          is_memory_bound(fleet.columns[c].problem) ? "bytes/s" : "FLOP/s",
          cell->status == ResultStatus::ok ? format_number(cell->rate) : "",
          cell->peer_median ? format_number(*cell->peer_median) : "", cell->z ? format_number(*cell->z) : "",
          d.score ? format_number(*d.score) : "", d.flagged ? "yes" : "no", cell->reason};
      csv += csv_line(fields);
    }
  }
  return csv;
}

std::string render_fleet_html(const FleetReport& fleet) {
  HtmlPage page("trainrate fleet report");
  page.paragraph(summary_sentence(fleet));
  page.paragraph(method_sentence(fleet.options));
  page.heading(2, "Devices");
  std::vector<std::vector<std::string>> rows;
  for (const FleetDevice& d : fleet.devices) {
    auto cells = summary_row(d);
    rows.push_back(std::move(cells));
  }
  page.table(kSummaryHeader, rows, kSummaryTextColumns, "");

  std::vector<std::string> labels;
  std::vector<double> relative;
  for (const FleetDevice& d : fleet.devices) {
    if (!d.relative_rate) continue;
    labels.push_back(fmt::format("{}{}", device_label(d), d.flagged ? " (flagged)" : ""));
    relative.push_back(*d.relative_rate);
  }
  if (!labels.empty()) {
    page.raw(figure(ratio_chart("Relative R per device (median of R / peer median)", labels, relative,
                                "R relative to the median of the same model (1.0 = typical; lower is slower)"),
                    "Each device's typical rate relative to its peers of the same model."));
  }
  for (const std::string& backend : backends_of(fleet)) {
    page.heading(2, "R per problem: " + backend);
    const BackendTable table = backend_table(fleet, backend);
    page.table(table.header, table.rows, 2, "");
  }
  if (!fleet.differences.empty()) {
    page.heading(2, "Settings that differ between the files");
    page.paragraph(kDifferencesMeaning);
    page.list(fleet.differences);
  }
  page.heading(2, "Notes");
  page.list(fleet.notes.empty() ? std::vector<std::string>{"None."} : fleet.notes);
  return page.finish();
}

void write_fleet(const FleetReport& fleet, const std::filesystem::path& directory) {
  std::filesystem::create_directories(directory);
  write_file_atomically(directory / "fleet.md", render_fleet_markdown(fleet));
  write_file_atomically(directory / "fleet.csv", render_fleet_csv(fleet));
  write_file_atomically(directory / "fleet.html", render_fleet_html(fleet));
}

}  // namespace trainrate::reports
