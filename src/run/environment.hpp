// What a results file records about where and how it was measured.
#pragma once

#include <map>
#include <string>

#include "results/result.hpp"

namespace trainrate {

// A results file with host, time, build flags and library versions filled in; no results yet.
ResultsFile new_results_file(const std::string& suite);
// How this binary was built: compiler, flags, build type, CUDA, trainrate's git commit.
std::map<std::string, std::string> build_description();
// The host's software: os (the distribution's name), kernel (release and version), arch;
// "unavailable" where it cannot be read.
std::map<std::string, std::string> system_description();
// The CPU vendor libraries' builds, by name (what results files record as `libraries`).
std::map<std::string, std::string> cpu_library_versions();

std::string host_name();
std::string utc_timestamp();  // "2026-11-24T23:59:59Z"
// Letters, digits, '-', '_' and '.' survive; everything else becomes '_' (host and device names
// become file names; they must never escape the output folder).
std::string sanitize_for_filename(const std::string& text);

}  // namespace trainrate
