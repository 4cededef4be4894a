#include "results/results_json.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>

#include "problems/problem_json.hpp"
#include "results/json_fields.hpp"

namespace trainrate {

using nlohmann::json;

namespace {

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

std::optional<double> read_optional_number(const json& object, const char* name, const std::string& where) {
  if (!object.contains(name) || object.at(name).is_null()) return std::nullopt;
  return field<double>(object, name, where);
}

json peaks_to_json(const Peaks& peaks) {
  json datasheet = json::object(), measured = json::object();
  for (const auto& [dtype, rate] : peaks.datasheet_flops_per_s) datasheet[std::string(to_string(dtype))] = rate;
  for (const auto& [dtype, rate] : peaks.measured_flops_per_s) measured[std::string(to_string(dtype))] = rate;
  return json{{"datasheet_flops_per_s", datasheet},
              {"measured_flops_per_s", measured},
              {"datasheet_bytes_per_s", optional_number(peaks.datasheet_bytes_per_s)},
              {"measured_bytes_per_s", optional_number(peaks.measured_bytes_per_s)}};
}

std::map<Dtype, double> rates_from_json(const json& object, const std::string& where) {
  if (!object.is_object()) throw InputError(fmt::format("{}: expected an object, got {}", where, json_excerpt(object)));
  std::map<Dtype, double> rates;
  for (const auto& [key, value] : object.items()) {
    const auto dtype = parse_dtype(key);
    if (!dtype) throw InputError(fmt::format("{}: unknown dtype '{}'", where, key));
    if (!value.is_number()) throw InputError(fmt::format("{}.{}: expected a number, got {}", where, key, json_excerpt(value)));
    rates[*dtype] = value.get<double>();
  }
  return rates;
}

Peaks peaks_from_json(const json& object, const std::string& where) {
  Peaks peaks;
  peaks.datasheet_flops_per_s = rates_from_json(field_or(object, "datasheet_flops_per_s", where, json::object()),
                                                where + ".datasheet_flops_per_s");
  peaks.measured_flops_per_s = rates_from_json(field_or(object, "measured_flops_per_s", where, json::object()),
                                               where + ".measured_flops_per_s");
  peaks.datasheet_bytes_per_s = read_optional_number(object, "datasheet_bytes_per_s", where);
  peaks.measured_bytes_per_s = read_optional_number(object, "measured_bytes_per_s", where);
  return peaks;
}

json device_to_json(const DeviceInfo& device) {
  return json{{"id", device.id},
              {"kind", device.kind},
              {"name", device.name},
              {"properties", device.properties},
              {"peaks", peaks_to_json(device.peaks)}};
}

DeviceInfo device_from_json(const json& object, const std::string& where) {
  DeviceInfo device;
  device.id = field<std::string>(object, "id", where);
  device.kind = field<std::string>(object, "kind", where);
  device.name = field<std::string>(object, "name", where);
  device.properties = field_or(object, "properties", where, std::map<std::string, std::string>{});
  device.peaks = peaks_from_json(field_or(object, "peaks", where, json::object()), where + ".peaks");
  return device;
}

json stats_to_json(const SampleStats& s) {
  return json{{"samples", s.samples},   {"min_ms", s.min_ms},       {"median_ms", s.median_ms},
              {"mean_ms", s.mean_ms},   {"max_ms", s.max_ms},       {"stddev_ms", s.stddev_ms},
              {"relative_noise", s.relative_noise}};
}

SampleStats stats_from_json(const json& o, const std::string& where) {
  SampleStats s;
  s.samples = field<int64_t>(o, "samples", where);
  s.min_ms = field<double>(o, "min_ms", where);
  s.median_ms = field<double>(o, "median_ms", where);
  s.mean_ms = field<double>(o, "mean_ms", where);
  s.max_ms = field<double>(o, "max_ms", where);
  s.stddev_ms = field<double>(o, "stddev_ms", where);
  s.relative_noise = field<double>(o, "relative_noise", where);
  return s;
}

// Version 1 files have no samples; a version 2 file may lack them too (imported benchmark rows).
std::vector<double> samples_from_json(const json& array, const std::string& where) {
  if (!array.is_array()) throw InputError(fmt::format("{}: expected an array, got {}", where, json_excerpt(array)));
  if (array.size() > kMaxKeptSamples) {
    throw InputError(fmt::format("{}: {} samples, more than the {} a results file keeps", where, array.size(),
                                 kMaxKeptSamples));
  }
  std::vector<double> samples;
  samples.reserve(array.size());
  for (size_t i = 0; i < array.size(); ++i) {
    const json& value = array.at(i);
    // 0 is possible: a kernel shorter than the timer's resolution.
    if (!value.is_number() || !(value.get<double>() >= 0)) {
      throw InputError(fmt::format("{}[{}]: expected a time in ms, 0 or more, got {}", where, i, json_excerpt(value)));
    }
    samples.push_back(value.get<double>());
  }
  return samples;
}

json state_to_json(const std::optional<DeviceState>& state) {
  if (!state) return nullptr;
  return json{{"sm_clock_mhz", optional_number(state->sm_clock_mhz)},
              {"temperature_c", optional_number(state->temperature_c)},
              {"power_w", optional_number(state->power_w)},
              {"slowdowns", state->slowdowns}};
}

std::optional<DeviceState> state_from_json(const json& o, const char* name, const std::string& where) {
  if (!o.contains(name) || o.at(name).is_null()) return std::nullopt;
  const json& s = o.at(name);
  const std::string here = where + "." + name;
  if (!s.is_object()) throw InputError(fmt::format("{}: expected an object or null, got {}", here, json_excerpt(s)));
  DeviceState state;
  state.sm_clock_mhz = read_optional_number(s, "sm_clock_mhz", here);
  state.temperature_c = read_optional_number(s, "temperature_c", here);
  state.power_w = read_optional_number(s, "power_w", here);
  state.slowdowns = field_or(s, "slowdowns", here, std::vector<std::string>{});
  return state;
}

json repetitions_to_json(const std::vector<Repetition>& repetitions) {
  json array = json::array();
  for (const Repetition& r : repetitions) array.push_back(json{{"median_ms", r.median_ms}, {"samples_kept", r.samples_kept}});
  return array;
}

// Versions 1 to 3 have none: the measurement is its own one repetition. The kept samples must
// add up, since they say which samples are whose.
std::vector<Repetition> repetitions_from_json(const json& o, size_t samples_kept, const std::string& where) {
  const json array = field_or(o, "repetitions", where, json::array());
  if (!array.is_array()) throw InputError(fmt::format("{}.repetitions: expected an array, got {}", where, json_excerpt(array)));
  std::vector<Repetition> repetitions;
  size_t total_kept = 0;
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string here = fmt::format("{}.repetitions[{}]", where, i);
    const int64_t kept = field<int64_t>(array.at(i), "samples_kept", here);
    if (kept < 0) throw InputError(fmt::format("{}.samples_kept: expected 0 or more, got {}", here, kept));
    const Repetition r{field<double>(array.at(i), "median_ms", here), size_t(kept)};
    total_kept += r.samples_kept;
    repetitions.push_back(r);
  }
  if (!repetitions.empty() && total_kept != samples_kept) {
    throw InputError(fmt::format("{}.repetitions: they keep {} samples in all but samples_ms has {}", where,
                                 total_kept, samples_kept));
  }
  if (repetitions.size() == 1) repetitions.clear();  // one repetition is the measurement itself
  return repetitions;
}

json measurement_to_json(const Measurement& m) {
  return json{{"stats", stats_to_json(m.stats)},
              {"samples_ms", m.samples_ms},
              {"runs_per_sample", m.runs_per_sample},
              {"stop_reason", m.stop_reason},
              {"state_before", state_to_json(m.state_before)},
              {"state_after", state_to_json(m.state_after)},
              {"retakes", m.retakes},
              {"repetitions", repetitions_to_json(repetitions_of(m))}};
}

Measurement measurement_from_json(const json& o, const std::string& where) {
  Measurement m;
  m.stats = stats_from_json(field<json>(o, "stats", where), where + ".stats");
  m.samples_ms = samples_from_json(field_or(o, "samples_ms", where, json::array()), where + ".samples_ms");
  if (int64_t(m.samples_ms.size()) > m.stats.samples) {
    throw InputError(fmt::format("{}.samples_ms: {} samples kept but stats.samples says {} were taken", where,
                                 m.samples_ms.size(), m.stats.samples));
  }
  m.runs_per_sample = field<int64_t>(o, "runs_per_sample", where);
  m.stop_reason = field<std::string>(o, "stop_reason", where);
  m.state_before = state_from_json(o, "state_before", where);
  m.state_after = state_from_json(o, "state_after", where);
  // Versions 1 and 2 kept only the clock after sampling.
  if (const std::optional<double> clock = read_optional_number(o, "clock_mhz", where)) {
    m.state_after = DeviceState{.sm_clock_mhz = clock};
  }
  m.retakes = field_or(o, "retakes", where, int64_t{0});
  m.repetitions = repetitions_from_json(o, m.samples_ms.size(), where);
  return m;
}

json verification_to_json(const Verification& v) {
  return json{{"sampled", v.sampled},       {"elements_checked", v.elements_checked},
              {"mismatches", v.mismatches}, {"max_error", v.max_error},
              {"tolerance", v.tolerance},   {"first_mismatch", v.first_mismatch}};
}

Verification verification_from_json(const json& o, const std::string& where) {
  Verification v;
  v.sampled = field<bool>(o, "sampled", where);
  v.elements_checked = field<int64_t>(o, "elements_checked", where);
  v.mismatches = field<int64_t>(o, "mismatches", where);
  // JSON has no infinity: a non-finite output's error is written as null and read back as +inf.
  v.max_error = read_optional_number(o, "max_error", where).value_or(std::numeric_limits<double>::infinity());
  v.tolerance = field<double>(o, "tolerance", where);
  v.first_mismatch = field<std::string>(o, "first_mismatch", where);
  return v;
}

// Files written before results carried their backend's device kind: take it from the device the
// result names, which the file describes.
void fill_device_kinds(ResultsFile& file) {
  for (Result& r : file.results) {
    if (!r.device_kind.empty()) continue;
    for (const DeviceInfo& device : file.devices) {
      if (device.id == r.device) r.device_kind = device.kind;
    }
  }
}

// Files written before results said which view a rate is read as "sole": nothing to choose between.
void read_view(const json& o, const std::string& where, Result& r) {
  const std::string text = field_or<std::string>(o, "view", where, std::string(to_string(RateView::sole)));
  const auto view = parse_view(text);
  if (!view) throw InputError(fmt::format("{}.view: '{}' is not sole, vendor-best or framework", where, text));
  r.view = *view;
  r.framework_view_of = field_or<std::string>(o, "framework_view_of", where, "");
}

Result result_from_json(const json& o, const std::string& where) {
  Result r;
  r.problem = problem_from_json(field<json>(o, "problem", where), where + ".problem");
  r.backend = field<std::string>(o, "backend", where);
  r.role = field<std::string>(o, "role", where);
  r.device = field<std::string>(o, "device", where);
  r.device_kind = field_or<std::string>(o, "device_kind", where, "");
  r.compared_with = field_or(o, "compared_with", where, std::vector<std::string>{});
  read_view(o, where, r);
  const std::string status_text = field<std::string>(o, "status", where);
  const auto status = parse_status(status_text);
  if (!status) throw InputError(fmt::format("{}.status: unknown status '{}'", where, status_text));
  r.status = *status;
  r.reason = field_or<std::string>(o, "reason", where, "");
  if (o.contains("verification")) {
    r.verification = verification_from_json(o.at("verification"), where + ".verification");
  }
  if (o.contains("measurement") && !o.at("measurement").is_null()) {
    r.measurement = measurement_from_json(o.at("measurement"), where + ".measurement");
  }
  r.mode = field_or<std::string>(o, "mode", where, "");
  r.flops = field<double>(o, "flops", where);
  r.rate_flops_per_s = field<double>(o, "rate_flops_per_s", where);
  r.peak_flops_per_s = read_optional_number(o, "peak_flops_per_s", where);
  r.bytes = field_or<double>(o, "bytes", where, min_bytes(r.problem));
  // Files from before bytes/s was recorded: the same rate, from the bytes and the median time.
  const double median_ms = r.status == ResultStatus::ok && r.measurement ? r.measurement->stats.median_ms : 0;
  r.rate_bytes_per_s = field_or<double>(o, "rate_bytes_per_s", where, median_ms > 0 ? r.bytes / (median_ms * 1e-3) : 0);
  r.peak_bytes_per_s = read_optional_number(o, "peak_bytes_per_s", where);
  r.percent_of_peak = read_optional_number(o, "percent_of_peak", where);
  r.algorithm = field_or<std::string>(o, "algorithm", where, "");
  r.workspace_bytes = field_or<int64_t>(o, "workspace_bytes", where, 0);
  r.threads = field_or<int>(o, "threads", where, 0);
  if (r.status == ResultStatus::ok && !r.measurement) {
    throw InputError(fmt::format("{}: status ok but no measurement", where));
  }
  return r;
}

}  // namespace

std::string_view to_string(ResultStatus status) {
  switch (status) {
    case ResultStatus::ok: return "ok";
    case ResultStatus::invalid: return "INVALID";
    case ResultStatus::skipped: return "skipped";
    case ResultStatus::failed: return "FAILED";
  }
  return "?";
}

std::optional<ResultStatus> parse_status(std::string_view text) {
  for (auto status : {ResultStatus::ok, ResultStatus::invalid, ResultStatus::skipped, ResultStatus::failed}) {
    if (to_string(status) == text) return status;
  }
  return std::nullopt;
}

json to_json(const Result& r) {
  return json{{"problem", to_json(r.problem)},
              {"name", describe(r.problem)},
              {"backend", r.backend},
              {"role", r.role},
              {"device", r.device},
              {"device_kind", r.device_kind},
              {"compared_with", r.compared_with},
              {"view", std::string(to_string(r.view))},
              {"framework_view_of", r.framework_view_of},
              {"status", std::string(to_string(r.status))},
              {"reason", r.reason},
              {"verification", verification_to_json(r.verification)},
              {"measurement", r.measurement ? measurement_to_json(*r.measurement) : json(nullptr)},
              {"mode", r.mode},
              {"flops", r.flops},
              {"rate_flops_per_s", r.rate_flops_per_s},
              {"peak_flops_per_s", optional_number(r.peak_flops_per_s)},
              {"bytes", r.bytes},
              {"rate_bytes_per_s", r.rate_bytes_per_s},
              {"peak_bytes_per_s", optional_number(r.peak_bytes_per_s)},
              {"percent_of_peak", optional_number(r.percent_of_peak)},
              {"algorithm", r.algorithm},
              {"workspace_bytes", r.workspace_bytes},
              {"threads", r.threads}};
}

json benchmark_label(const Problem& problem, const BackendFacts& facts, const std::string& device_id) {
  return json{{"problem", to_json(problem)},
              {"backend", facts.name},
              {"role", std::string(to_string(facts.role))},
              {"device", device_id},
              {"device_kind", facts.device_kind},
              {"compared_with", facts.compared_with},
              {"view", std::string(to_string(facts.view))},
              {"framework_view_of", facts.framework_view_of}};
}

Result result_from_benchmark_label(const json& label, const std::string& where) {
  if (!label.is_object() || !label.contains("problem")) {
    throw InputError(fmt::format("{}: label is not a trainrate-bench label (expected {{\"problem\": .., \"backend\": "
                                 "..}}; files from older trainrate-bench builds must be measured again)", where));
  }
  Result r;
  r.problem = problem_from_json(field<json>(label, "problem", where), where + ".problem");
  r.backend = field<std::string>(label, "backend", where);
  r.role = field<std::string>(label, "role", where);
  if (!parse_role(r.role)) throw InputError(fmt::format("{}.role: '{}' is not vendor or custom", where, r.role));
  r.device = field<std::string>(label, "device", where);
  r.device_kind = field<std::string>(label, "device_kind", where);
  r.compared_with = field_or(label, "compared_with", where, std::vector<std::string>{});
  read_view(label, where, r);
  return r;
}

json to_json(const ResultsFile& file) {
  json devices = json::array(), results = json::array();
  for (const auto& device : file.devices) devices.push_back(device_to_json(device));
  for (const auto& result : file.results) results.push_back(to_json(result));
  return json{{"schema", "trainrate-results"},
              {"schema_version", kResultsSchemaVersion},  // what this writer writes, whatever was read
              {"tool_version", file.tool_version},
              {"created_utc", file.created_utc},
              {"host", file.host},
              {"suite", file.suite},
              {"complete", file.complete},
              {"build", file.build},
              {"system", file.system},
              {"libraries", file.libraries},
              {"options", file.options},
              {"devices", devices},
              {"results", results}};
}

ResultsFile results_from_json(const json& o, const std::string& where) {
  if (!o.is_object() || !o.contains("schema") || o.at("schema") != "trainrate-results") {
    throw InputError(fmt::format("{}: not a trainrate results file (missing \"schema\": \"trainrate-results\")", where));
  }
  ResultsFile file;
  file.schema_version = field<int>(o, "schema_version", where);
  if (file.schema_version < 1 || file.schema_version > kResultsSchemaVersion) {
    throw InputError(fmt::format("{}: schema_version {} is not supported (this build reads 1 to {})", where,
                                 file.schema_version, kResultsSchemaVersion));
  }
  using Strings = std::map<std::string, std::string>;
  file.tool_version = field_or<std::string>(o, "tool_version", where, "");
  file.created_utc = field_or<std::string>(o, "created_utc", where, "");
  file.host = field_or<std::string>(o, "host", where, "");
  file.suite = field_or<std::string>(o, "suite", where, "");
  file.complete = field_or(o, "complete", where, false);
  file.build = field_or(o, "build", where, Strings{});
  file.system = field_or(o, "system", where, Strings{});
  file.libraries = field_or(o, "libraries", where, Strings{});
  file.options = field_or(o, "options", where, Strings{});
  const json devices = field<json>(o, "devices", where);
  const json results = field<json>(o, "results", where);
  if (!devices.is_array()) throw InputError(fmt::format("{}.devices: expected an array", where));
  if (!results.is_array()) throw InputError(fmt::format("{}.results: expected an array", where));
  for (size_t i = 0; i < devices.size(); ++i) {
    file.devices.push_back(device_from_json(devices.at(i), fmt::format("{}: devices[{}]", where, i)));
  }
  for (size_t i = 0; i < results.size(); ++i) {
    file.results.push_back(result_from_json(results.at(i), fmt::format("{}: results[{}]", where, i)));
  }
  fill_device_kinds(file);
  return file;
}

ResultsFile read_results_file(const std::filesystem::path& path) {
  return results_from_json(read_json_file(path, "trainrate results file"), path.string());
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write ({})", temporary.string(), std::strerror(errno)));
  // On any failure: close, remove the temporary, and report; the previous file stays intact.
  auto fail = [&](const char* what) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    throw std::runtime_error(fmt::format("{}: {} failed ({})", temporary.string(), what, std::strerror(saved)));
  };
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    written += size_t(n);
  }
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    ::unlink(temporary.c_str());
    throw std::runtime_error(fmt::format("{}: close failed ({})", temporary.string(), std::strerror(errno)));
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    ::unlink(temporary.c_str());
    throw std::runtime_error(fmt::format("{}: cannot replace with {} ({})", path.string(), temporary.string(),
                                         error.message()));
  }
}

void write_results_file(const std::filesystem::path& path, const ResultsFile& file) {
  write_file_atomically(path, to_json(file).dump(2) + "\n");
}

}  // namespace trainrate
