// The results file: JSON with a schema version, written atomically, read back with clear errors.
#pragma once

#include <filesystem>
#include <string_view>
#include <nlohmann/json.hpp>

#include "results/result.hpp"

namespace trainrate {

constexpr int kResultsSchemaVersion = 1;

nlohmann::json to_json(const Result& result);
nlohmann::json to_json(const ResultsFile& file);
// Throws InputError naming `where` and the offending field.
ResultsFile results_from_json(const nlohmann::json& json, const std::string& where);

// Reads and parses a results file; errors name the path (and line for broken JSON).
ResultsFile read_results_file(const std::filesystem::path& path);
// Reads one JSON document. An unreadable, empty or non-JSON file throws one InputError line:
// "PATH: not a WHAT (the file is empty)" or "(not valid JSON: parse error at line 3, column 1: ...)".
nlohmann::json read_json_file(const std::filesystem::path& path, std::string_view what);
// Writes to a temporary file beside `path`, fsyncs it, then renames it over `path`, so a crash
// at any moment leaves either the old complete file or the new complete file.
void write_results_file(const std::filesystem::path& path, const ResultsFile& file);
// The same atomic write for any text (reports, predictions).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace trainrate
