// Speed-up of a new backend over an old one, always reported both ways and labelled:
//   time reduction (T_old − T_new) / T_old   (0.75 = "75% less time")
//   speed-up ratio  T_old / T_new            (4.0  = "4× faster")
// The two are the same fact (reduction = 1 − 1/ratio); the original design printed the first
// under the name of the second, which is why neither is ever shown alone.
#pragma once

#include <string>
#include <vector>

#include "models/training_time.hpp"

namespace trainrate {

struct Speedup {
  double old_time_s = 0, new_time_s = 0;
  double time_reduction = 0;  // (T_old − T_new) / T_old
  double ratio = 0;           // T_old / T_new
};
// Throws std::invalid_argument unless both times are > 0.
Speedup speedup(double old_time_s, double new_time_s);
// "time reduction 25.0% [(T_old-T_new)/T_old], speed-up 1.33x [T_old/T_new]"
std::string describe(const Speedup& s);

struct LayerSpeedup {
  std::string layer;
  Speedup speedup;  // zeros when either side has no time for the layer
  bool comparable = false;
};
// Layers of two predictions of the same network, matched by name, in the old prediction's order.
std::vector<LayerSpeedup> layer_speedups(const IterationPrediction& old_prediction,
                                         const IterationPrediction& new_prediction);

}  // namespace trainrate
