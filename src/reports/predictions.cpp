#include "reports/predictions.hpp"

#include <fmt/format.h>


#include "problems/problem_json.hpp"
#include "results/results_json.hpp"

namespace trainrate::reports {

using nlohmann::json;

namespace {

std::optional<double> number(const json& object, const char* field, const std::string& where) {
  if (!object.contains(field) || object.at(field).is_null()) return std::nullopt;
  if (!object.at(field).is_number()) {
    throw InputError(fmt::format("{}.{}: expected a number, got {}", where, field, json_excerpt(object.at(field))));
  }
  return object.at(field).get<double>();
}

std::optional<int64_t> count(const json& object, const char* field, const std::string& where) {
  if (!object.contains(field) || object.at(field).is_null()) return std::nullopt;
  if (!object.at(field).is_number_integer() || object.at(field).get<int64_t>() < 1) {
    throw InputError(fmt::format("{}.{}: expected a positive integer, got {}", where, field, json_excerpt(object.at(field))));
  }
  return object.at(field).get<int64_t>();
}

std::string text(const json& object, const char* field, const std::string& where) {
  if (!object.contains(field) || object.at(field).is_null()) return "";
  if (!object.at(field).is_string()) {
    throw InputError(fmt::format("{}.{}: expected a string, got {}", where, field, json_excerpt(object.at(field))));
  }
  return object.at(field).get<std::string>();
}

NetworkPrediction prediction_from_json(const json& object, const std::string& where) {
  if (!object.is_object()) throw InputError(fmt::format("{}: expected an object", where));
  NetworkPrediction p;
  p.network = text(object, "network", where);
  if (p.network.empty()) throw InputError(fmt::format("{}: missing required field 'network'", where));
  p.new_backend = text(object, "backend", where);
  p.batch = count(object, "batch", where);
  p.image_size = count(object, "image_size", where);
  p.seq_len = count(object, "seq_len", where);

  // The time the chart shows: total when known, else epoch, else one iteration.
  std::optional<double> top_level;
  for (const auto& [field, basis] : {std::pair{"total_time_s", "total"}, std::pair{"epoch_time_s", "epoch"},
                                     std::pair{"iteration_time_s", "iteration"}}) {
    if (auto value = number(object, field, where)) {
      top_level = value;
      p.time_basis = basis;
      break;
    }
  }
  p.new_seconds = top_level;

  if (object.contains("speedup") && !object.at("speedup").is_null()) {
    const json& s = object.at("speedup");
    const std::string at = where + ".speedup";
    if (!s.is_object()) throw InputError(fmt::format("{}: expected an object", at));
    p.old_backend = text(s, "old_backend", at);
    if (auto backend = text(s, "new_backend", at); !backend.empty()) p.new_backend = backend;
    p.time_reduction = number(s, "time_reduction", at);
    p.ratio = number(s, "ratio", at);
    const auto old_total = number(s, "old_total_time_s", at), new_total = number(s, "new_total_time_s", at);
    const auto old_iteration = number(s, "old_iteration_time_s", at);
    const auto new_iteration = number(s, "new_iteration_time_s", at);
    if (old_total && new_total) {
      p.old_seconds = old_total, p.new_seconds = new_total, p.time_basis = "total";
    } else if (old_iteration && new_iteration) {
      p.old_seconds = old_iteration, p.new_seconds = new_iteration, p.time_basis = "iteration";
    } else if (p.new_seconds && p.ratio) {
      p.old_seconds = *p.new_seconds * *p.ratio;
    }
  }
  // Both labels always come from the times when both times are known, so they cannot disagree.
  if (p.old_seconds && p.new_seconds && *p.old_seconds > 0 && *p.new_seconds > 0) {
    p.ratio = *p.old_seconds / *p.new_seconds;
    p.time_reduction = (*p.old_seconds - *p.new_seconds) / *p.old_seconds;
  } else if (p.ratio && !p.time_reduction && *p.ratio > 0) {
    p.time_reduction = 1 - 1 / *p.ratio;
  } else if (p.time_reduction && !p.ratio && *p.time_reduction < 1) {
    p.ratio = 1 / (1 - *p.time_reduction);
  }
  return p;
}

}  // namespace

std::vector<NetworkPrediction> predictions_from_json(const json& document, const std::string& where) {
  std::vector<NetworkPrediction> predictions;
  if (document.is_array()) {
    for (size_t i = 0; i < document.size(); ++i) {
      predictions.push_back(prediction_from_json(document.at(i), fmt::format("{}[{}]", where, i)));
    }
  } else if (document.is_object() && document.contains("predictions")) {
    return predictions_from_json(document.at("predictions"), where + ".predictions");
  } else {
    predictions.push_back(prediction_from_json(document, where));
  }
  return predictions;
}

std::vector<NetworkPrediction> read_predictions_file(const std::filesystem::path& path) {
  return predictions_from_json(read_json_file(path, "prediction file"), path.string());
}

}  // namespace trainrate::reports
