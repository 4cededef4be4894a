// Predicted training times read from the JSON that `trainrate predict` writes, for the report's
// "predicted training time" section. Tolerant by design: every field but "network" is optional.
//
// Accepted shapes: one prediction object, an array of them, or {"predictions": [...]}. A prediction:
//   {"network": "resnet50", "backend": "custom-cpu",          // backend is optional
//    "batch": 32, "image_size": 224, "seq_len": null,          // optional: the question asked
//    "iteration_time_s": .., "epoch_time_s": .., "total_time_s": .., "layers": [...],
//    "speedup": {"old_backend": "onednn", "new_backend": "custom-cpu", "time_reduction": .., "ratio": ..,
//                "old_total_time_s": .., "new_total_time_s": ..,              // optional, preferred
//                "old_iteration_time_s": .., "new_iteration_time_s": ..}}      // optional
// Without explicit old/new times, the top-level times are taken as the new (custom) backend's and
// the old time is derived as new × ratio (ratio = T_old / T_new).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace trainrate::reports {

struct NetworkPrediction {
  std::string network;
  std::string old_backend, new_backend;  // vendor and custom; new_backend alone when there is no speed-up
  std::string time_basis;                // "total", "epoch" or "iteration": what old/new_seconds measure
  std::optional<int64_t> batch;          // per device
  std::optional<int64_t> image_size;     // CNNs: input height and width
  std::optional<int64_t> seq_len;        // transformers
  std::optional<double> old_seconds, new_seconds;
  std::optional<double> time_reduction;  // (T_old − T_new) / T_old
  std::optional<double> ratio;           // T_old / T_new
};

std::vector<NetworkPrediction> predictions_from_json(const nlohmann::json& json, const std::string& where);
// Throws InputError naming the path for unreadable files or broken JSON.
std::vector<NetworkPrediction> read_predictions_file(const std::filesystem::path& path);

}  // namespace trainrate::reports
