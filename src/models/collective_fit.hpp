// The α-β model of a collective, fitted to what was measured: t(n) = α + n·β for a message of n
// bytes, α the latency and β the inverse bandwidth, one fit per collective, dtype and rank count
// from the size sweep of `trainrate run --suite collectives`. Plain math on results files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "models/scaling.hpp"
#include "results/result.hpp"

namespace trainrate {

struct FitPoint {
  double bytes = 0;
  double measured_s = 0;
  double fitted_s = 0;
  double relative_residual() const { return (measured_s - fitted_s) / measured_s; }
};

struct AlphaBetaFit {
  double alpha_s = 0;
  double beta_s_per_byte = 0;
  std::vector<FitPoint> points;
  double rms_relative_residual = 0;
  double max_relative_residual = 0;  // largest |measured − fitted| / measured
};

// Least squares on t = α + n·β over (bytes, seconds) points, each residual relative to its
// measured time: the sweep spans 4 KiB to 1 GiB, and absolute residuals would let the largest
// message decide α alone. Exact for points on a line. Throws std::invalid_argument for fewer than
// two distinct sizes or a non-positive time.
AlphaBetaFit fit_alpha_beta(const std::vector<std::pair<double, double>>& bytes_and_seconds);

struct CollectiveFit {
  CollectiveOp op = CollectiveOp::all_reduce;
  Dtype dtype = Dtype::fp32;
  int64_t ranks = 0;
  std::string backend;
  AlphaBetaFit fit;
};

// One fit per (collective, dtype, ranks, backend) with at least two ok sizes of `min_bytes` or more,
// in first-seen order. A floor keeps the fit to the messages a prediction sends: the rate changes in
// steps with size (on the machine of docs/results/collectives-2026-12-07.md all-reduce's drops
// tenfold from 1 to 2 MiB), which one straight line cannot follow on both sides.
std::vector<CollectiveFit> fit_collectives(const std::vector<Result>& results, double min_bytes = 0);

// The floor predictions fit above: an eighth of the gradient bucket, so the fit spans the sizes
// the buckets are (0 without buckets: every size).
inline double gradient_fit_min_bytes(double bucket_bytes) { return bucket_bytes / 8; }

// The ring all-reduce link of scaling.hpp that reproduces an all-reduce fit at its rank count n:
// t = 2(n−1)/n · bytes/B + 2(n−1)·α_step, so B = 2(n−1)/(n·β) (the fit's bus bandwidth) and
// α_step = α / (2(n−1)). Needs n >= 2.
Interconnect link_from_allreduce_fit(const CollectiveFit& fit);

// The all-reduce fit predictions use for fp32 gradients: fp32 if measured, else bf16; empty if none.
std::optional<CollectiveFit> gradient_allreduce_fit(const std::vector<CollectiveFit>& fits);

}  // namespace trainrate
