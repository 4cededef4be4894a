#include "reports/google_benchmark.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "devices/cpu_device.hpp"
#include "problems/problem_json.hpp"
#include "results/results_json.hpp"
#include "results/statistics.hpp"

namespace trainrate::reports {

using nlohmann::json;

namespace {

// One benchmark row of the file, reduced to what a Result needs.
struct Row {
  std::string name;
  Result labelled;  // problem and backend facts from the label
  std::string suite;
  bool aggregate = false;
  std::string aggregate_name;
  double time_ms = 0;
  std::optional<double> flops, rate, pct_peak, samples, noise;
  bool busy = false;  // trainrate-bench's mark: timed on a busy machine
  std::string error;  // empty when the benchmark ran
  bool error_occurred = false;
};

double to_milliseconds(double value, const std::string& unit, const std::string& where) {
  if (unit == "ns") return value * 1e-6;
  if (unit == "us") return value * 1e-3;
  if (unit == "ms") return value;
  if (unit == "s") return value * 1e3;
  throw InputError(fmt::format("{}: unknown time_unit '{}'", where, unit));
}

bool is_benchmark_suffix(const std::string& segment) {
  static const char* const kPrefixes[] = {"repeats:", "iterations:", "min_time:", "min_warmup_time:", "threads:"};
  if (segment == "manual_time" || segment == "real_time" || segment == "process_time") return true;
  return std::any_of(std::begin(kPrefixes), std::end(kPrefixes),
                     [&](const char* prefix) { return segment.starts_with(prefix); });
}

std::vector<std::string> name_segments(const std::string& name) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (true) {
    const size_t slash = name.find('/', start);
    segments.push_back(name.substr(start, slash - start));
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  while (!segments.empty() && is_benchmark_suffix(segments.back())) segments.pop_back();
  return segments;
}

std::optional<double> counter(const json& row, const char* name) {
  if (!row.contains(name) || !row.at(name).is_number()) return std::nullopt;
  return row.at(name).get<double>();
}

Row parse_row(const json& row, const std::string& where) {
  Row r;
  r.name = row.value("run_name", row.value("name", ""));
  if (r.name.empty()) throw InputError(fmt::format("{}: benchmark without a name", where));
  const std::string label = row.value("label", "");
  json label_json;
  try {
    label_json = json::parse(label);
  } catch (const json::exception&) {
    throw InputError(fmt::format("{} '{}': label is not a trainrate-bench label (got '{}')", where, r.name, label));
  }
  r.labelled = result_from_benchmark_label(label_json, fmt::format("{} '{}' label", where, r.name));

  // [suite/]backend/problem: whatever stands before the backend's name is the suite.
  const auto segments = name_segments(r.name);
  const std::string name = fmt::format("{}", fmt::join(segments, "/"));
  const size_t at = name.find(r.labelled.backend + "/" + describe(r.labelled.problem));
  if (at == std::string::npos) {
    throw InputError(fmt::format("{} '{}': name is not [suite/]backend/problem for its label", where, r.name));
  }
  if (at > 0) r.suite = name.substr(0, at - 1);

  r.aggregate = row.value("run_type", "iteration") == "aggregate";
  r.aggregate_name = row.value("aggregate_name", "");
  if (row.contains("real_time") && row.at("real_time").is_number()) {
    r.time_ms = to_milliseconds(row.at("real_time").get<double>(), row.value("time_unit", "ns"), where);
  }
  r.flops = counter(row, "flops");
  r.rate = counter(row, "FLOP/s");
  r.pct_peak = counter(row, "pct_peak");
  if (r.pct_peak && *r.pct_peak <= 0) r.pct_peak.reset();  // 0 is how the bench says "peak unknown"
  r.samples = counter(row, "samples");
  r.noise = counter(row, "noise");
  r.busy = counter(row, "busy").value_or(0) > 0;
  r.error_occurred = row.value("error_occurred", false);
  r.error = row.value("error_message", "");
  if (r.error_occurred && r.error.empty()) r.error = "error reported by the benchmark without a message";
  return r;
}

ResultStatus status_for(const Row& row) {
  if (row.error.empty()) return ResultStatus::ok;
  if (row.error.starts_with("INVALID") || row.error.starts_with("invalid")) return ResultStatus::invalid;
  if (row.error.starts_with("skipped") || row.error.starts_with("SKIPPED") || !row.error_occurred) {
    return ResultStatus::skipped;
  }
  return ResultStatus::failed;
}

double median_of(std::vector<double> values) { return summarize(std::move(values)).median_ms; }

// Folds the rows of one benchmark (repetitions and aggregates) into a Result.
Result make_result(const std::vector<Row>& rows) {
  std::vector<const Row*> iterations;
  const Row* median_aggregate = nullptr;
  for (const auto& row : rows) {
    if (!row.aggregate) iterations.push_back(&row);
    if (row.aggregate && row.aggregate_name == "median") median_aggregate = &row;
  }
  // Only aggregates kept (--benchmark_report_aggregates_only) and no median among them: use the mean.
  for (const auto& row : rows) {
    if (!median_aggregate && iterations.empty() && row.aggregate && row.aggregate_name == "mean") median_aggregate = &row;
  }
  const Row& first = rows.front();
  Result result = first.labelled;
  result.flops = first.flops.value_or(flops(result.problem));
  for (const auto& row : rows) {
    if (!row.error.empty()) {
      result.status = status_for(row);
      result.reason = row.error;
      return result;
    }
  }
  std::vector<double> times;
  for (const Row* row : iterations) times.push_back(row->time_ms);
  Measurement m;
  m.stats = summarize(times);
  if (median_aggregate) m.stats.median_ms = median_aggregate->time_ms;
  // One Google Benchmark iteration that ran trainrate's own measurement loop reports that loop's
  // sample count and noise as counters: those describe the measurement better than one "sample".
  if (iterations.size() == 1 && iterations.front()->samples && iterations.front()->noise) {
    m.stats.samples = int64_t(*iterations.front()->samples);
    m.stats.relative_noise = *iterations.front()->noise;
    m.stats.stddev_ms = m.stats.relative_noise * m.stats.mean_ms;
  }
  m.stop_reason = "google-benchmark";
  result.measurement = m;

  std::vector<double> rates, percents;
  for (const Row* row : iterations) {
    if (row->rate) rates.push_back(*row->rate);
    if (row->pct_peak) percents.push_back(*row->pct_peak);
  }
  if (median_aggregate && median_aggregate->rate) {
    result.rate_flops_per_s = *median_aggregate->rate;
  } else if (!rates.empty()) {
    result.rate_flops_per_s = median_of(rates);
  } else if (m.stats.median_ms > 0) {
    result.rate_flops_per_s = result.flops / (m.stats.median_ms * 1e-3);
  }
  if (median_aggregate && median_aggregate->pct_peak) {
    result.percent_of_peak = median_aggregate->pct_peak;
  } else if (!percents.empty()) {
    result.percent_of_peak = median_of(percents);
  }
  result.bytes = min_bytes(result.problem);
  if (m.stats.median_ms > 0) result.rate_bytes_per_s = result.bytes / (m.stats.median_ms * 1e-3);
  // The bench's % of peak is of the bandwidth for memory-bound problems, of FLOP/s otherwise.
  if (result.percent_of_peak && *result.percent_of_peak > 0) {
    const double peak = work_rate_per_s(result) * 100 / *result.percent_of_peak;
    (rated_in_bytes(result.problem) ? result.peak_bytes_per_s : result.peak_flops_per_s) = peak;
  }
  return result;
}

// The bench's own busy marks. Files from a trainrate-bench without them are judged by Google
// Benchmark's load average against its CPU count (the same rule: busy above cores less one); a
// bench that checks for itself is not second-guessed, since by the time Google Benchmark reads the
// load the bench's own ceiling measurement has added to it.
void note_busy_machine(const json& context, const std::vector<std::string>& order,
                       const std::map<std::string, std::vector<Row>>& groups, ResultsFile& file) {
  const json load = context.value("load_avg", json::array());
  const json cpus_json = context.value("num_cpus", json(0));
  const int cpus = cpus_json.is_number_integer() ? cpus_json.get<int>() : 0;
  if (!context.contains("trainrate_threads") && load.is_array() && !load.empty() && load.at(0).is_number() &&
      cpus > 0 && host_is_busy(load.at(0).get<double>(), cpus)) {
    file.options[kMachineBusyOption] = fmt::format("load average {:.2f} on {} cores at start", load.at(0).get<double>(), cpus);
  }
  const auto busy = std::count_if(order.begin(), order.end(), [&](const std::string& key) {
    const auto& rows = groups.at(key);
    return std::any_of(rows.begin(), rows.end(), [](const Row& row) { return row.busy; });
  });
  if (busy > 0) file.options[kBusyRowsOption] = fmt::format("{} of {}", busy, order.size());
}

// The file-level facts Google Benchmark's context carries: host, date, libraries and options.
void read_context(const json& context, ResultsFile& file) {
  file.tool_version = context.value("trainrate_version", "trainrate-bench");
  file.created_utc = context.value("date", "");
  file.host = context.value("host_name", "");
  file.complete = true;
  file.build["google benchmark build"] = context.value("library_build_type", "");
  if (context.contains("library_version")) file.libraries["google benchmark"] = context.value("library_version", "");
  file.options["source"] = "Google Benchmark JSON";
  for (const auto& [key, value] : context.items()) {
    if (!value.is_string() || key == "date" || key == "host_name" || key == "library_build_type" ||
        key == "library_version") {
      continue;
    }
    // Custom context (benchmark::AddCustomContext): versions are libraries, the rest options.
    if (key.find("version") != std::string::npos) {
      file.libraries[key] = value.get<std::string>();
    } else {
      file.options[key] = value.get<std::string>();
    }
  }
}

// Rows grouped by benchmark, in the order the file lists them; rows that failed before their label
// was set are counted in the file's options.
struct BenchmarkGroups {
  std::vector<std::string> order;
  std::map<std::string, std::vector<Row>> groups;
};

BenchmarkGroups group_rows(const json& benchmarks, const std::string& where, ResultsFile& file) {
  BenchmarkGroups grouped;
  auto& [order, groups] = grouped;
  int64_t unlabelled_errors = 0;
  std::string first_unlabelled;
  for (size_t i = 0; i < benchmarks.size(); ++i) {
    const std::string at = fmt::format("{}: benchmarks[{}]", where, i);
    const json& entry = benchmarks.at(i);
    // A benchmark that failed before setting its label cannot say which problem it was: count it.
    if (entry.is_object() && entry.value("error_occurred", false) && entry.value("label", "").empty()) {
      ++unlabelled_errors;
      if (first_unlabelled.empty()) first_unlabelled = entry.value("name", "?") + ": " + entry.value("error_message", "");
      continue;
    }
    Row row;
    try {
      row = parse_row(entry, at);
    } catch (const json::exception& e) {
      throw InputError(fmt::format("{}: {}", at, e.what()));
    }
    const std::string key = row.labelled.backend + "\x1f" + describe(row.labelled.problem);
    if (!groups.contains(key)) order.push_back(key);
    if (file.suite.empty()) file.suite = row.suite;
    groups[key].push_back(std::move(row));
  }
  if (unlabelled_errors > 0) {
    file.options["benchmarks failed without a problem label"] =
        fmt::format("{} (first: {})", unlabelled_errors, first_unlabelled);
  }
  return grouped;
}

// The device a result names, described from the context the first time it is seen; its peak for
// the result's dtype is derived from the pct_peak counter.
void note_device(const json& context, const Result& result, std::map<std::string, DeviceInfo>& devices) {
  DeviceInfo& device = devices[result.device];
  if (device.id.empty()) {
    device.id = result.device;
    device.kind = result.device_kind;
    device.name = context.value(device.kind == "cpu" ? "cpu_name" : "gpu_name",
                                device.kind == "cpu" ? "CPU" : "CUDA device");
    if (device.kind == "cpu") {
      if (context.contains("num_cpus")) device.properties["cpus"] = json_excerpt(context.at("num_cpus"));
      if (context.contains("mhz_per_cpu")) device.properties["MHz per CPU"] = json_excerpt(context.at("mhz_per_cpu"));
    }
    device.properties["peak source"] = "derived from the pct_peak counter";
  }
  const Dtype dtype = dtype_of(result.problem);
  if (result.peak_flops_per_s) {
    auto& peaks = device.kind == "cpu" ? device.peaks.measured_flops_per_s : device.peaks.datasheet_flops_per_s;
    peaks.emplace(dtype, *result.peak_flops_per_s);
  }
}

}  // namespace

bool is_google_benchmark_json(const json& document) {
  return document.is_object() && document.contains("benchmarks") && document.contains("context") &&
         document.at("benchmarks").is_array() && document.at("context").is_object();
}

ResultsFile results_from_google_benchmark(const json& document, const std::string& where) {
  if (!is_google_benchmark_json(document)) {
    throw InputError(fmt::format("{}: not a Google Benchmark JSON file (needs \"context\" and \"benchmarks\")", where));
  }
  const json& context = document.at("context");
  ResultsFile file;
  read_context(context, file);
  auto [order, groups] = group_rows(document.at("benchmarks"), where, file);
  if (context.contains("trainrate_suite")) file.suite = context.value("trainrate_suite", "");
  note_busy_machine(context, order, groups, file);

  std::map<std::string, DeviceInfo> devices;
  for (const auto& key : order) {
    Result result = make_result(groups.at(key));
    note_device(context, result, devices);
    file.results.push_back(std::move(result));
  }
  for (auto& [id, device] : devices) file.devices.push_back(std::move(device));
  return file;
}

ResultsFile read_results_or_benchmark_file(const std::filesystem::path& path) {
  const json parsed = read_json_file(path, "trainrate results file");
  if (is_google_benchmark_json(parsed)) return results_from_google_benchmark(parsed, path.string());
  return results_from_json(parsed, path.string());
}

}  // namespace trainrate::reports
