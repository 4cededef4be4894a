#include "models/reliability.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace trainrate {

namespace {
void require_positive(double value, const char* what) {
  if (!(value > 0)) throw std::invalid_argument(std::string(what) + " must be > 0");
}
}  // namespace

double llama3_device_mtbf_h() { return 16384.0 * 54 * 24 / 419; }

double job_mtbf_s(double device_mtbf_s, int64_t devices) {
  require_positive(device_mtbf_s, "device MTBF");
  if (devices < 1) throw std::invalid_argument("device count must be >= 1");
  return device_mtbf_s / double(devices);
}

double young_interval_s(double checkpoint_s, double mtbf_s) { return std::sqrt(2 * checkpoint_s * mtbf_s); }

double daly_interval_s(double checkpoint_s, double mtbf_s) {
  require_positive(mtbf_s, "MTBF");
  if (checkpoint_s >= 2 * mtbf_s) return mtbf_s;
  const double x = checkpoint_s / (2 * mtbf_s);
  return young_interval_s(checkpoint_s, mtbf_s) * (1 + std::sqrt(x) / 3 + x / 9) - checkpoint_s;
}

double expected_wall_clock_s(double solve_s, double interval_s, double checkpoint_s, double restart_s,
                             double mtbf_s) {
  require_positive(interval_s, "checkpoint interval");
  require_positive(mtbf_s, "MTBF");
  const double loss_per_failure_s = restart_s + (interval_s + checkpoint_s) / 2;
  const double denominator = 1 - loss_per_failure_s / mtbf_s;
  if (denominator <= 0) return std::numeric_limits<double>::infinity();
  return solve_s * (1 + checkpoint_s / interval_s) / denominator;
}

double probability_no_failure(double duration_s, double mtbf_s) {
  require_positive(mtbf_s, "MTBF");
  return std::exp(-duration_s / mtbf_s);
}

double probability_at_most_failures(int64_t k, double duration_s, double mtbf_s) {
  require_positive(mtbf_s, "MTBF");
  const double mean = duration_s / mtbf_s;
  double term = std::exp(-mean), sum = 0;  // Poisson pmf at i, built up term by term
  for (int64_t i = 0; i <= k; ++i) {
    sum += term;
    term *= mean / double(i + 1);
  }
  return std::min(1.0, sum);
}

double expected_failures_beyond(int64_t k, double duration_s, double mtbf_s) {
  require_positive(mtbf_s, "MTBF");
  // E[(F−k)+] = E[F] − Σ_{i<=k} i·P(i) − k·P(F > k)
  const double mean = duration_s / mtbf_s;
  double term = std::exp(-mean), below = 0, p_at_most = 0;
  for (int64_t i = 0; i <= k; ++i) {
    below += double(i) * term;
    p_at_most += term;
    term *= mean / double(i + 1);
  }
  return std::max(0.0, mean - below - double(k) * (1 - p_at_most));
}

double relative_failure_reduction(double p_old, double p_new) {
  require_positive(p_old, "old failure probability");
  return (p_old - p_new) / p_old;
}

ReliabilityReport assess_reliability(double solve_s, int64_t devices, const ReliabilityOptions& o) {
  ReliabilityReport r;
  r.devices = devices;
  r.solve_s = solve_s;
  r.job_mtbf_s = job_mtbf_s(o.device_mtbf_s, devices);
  r.young_interval_s = young_interval_s(o.checkpoint_s, r.job_mtbf_s);
  r.daly_interval_s = daly_interval_s(o.checkpoint_s, r.job_mtbf_s);
  r.wall_clock_s = expected_wall_clock_s(solve_s, r.daly_interval_s, o.checkpoint_s, o.restart_s, r.job_mtbf_s);
  r.overhead_fraction = solve_s > 0 ? r.wall_clock_s / solve_s - 1 : 0;
  r.expected_failures = r.wall_clock_s / r.job_mtbf_s;
  r.p_no_failure = probability_no_failure(solve_s, r.job_mtbf_s);
  r.spares = o.spares;
  r.p_spares_suffice = probability_at_most_failures(o.spares, r.wall_clock_s, r.job_mtbf_s);
  r.expected_failures_without_spare = expected_failures_beyond(o.spares, r.wall_clock_s, r.job_mtbf_s);
  return r;
}

}  // namespace trainrate
