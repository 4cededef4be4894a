// Reading fields of a JSON object with errors that name where they are: every trainrate file
// reader (results, baselines) goes through these, so a missing key or a wrong type reads the same.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <nlohmann/json.hpp>

#include "problems/problem_json.hpp"

namespace trainrate {

// Reads one field, turning a missing key or a wrong type into an InputError naming where it is.
template <typename T>
T field(const nlohmann::json& object, const char* name, const std::string& where) {
  if (!object.is_object()) throw InputError(fmt::format("{}: expected an object, got {}", where, json_excerpt(object)));
  if (!object.contains(name)) throw InputError(fmt::format("{}: missing field '{}'", where, name));
  const nlohmann::json& value = object.at(name);
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // get<int>() on a float or an out-of-range integer is undefined behaviour, not an exception.
    const bool in_range = value.is_number_integer() &&
                          (value.is_number_unsigned() ? value.get<uint64_t>() <= uint64_t(std::numeric_limits<T>::max())
                                                      : value.get<int64_t>() >= int64_t(std::numeric_limits<T>::min()) &&
                                                            value.get<int64_t>() <= int64_t(std::numeric_limits<T>::max()));
    if (!in_range) throw InputError(fmt::format("{}.{}: expected an integer, got {}", where, name, json_excerpt(value)));
  }
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception&) {
    throw InputError(fmt::format("{}.{}: wrong type ({})", where, name, json_excerpt(object.at(name))));
  }
}

// Like field(), but a missing key gives `fallback`.
template <typename T>
T field_or(const nlohmann::json& object, const char* name, const std::string& where, T fallback) {
  return object.is_object() && object.contains(name) ? field<T>(object, name, where) : fallback;
}

}  // namespace trainrate
