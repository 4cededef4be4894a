#include "reports/metrics.hpp"

#include <fmt/format.h>

#include <ctime>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include "problems/problem_json.hpp"
#include "reports/compare.hpp"

namespace trainrate::reports {

namespace {

struct FamilyInfo {
  const char* name;
  const char* help;
};

// Written in this order; a family with no series is left out.
constexpr FamilyInfo kFamilies[] = {
    {"trainrate_rate_flops_per_second", "Achieved rate R of a GEMM or convolution: FLOP over the median time."},
    {"trainrate_rate_bytes_per_second", "Achieved rate R of a memory-bound layer: its minimum bytes over the median time."},
    {"trainrate_median_seconds", "Median time of one run of the problem."},
    {"trainrate_peak_ratio",
     "Fraction of the device's peak reached (0-1): of FLOP/s, or of bandwidth for memory-bound layers."},
    {"trainrate_noise_ratio", "Relative noise of the timed samples: standard deviation over mean."},
    {"trainrate_result_ok", "1 when the result verified and was timed, 0 when it was INVALID or FAILED."},
    {"trainrate_custom_vendor_ratio", "Rate of the custom backend over the fastest vendor backend on the same problem."},
    {"trainrate_run_timestamp_seconds", "When the run started, as Unix time."},
    {"trainrate_screen_accepted", "Screen verdict against the fleet baseline: 1 ACCEPT, 0 REJECT."},
    {"trainrate_screen_geomean_ratio", "Geomean of rate over baseline median across a kind's rows on one backend."},
};

// A label value in the text format: backslash, double quote and line feed escaped.
std::string escape_label(std::string_view value) {
  std::string out;
  for (const char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

using Labels = std::vector<std::pair<const char*, std::string>>;

class Exposition {
 public:
  // A series set twice keeps the last value (a re-run row replaces the earlier one).
  void set(const char* family, const Labels& labels, double value) {
    std::string text;
    for (const auto& [name, label_value] : labels) {
      text += fmt::format("{}{}=\"{}\"", text.empty() ? "" : ",", name, escape_label(label_value));
    }
    series_[family][text] = value;
  }

  std::string text(MetricsFormat format) const {
    std::string out;
    for (const FamilyInfo& family : kFamilies) {
      const auto found = series_.find(family.name);
      if (found == series_.end()) continue;
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", family.name, family.help, family.name);
      // "{}" writes the shortest text that reads back as the same double, so no precision is lost.
      for (const auto& [labels, value] : found->second) out += fmt::format("{}{{{}}} {}\n", family.name, labels, value);
    }
    if (format == MetricsFormat::openmetrics) out += "# EOF\n";
    return out;
  }

 private:
  std::map<std::string, std::map<std::string, double>> series_;
};

std::string device_model(const ResultsFile& file, const std::string& device_id) {
  for (const DeviceInfo& d : file.devices) {
    if (d.id == device_id) return d.name;
  }
  return device_id;
}

Labels device_labels(const std::string& host, const std::string& device, const std::string& model) {
  return {{"host", host}, {"device", device}, {"device_model", model}};
}

Labels row_labels(const ResultsFile& file, const std::string& device, const std::string& backend, const Problem& problem) {
  Labels labels = device_labels(file.host, device, device_model(file, device));
  labels.insert(labels.end(), {{"backend", backend}, {"kind", kind_label(problem)}, {"problem", describe(problem)}});
  return labels;
}

// "2026-11-24T12:00:00Z" as Unix seconds; nothing when the text is not in that form.
std::optional<double> unix_seconds(const std::string& utc) {
  std::tm tm{};
  std::istringstream in(utc);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return std::nullopt;
  return double(timegm(&tm));
}

void add_result(Exposition& out, const ResultsFile& file, const Result& r) {
  const Labels labels = row_labels(file, r.device, r.backend, r.problem);
  out.set("trainrate_result_ok", labels, r.status == ResultStatus::ok ? 1 : 0);
  if (r.status != ResultStatus::ok || !r.measurement) return;
  out.set(is_memory_bound(r.problem) ? "trainrate_rate_bytes_per_second" : "trainrate_rate_flops_per_second", labels,
          work_rate_per_s(r));
  out.set("trainrate_median_seconds", labels, r.measurement->stats.median_ms / 1e3);
  out.set("trainrate_noise_ratio", labels, r.measurement->stats.relative_noise);
  if (r.percent_of_peak) out.set("trainrate_peak_ratio", labels, *r.percent_of_peak / 100);
}

void add_file(Exposition& out, const ResultsFile& file) {
  std::set<std::string> devices;
  for (const Result& r : file.results) {
    if (r.status == ResultStatus::skipped) continue;
    devices.insert(r.device);
    add_result(out, file, r);
  }
  for (const RatioRow& row : custom_vendor_ratios(file)) {
    if (!row.best_vendor) continue;
    out.set("trainrate_custom_vendor_ratio", row_labels(file, row.device, row.custom_backend, row.problem), row.ratio);
  }
  const std::optional<double> started = unix_seconds(file.created_utc);
  if (!started) return;
  for (const std::string& device : devices) {
    out.set("trainrate_run_timestamp_seconds", device_labels(file.host, device, device_model(file, device)), *started);
  }
}

void add_screen(Exposition& out, const ScreenReport& screen) {
  for (const ScreenDevice& d : screen.devices) {
    const Labels labels = device_labels(d.host, d.device_id, d.device_model);
    out.set("trainrate_screen_accepted", labels, d.accepted() ? 1 : 0);
    for (const ScreenGroup& g : d.groups) {
      Labels group = labels;
      group.insert(group.end(), {{"backend", g.backend}, {"kind", g.kind}});
      out.set("trainrate_screen_geomean_ratio", group, g.geomean_ratio);
    }
  }
}

}  // namespace

std::string render_metrics(const std::vector<FleetNode>& files, const ScreenReport* screen, MetricsFormat format) {
  Exposition out;
  std::map<std::string, std::string> seen;  // "host device" -> file
  for (const FleetNode& node : files) {
    std::set<std::string> devices;
    for (const Result& r : node.file.results) devices.insert(node.file.host + " " + r.device);
    for (const std::string& device : devices) {
      const auto [it, inserted] = seen.emplace(device, node.path);
      if (!inserted) {
        throw InputError(fmt::format("{}: '{}' is also in {}; their metrics would be the same series", node.path,
                                     device, it->second));
      }
    }
    add_file(out, node.file);
  }
  if (screen) add_screen(out, *screen);
  return out.text(format);
}

}  // namespace trainrate::reports
