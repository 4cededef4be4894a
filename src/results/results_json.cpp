#include "results/results_json.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "problems/problem_json.hpp"

namespace trainrate {

using nlohmann::json;

namespace {

json optional_number(const std::optional<double>& value) { return value ? json(*value) : json(nullptr); }

std::optional<double> read_optional_number(const json& object, const char* field) {
  if (!object.contains(field) || object.at(field).is_null()) return std::nullopt;
  return object.at(field).get<double>();
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
  std::map<Dtype, double> rates;
  for (const auto& [key, value] : object.items()) {
    const auto dtype = parse_dtype(key);
    if (!dtype) throw InputError(fmt::format("{}: unknown dtype '{}'", where, key));
    rates[*dtype] = value.get<double>();
  }
  return rates;
}

Peaks peaks_from_json(const json& object, const std::string& where) {
  Peaks peaks;
  peaks.datasheet_flops_per_s = rates_from_json(object.value("datasheet_flops_per_s", json::object()), where);
  peaks.measured_flops_per_s = rates_from_json(object.value("measured_flops_per_s", json::object()), where);
  peaks.datasheet_bytes_per_s = read_optional_number(object, "datasheet_bytes_per_s");
  peaks.measured_bytes_per_s = read_optional_number(object, "measured_bytes_per_s");
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
  device.id = object.at("id").get<std::string>();
  device.kind = object.at("kind").get<std::string>();
  device.name = object.at("name").get<std::string>();
  device.properties = object.value("properties", std::map<std::string, std::string>{});
  device.peaks = peaks_from_json(object.value("peaks", json::object()), where + ".peaks");
  return device;
}

json stats_to_json(const SampleStats& s) {
  return json{{"samples", s.samples},   {"min_ms", s.min_ms},       {"median_ms", s.median_ms},
              {"mean_ms", s.mean_ms},   {"max_ms", s.max_ms},       {"stddev_ms", s.stddev_ms},
              {"relative_noise", s.relative_noise}};
}

SampleStats stats_from_json(const json& o) {
  SampleStats s;
  s.samples = o.at("samples").get<int64_t>();
  s.min_ms = o.at("min_ms").get<double>();
  s.median_ms = o.at("median_ms").get<double>();
  s.mean_ms = o.at("mean_ms").get<double>();
  s.max_ms = o.at("max_ms").get<double>();
  s.stddev_ms = o.at("stddev_ms").get<double>();
  s.relative_noise = o.at("relative_noise").get<double>();
  return s;
}

json measurement_to_json(const Measurement& m) {
  return json{{"stats", stats_to_json(m.stats)},
              {"runs_per_sample", m.runs_per_sample},
              {"stop_reason", m.stop_reason},
              {"clock_mhz", optional_number(m.clock_mhz)}};
}

Measurement measurement_from_json(const json& o) {
  Measurement m;
  m.stats = stats_from_json(o.at("stats"));
  m.runs_per_sample = o.at("runs_per_sample").get<int64_t>();
  m.stop_reason = o.at("stop_reason").get<std::string>();
  m.clock_mhz = read_optional_number(o, "clock_mhz");
  return m;
}

json verification_to_json(const Verification& v) {
  return json{{"sampled", v.sampled},       {"elements_checked", v.elements_checked},
              {"mismatches", v.mismatches}, {"max_error", v.max_error},
              {"tolerance", v.tolerance},   {"first_mismatch", v.first_mismatch}};
}

Verification verification_from_json(const json& o) {
  Verification v;
  v.sampled = o.at("sampled").get<bool>();
  v.elements_checked = o.at("elements_checked").get<int64_t>();
  v.mismatches = o.at("mismatches").get<int64_t>();
  v.max_error = o.at("max_error").get<double>();
  v.tolerance = o.at("tolerance").get<double>();
  v.first_mismatch = o.at("first_mismatch").get<std::string>();
  return v;
}

Result result_from_json(const json& o, const std::string& where) {
  Result r;
  r.problem = problem_from_json(o.at("problem"), where + ".problem");
  r.backend = o.at("backend").get<std::string>();
  r.role = o.at("role").get<std::string>();
  r.device = o.at("device").get<std::string>();
  const auto status = parse_status(o.at("status").get<std::string>());
  if (!status) throw InputError(fmt::format("{}.status: unknown status '{}'", where, o.at("status").dump()));
  r.status = *status;
  r.reason = o.value("reason", "");
  if (o.contains("verification")) r.verification = verification_from_json(o.at("verification"));
  if (o.contains("measurement") && !o.at("measurement").is_null()) {
    r.measurement = measurement_from_json(o.at("measurement"));
  }
  r.mode = o.value("mode", "");
  r.flops = o.at("flops").get<double>();
  r.rate_flops_per_s = o.at("rate_flops_per_s").get<double>();
  r.peak_flops_per_s = read_optional_number(o, "peak_flops_per_s");
  r.percent_of_peak = read_optional_number(o, "percent_of_peak");
  r.algorithm = o.value("algorithm", "");
  r.workspace_bytes = o.value("workspace_bytes", int64_t{0});
  r.threads = o.value("threads", 0);
  return r;
}

// Runs `read` and turns nlohmann's type and missing-key errors into an InputError naming `where`.
template <typename Read>
auto with_location(const std::string& where, Read&& read) {
  try {
    return read();
  } catch (const json::exception& e) {
    throw InputError(fmt::format("{}: {}", where, e.what()));
  }
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
              {"status", std::string(to_string(r.status))},
              {"reason", r.reason},
              {"verification", verification_to_json(r.verification)},
              {"measurement", r.measurement ? measurement_to_json(*r.measurement) : json(nullptr)},
              {"mode", r.mode},
              {"flops", r.flops},
              {"rate_flops_per_s", r.rate_flops_per_s},
              {"peak_flops_per_s", optional_number(r.peak_flops_per_s)},
              {"percent_of_peak", optional_number(r.percent_of_peak)},
              {"algorithm", r.algorithm},
              {"workspace_bytes", r.workspace_bytes},
              {"threads", r.threads}};
}

json to_json(const ResultsFile& file) {
  json devices = json::array(), results = json::array();
  for (const auto& device : file.devices) devices.push_back(device_to_json(device));
  for (const auto& result : file.results) results.push_back(to_json(result));
  return json{{"schema", "trainrate-results"},
              {"schema_version", file.schema_version},
              {"tool_version", file.tool_version},
              {"created_utc", file.created_utc},
              {"host", file.host},
              {"suite", file.suite},
              {"complete", file.complete},
              {"build", file.build},
              {"libraries", file.libraries},
              {"options", file.options},
              {"devices", devices},
              {"results", results}};
}

ResultsFile results_from_json(const json& o, const std::string& where) {
  if (!o.is_object() || o.value("schema", "") != "trainrate-results") {
    throw InputError(fmt::format("{}: not a trainrate results file (missing \"schema\": \"trainrate-results\")", where));
  }
  return with_location(where, [&] {
    ResultsFile file;
    file.schema_version = o.at("schema_version").get<int>();
    if (file.schema_version != kResultsSchemaVersion) {
      throw InputError(fmt::format("{}: schema_version {} is not supported (this build reads {})", where,
                                   file.schema_version, kResultsSchemaVersion));
    }
    file.tool_version = o.value("tool_version", "");
    file.created_utc = o.value("created_utc", "");
    file.host = o.value("host", "");
    file.suite = o.value("suite", "");
    file.complete = o.value("complete", false);
    file.build = o.value("build", std::map<std::string, std::string>{});
    file.libraries = o.value("libraries", std::map<std::string, std::string>{});
    file.options = o.value("options", std::map<std::string, std::string>{});
    const json& devices = o.at("devices");
    for (size_t i = 0; i < devices.size(); ++i) {
      file.devices.push_back(device_from_json(devices.at(i), fmt::format("{}: devices[{}]", where, i)));
    }
    const json& results = o.at("results");
    for (size_t i = 0; i < results.size(); ++i) {
      const std::string at = fmt::format("{}: results[{}]", where, i);
      file.results.push_back(with_location(at, [&] { return result_from_json(results.at(i), at); }));
    }
    return file;
  });
}

ResultsFile read_results_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw InputError(fmt::format("{}: cannot open ({})", path.string(), std::strerror(errno)));
  json parsed;
  try {
    parsed = json::parse(in);
  } catch (const json::parse_error& e) {
    throw InputError(fmt::format("{}: broken JSON: {}", path.string(), e.what()));
  }
  return results_from_json(parsed, path.string());
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path temporary = path.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(fmt::format("{}: cannot write ({})", temporary.string(), std::strerror(errno)));
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int saved = errno;
      ::close(fd);
      throw std::runtime_error(fmt::format("{}: write failed ({})", temporary.string(), std::strerror(saved)));
    }
    written += size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    throw std::runtime_error(fmt::format("{}: fsync/close failed ({})", temporary.string(), std::strerror(errno)));
  }
  std::filesystem::rename(temporary, path);
}

void write_results_file(const std::filesystem::path& path, const ResultsFile& file) {
  write_file_atomically(path, to_json(file).dump(2) + "\n");
}

}  // namespace trainrate
