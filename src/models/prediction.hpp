// A whole prediction for `trainrate predict`: the layer model for one backend (and optionally an
// old one to compare against), epoch and total time over G devices, the 6·N·D cross-check,
// scaling and reliability. The CLI only parses options and prints; this builds, formats and
// serialises (schema in docs/models.md; reports read it, so keys stay stable).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "problems/network.hpp"
#include "models/rates.hpp"
#include "models/reliability.hpp"
#include "models/scaling.hpp"
#include "models/speedup.hpp"
#include "models/training_time.hpp"

namespace trainrate {

struct PredictOptions {
  LoweringOptions lowering;
  int64_t dataset_samples = 1'281'167;  // ImageNet-1k training set
  int64_t epochs = 1;
  int64_t devices = 1;
  Interconnect link{.bucket_bytes = kDdpBucketBytes};
  // Where B and α came from, said beside the scaling table: a collectives fit, the command line, or
  // the defaults.
  std::string link_origin = "assumed defaults, nothing measured";
  bool overlap = false;
  double gradient_bytes_per_parameter = 4;  // fp32 gradients, as with mixed precision's fp32 master weights
  ReliabilityOptions reliability;
};

struct FlopRuleCheck {
  bool applies = false;       // six_nd_applies(network): shown only then
  std::string problem_class;  // the dominant kind whose R is used
  double class_share = 0;
  double rate_flops_per_s = 0;  // 0 when the class has no measured rate
  double tokens = 0;            // D over the whole run
  double flops = 0;             // 6·N·D
  double time_s = 0;            // on one device
  double layer_model_flops = 0; // the lowering's FLOPs over the run, for comparison
};

struct Prediction {
  std::string network;
  int64_t batch = 1;  // per device
  std::optional<int64_t> image_size;  // CNNs: the first conv's input height (and width)
  std::optional<int64_t> seq_len;     // networks without convs: tokens per sample
  int64_t parameters = 0;
  double forward_macs_per_sample = 0;
  PredictOptions options;
  IterationPrediction iteration;                 // the (new) backend
  std::optional<IterationPrediction> old_iteration;  // --compare's old backend
  TrainingTime time;                             // on options.devices, communication included
  std::optional<TrainingTime> old_time;
  std::vector<std::string> rate_views;  // which view of its library each supplying backend's rates are
  FlopRuleCheck flop_rule;
  std::vector<ScalingPoint> scaling;             // with options.overlap
  std::vector<ScalingPoint> scaling_overlapped;  // the same with the all-reduce under the backward pass
  ReliabilityReport reliability;
};

// `trainrate predict` refuses (exit 1) a total with more than this share of the iteration's
// GEMM/conv FLOPs, or of its memory-bound bytes, without any rate, measured or estimated, unless
// --allow-missing: too much of the time is unknown.
inline constexpr double kMaxMissingShare = 0.10;

// The backend with exact rates for the most of these problems (ties: first seen); empty if none.
std::string choose_backend(const RateTable& table, const std::vector<Problem>& problems);

Prediction predict(const Network& network, RateTable& table, const std::string& backend,
                   const std::optional<std::string>& old_backend, const PredictOptions& options,
                   const MeasureMissing& measure = {});

nlohmann::json to_json(const Prediction& prediction);
// The readable breakdown: totals, the `top_layers` largest layers, speed-up, scaling, reliability.
std::string format_prediction(const Prediction& prediction, size_t top_layers = 10);

// "1.23 s", "4.5 min", "3.2 h", "2.1 days": durations people read at a glance.
std::string human_duration(double seconds);

}  // namespace trainrate
