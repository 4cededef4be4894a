// Training-time models fed by the measured rate R (docs/models.md has formulas and examples).
//
//   simple model (original design)  T = N·S / R
//   FLOP rule (Kaplan et al. 2020)   T = 6·N·D / R, R of the network's dominant problem class
//   layer model                      T_iter = Σ over layers and passes of work / R(problem, backend),
//                                    work in FLOPs (GEMM, conv) or bytes (memory-bound passes)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "problems/network.hpp"
#include "models/rates.hpp"
#include "models/scaling.hpp"

namespace trainrate {

// The original design's model: N parameters, S FLOPs of work per parameter, R FLOP/s.
double simple_training_time_s(double parameters, double work_per_parameter_flops, double rate_flops_per_s);

// Training compute ≈ 6·N·D: 2·N·D forward and 4·N·D backward, D tokens (or samples) seen.
// Holds when every parameter is used once per token (transformers); a conv weight is reused at
// every output pixel, so for CNNs the rule undercounts by orders of magnitude.
double six_nd_flops(double parameters, double tokens);
// Whether the rule's assumption holds: no convolution layers (transformers, MLPs).
bool six_nd_applies(const Network& network);
double six_nd_time_s(double parameters, double tokens, double rate_flops_per_s);

// The problem kind ("gemm", "conv-fwd", ...) with the largest share of an iteration's FLOPs.
struct ProblemClass {
  std::string kind;
  double flops_share = 0;  // of the iteration's FLOPs
};
ProblemClass dominant_problem_class(const std::vector<LayerPass>& passes);
// The rate of a class on a backend: Σ FLOPs / Σ time over its measured rows, which is the rate
// the class would run at if each row were run once. Falls back to the kind's vendor backend.
std::optional<double> class_rate_flops_per_s(const RateTable& table, const std::string& backend,
                                             const std::string& kind, Dtype dtype);

// ---- layer model ----------------------------------------------------------------------------

struct PassPrediction {
  LayerPass pass;
  RateLookup rate;
  double flops = 0;   // all `count` repeats
  double work = 0;    // work(problem) × count, in the rate's unit: FLOPs, or bytes if memory-bound
  double time_s = 0;  // work / rate; 0 when the rate is missing
};

struct IterationPrediction {
  std::string backend;  // the requested one (rows may name the vendor fallback)
  std::vector<PassPrediction> passes;
  double iteration_time_s = 0;  // forward + backward + update, missing rows left out
  double forward_time_s = 0;
  double backward_time_s = 0;
  double update_time_s = 0;     // the optimizer step
  double compute_time_s = 0;    // GEMM and conv passes
  double memory_time_s = 0;     // memory-bound passes
  double flops = 0;             // of the GEMM and conv rows, missing ones included
  double missing_flops = 0;
  double bytes = 0;             // min_bytes of the memory-bound rows, missing ones included
  double missing_bytes = 0;
  int64_t estimated_rows = 0, missing_rows = 0, measured_now_rows = 0;
};

using RateSource = std::function<RateLookup(const Problem& problem)>;
IterationPrediction predict_iteration(const std::vector<LayerPass>& passes, const RateSource& rate_of);
// The usual source: a results table for one backend, optionally measuring what is missing.
IterationPrediction predict_iteration(const Network& network, const LoweringOptions& lowering, RateTable& table,
                                      const std::string& backend, const MeasureMissing& measure = {});

// The step the scaling model scales: the iteration's forward, backward and optimizer times, and the
// gradient bytes all-reduced each step.
StepCompute step_compute(const IterationPrediction& iteration, double gradient_bytes);

// Who supplied a prediction's rates (the requested backend, or a kind's vendor standing in).
struct RateSupplier {
  std::string kind;     // kind_label(); empty in rate_sources' summary over all kinds
  std::string backend;  // whose rate was used; empty for work without a rate
  double work = 0;      // FLOPs, or bytes for memory-bound kinds
  double share = 0;     // of the kind's work (of all GEMM/conv FLOPs, or all memory-bound bytes, in the summary)
};
// Over the GEMM/conv passes (FLOPs) or the memory-bound ones (bytes), largest share first (ties in
// name order).
std::vector<RateSupplier> rate_sources(const IterationPrediction& prediction, bool memory_bound);
// Per kind in name order, and within a kind largest share first.
std::vector<RateSupplier> rate_sources_by_kind(const IterationPrediction& prediction);

// How much of an iteration rests on measurement: shares of its GEMM/conv FLOPs and of its
// memory-bound bytes by rate origin (measured-now counts as measured), and the layers with a pass
// that is estimated or missing.
struct WorkShares {
  double measured = 0, estimated = 0, missing = 0;
};
struct RateCoverage {
  WorkShares flops, bytes;
  int64_t layers = 0, layers_not_measured = 0;
};
RateCoverage rate_coverage(const IterationPrediction& prediction);

struct LayerTime {
  std::string layer;
  double time_s = 0;
  double flops = 0;  // of its GEMM/conv passes
  double bytes = 0;  // of its memory-bound passes
  bool has_estimate = false;  // some pass of the layer uses an estimated or missing rate
};
// Per-layer sums in first-appearance order.
std::vector<LayerTime> layer_times(const IterationPrediction& prediction);

// ---- epoch and total ------------------------------------------------------------------------

struct TrainingTime {
  int64_t iterations_per_epoch = 0;  // ceil(dataset / global batch): the last partial batch counts whole
  double step_time_s = 0;            // one iteration, communication included
  double epoch_time_s = 0;
  double total_time_s = 0;
};
TrainingTime training_time(double step_time_s, int64_t dataset_samples, int64_t global_batch, int64_t epochs);

}  // namespace trainrate
