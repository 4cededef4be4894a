// Problems to and from JSON: the one encoding used by suite files, results files and networks.
#pragma once

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

#include "problems/problem.hpp"

namespace trainrate {

// A malformed input, with where it is ("suite.json: problems[3].m") and what is wrong.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

nlohmann::json to_json(const Problem& problem);
// Reads {"kind": "gemm", "m": .., ...} or {"kind": "conv", ...}. Unknown fields, wrong types,
// missing required fields and invalid shapes raise InputError prefixed with `where`.
Problem problem_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace trainrate
