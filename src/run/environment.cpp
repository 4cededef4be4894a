#include "run/environment.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>

#include "backends/cpu/cpu_backends.hpp"
#include "results/results_json.hpp"
#include "trainrate_commit.hpp"

namespace trainrate {

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

std::string utc_timestamp() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm utc{};
  gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

std::string sanitize_for_filename(const std::string& text) {
  std::string safe;
  for (char ch : text) {
    const bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                      ch == '-' || ch == '_' || ch == '.';
    safe += keep ? ch : '_';
  }
  // A name of only dots would mean "this folder" or "the parent".
  if (safe.find_first_not_of('.') == std::string::npos) safe = "unnamed" + safe;
  return safe;
}

ResultsFile new_results_file(const std::string& suite) {
  ResultsFile file;
  file.schema_version = kResultsSchemaVersion;
  file.tool_version = TRAINRATE_VERSION;
  file.created_utc = utc_timestamp();
  file.host = host_name();
  file.suite = suite;
  file.build = build_description();
  file.system = system_description();
  file.libraries = cpu_library_versions();
  return file;
}

std::map<std::string, std::string> build_description() {
  return {{"compiler", TRAINRATE_CXX_COMPILER},
          {"cxx_flags", TRAINRATE_CXX_FLAGS},
          {"build_type", TRAINRATE_BUILD_TYPE},
          {"commit", TRAINRATE_COMMIT},
#ifdef TRAINRATE_HAVE_CUDA
          {"cuda", "on"},
          {"cuda_flags", TRAINRATE_CUDA_FLAGS},
          {"cuda_architectures", TRAINRATE_CUDA_ARCHITECTURES}
#else
          {"cuda", "off"}
#endif
  };
}

std::map<std::string, std::string> system_description() {
  std::map<std::string, std::string> system{{"os", "unavailable"}, {"kernel", "unavailable"}, {"arch", "unavailable"}};
  if (utsname names{}; uname(&names) == 0) {
    system["os"] = names.sysname;
    system["kernel"] = std::string(names.release) + " " + names.version;
    system["arch"] = names.machine;
  }
  // The distribution says more than "Linux": its PRETTY_NAME, e.g. "Debian GNU/Linux 12 (bookworm)".
  std::ifstream os_release("/etc/os-release");
  const std::string key = "PRETTY_NAME=";
  for (std::string line; std::getline(os_release, line);) {
    if (line.rfind(key, 0) != 0) continue;
    std::string name = line.substr(key.size());
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    if (!name.empty()) system["os"] = name;
  }
  return system;
}

std::map<std::string, std::string> cpu_library_versions() {
  return {{"openblas", openblas_version()}, {"onednn", onednn_version()}};
}

}  // namespace trainrate
