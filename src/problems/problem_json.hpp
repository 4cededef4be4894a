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

// A JSON value quoted in an error message: invalid UTF-8 replaced (dump() would throw on it) and
// long values cut, so a message about bad input can never fail or flood the terminal.
std::string json_excerpt(const nlohmann::json& value);

nlohmann::json to_json(const Problem& problem);
// Reads {"kind": "gemm", "m": .., ...} or {"kind": "conv", ...}. Unknown fields, wrong types,
// missing required fields and invalid shapes raise InputError prefixed with `where`.
Problem problem_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace trainrate
