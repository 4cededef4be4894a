// The results file: JSON with a schema version, written atomically, read back with clear errors.
#pragma once

#include <filesystem>
#include <string_view>
#include <nlohmann/json.hpp>

#include "results/backend_facts.hpp"
#include "results/result.hpp"

namespace trainrate {


nlohmann::json to_json(const Result& result);
// What trainrate-bench puts in each benchmark's label so a Google Benchmark file can be read back
// as results without guessing from names: {"problem": .., "backend": .., "role": .., "device": ..,
// "device_kind": .., "compared_with": [..], "view": .., "framework_view_of": ..}.
nlohmann::json benchmark_label(const Problem& problem, const BackendFacts& facts, const std::string& device_id);
// A Result with the label's problem and backend facts filled in (status ok, nothing measured yet).
Result result_from_benchmark_label(const nlohmann::json& label, const std::string& where);
nlohmann::json to_json(const ResultsFile& file);
// Throws InputError naming `where` and the offending field.
ResultsFile results_from_json(const nlohmann::json& json, const std::string& where);

// Reads and parses a results file; errors name the path (and line for broken JSON).
ResultsFile read_results_file(const std::filesystem::path& path);
// Writes to a temporary file beside `path`, fsyncs it, then renames it over `path`, so a crash
// at any moment leaves either the old complete file or the new complete file.
void write_results_file(const std::filesystem::path& path, const ResultsFile& file);
// The same atomic write for any text (reports, predictions).
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace trainrate
