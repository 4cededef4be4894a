#include "run/environment.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>

#include "backends/cpu/cpu_backends.hpp"
#include "results/results_json.hpp"

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
  file.build = {{"compiler", TRAINRATE_CXX_COMPILER},
                {"build_type", TRAINRATE_BUILD_TYPE},
#ifdef TRAINRATE_HAVE_CUDA
                {"cuda", "on"}
#else
                {"cuda", "off"}
#endif
  };
  file.libraries = cpu_library_versions();
  return file;
}

std::map<std::string, std::string> cpu_library_versions() {
  return {{"openblas", openblas_version()}, {"onednn", onednn_version()}};
}

}  // namespace trainrate
