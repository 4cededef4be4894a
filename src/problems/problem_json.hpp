// Problems to and from JSON: the one encoding used by suite files, results files and networks.
#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

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

// A whole file as text; a file that cannot be opened is an InputError, "PATH: cannot open (why)".
std::string read_text_file(const std::filesystem::path& path);

// The one way trainrate reads JSON: an empty text, a syntax error or bad encoding becomes a single
// InputError line that starts with `where` (a path or "suite.json: problems[2]"), never the
// parser's raw tag ("[json.exception.parse_error.101] ...").
nlohmann::json parse_json_text(const std::string& text, const std::string& where);
// Reads one JSON file, expected to be a `what` ("trainrate results file"): an unreadable, empty or
// non-JSON file is one InputError line, "PATH: not a WHAT (the file is empty)" or
// "PATH: not a WHAT (not valid JSON: parse error at line 3, column 1: ...)".
nlohmann::json read_json_file(const std::filesystem::path& path, std::string_view what);

nlohmann::json to_json(const Problem& problem);
// Reads {"kind": "gemm", "m": .., ...} or {"kind": "conv", ...}. Unknown fields, wrong types,
// missing required fields and invalid shapes raise InputError prefixed with `where`.
Problem problem_from_json(const nlohmann::json& json, const std::string& where);

}  // namespace trainrate
