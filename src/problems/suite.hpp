// Suites: named lists of problems, built in or read from a user's JSON or CSV file.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

struct Suite {
  std::string name;
  std::string description;
  std::vector<Problem> problems;
};

// Overrides a user can give on the command line; unset fields keep each suite's defaults.
struct SuiteParams {
  std::optional<int64_t> batch;       // images per batch (resnet50), sequences (transformer)
  std::optional<int64_t> seq_len;     // transformer sequence length
  std::optional<int64_t> image_size;  // resnet50 input height = width
  std::optional<int64_t> min_size, max_size;  // square: GEMM sizes; collectives: message bytes; doubling
  std::optional<int64_t> ranks;       // collectives: the ranks they run on
  std::optional<Dtype> dtype;         // every problem's dtype
  std::optional<Layout> layout;       // every convolution's layout
  // Keep only problems whose kind_label() starts with one of these ("gemm", "conv", "conv-fwd", ...).
  std::vector<std::string> kinds;
};

struct BuiltinSuiteInfo {
  std::string name;
  std::string description;
};
const std::vector<BuiltinSuiteInfo>& builtin_suites();

// A built-in suite by name, or a suite file when `name_or_path` ends in .json or .csv.
// Throws InputError naming the unknown suite, or the file, line and field of bad input.
Suite load_suite(const std::string& name_or_path, const SuiteParams& params = {});

// Suite files. JSON: {"name": "...", "description": "...", "problems": [{"kind": "gemm", ...}, ...]}
// with the fields of problem_json.hpp. CSV: a header row naming those fields (kind first), one
// problem per row, empty cells meaning "default".
Suite parse_suite_json(const std::string& text, const std::string& where);
Suite parse_suite_csv(const std::string& text, const std::string& where);

}  // namespace trainrate
