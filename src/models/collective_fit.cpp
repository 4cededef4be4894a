#include "models/collective_fit.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

namespace trainrate {

AlphaBetaFit fit_alpha_beta(const std::vector<std::pair<double, double>>& bytes_and_seconds) {
  std::set<double> sizes;
  for (const auto& [bytes, seconds] : bytes_and_seconds) {
    if (!(seconds > 0)) throw std::invalid_argument("collective fit: every time must be > 0");
    sizes.insert(bytes);
  }
  if (sizes.size() < 2) throw std::invalid_argument("collective fit: needs at least two message sizes");
  // Weighted normal equations with w = 1/t²: minimise Σ ((t − α − nβ)/t)².
  double sw = 0, swn = 0, swnn = 0, swt = 0, swnt = 0;
  for (const auto& [n, t] : bytes_and_seconds) {
    const double w = 1 / (t * t);
    sw += w;
    swn += w * n;
    swnn += w * n * n;
    swt += w * t;
    swnt += w * n * t;
  }
  const double determinant = sw * swnn - swn * swn;
  AlphaBetaFit fit;
  fit.alpha_s = (swnn * swt - swn * swnt) / determinant;
  fit.beta_s_per_byte = (sw * swnt - swn * swt) / determinant;
  double squares = 0;
  for (const auto& [n, t] : bytes_and_seconds) {
    const FitPoint point{n, t, fit.alpha_s + n * fit.beta_s_per_byte};
    squares += point.relative_residual() * point.relative_residual();
    fit.max_relative_residual = std::max(fit.max_relative_residual, std::abs(point.relative_residual()));
    fit.points.push_back(point);
  }
  fit.rms_relative_residual = std::sqrt(squares / double(fit.points.size()));
  return fit;
}

std::vector<CollectiveFit> fit_collectives(const std::vector<Result>& results, double min_bytes) {
  std::vector<CollectiveFit> fits;
  std::vector<std::vector<std::pair<double, double>>> points;
  for (const Result& r : results) {
    const auto* c = std::get_if<CollectiveProblem>(&r.problem);
    if (!c || r.status != ResultStatus::ok || !r.measurement || double(c->bytes) < min_bytes) continue;
    const auto same = [&](const CollectiveFit& f) {
      return f.op == c->op && f.dtype == c->dtype && f.ranks == c->ranks && f.backend == r.backend;
    };
    auto found = std::find_if(fits.begin(), fits.end(), same);
    if (found == fits.end()) {
      fits.push_back({c->op, c->dtype, c->ranks, r.backend, {}});
      points.emplace_back();
      found = fits.end() - 1;
    }
    points[size_t(found - fits.begin())].emplace_back(double(c->bytes), r.measurement->stats.median_ms * 1e-3);
  }
  std::vector<CollectiveFit> fitted;
  for (size_t i = 0; i < fits.size(); ++i) {
    std::set<double> sizes;
    for (const auto& point : points[i]) sizes.insert(point.first);
    if (sizes.size() < 2) continue;
    fits[i].fit = fit_alpha_beta(points[i]);
    fitted.push_back(fits[i]);
  }
  return fitted;
}

Interconnect link_from_allreduce_fit(const CollectiveFit& fit) {
  if (fit.op != CollectiveOp::all_reduce) throw std::invalid_argument("link_from_allreduce_fit: not an all-reduce fit");
  if (fit.ranks < 2) throw std::invalid_argument("link_from_allreduce_fit: needs 2 or more ranks");
  if (!(fit.fit.beta_s_per_byte > 0)) throw std::invalid_argument("link_from_allreduce_fit: the fitted beta is not positive");
  const double n = double(fit.ranks);
  Interconnect link;
  link.bandwidth_bytes_per_s = 2 * (n - 1) / (n * fit.fit.beta_s_per_byte);
  link.latency_s = std::max(0.0, fit.fit.alpha_s) / (2 * (n - 1));
  return link;
}

std::optional<CollectiveFit> gradient_allreduce_fit(const std::vector<CollectiveFit>& fits) {
  for (Dtype dtype : {Dtype::fp32, Dtype::bf16}) {
    for (const CollectiveFit& f : fits) {
      if (f.op == CollectiveOp::all_reduce && f.dtype == dtype && f.ranks >= 2) return f;
    }
  }
  return std::nullopt;
}

}  // namespace trainrate
