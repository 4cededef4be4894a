#include "models/speedup.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace trainrate {

Speedup speedup(double old_time_s, double new_time_s) {
  if (!(old_time_s > 0) || !(new_time_s > 0)) throw std::invalid_argument("speed-up needs both times > 0");
  return Speedup{old_time_s, new_time_s, (old_time_s - new_time_s) / old_time_s, old_time_s / new_time_s};
}

std::string describe(const Speedup& s) {
  return fmt::format("time reduction {:.1f}% [(T_old-T_new)/T_old], speed-up {:.2f}x [T_old/T_new]",
                     100 * s.time_reduction, s.ratio);
}

std::vector<LayerSpeedup> layer_speedups(const IterationPrediction& old_prediction,
                                         const IterationPrediction& new_prediction) {
  const auto new_layers = layer_times(new_prediction);
  std::vector<LayerSpeedup> out;
  for (const LayerTime& old_layer : layer_times(old_prediction)) {
    LayerSpeedup row{old_layer.layer, {}, false};
    auto match = std::find_if(new_layers.begin(), new_layers.end(),
                              [&](const LayerTime& l) { return l.layer == old_layer.layer; });
    if (match != new_layers.end() && old_layer.time_s > 0 && match->time_s > 0) {
      row.speedup = speedup(old_layer.time_s, match->time_s);
      row.comparable = true;
    }
    out.push_back(row);
  }
  return out;
}

}  // namespace trainrate
