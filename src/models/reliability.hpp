// Failures, checkpoints and restarts: what they add to a training run's wall-clock time.
//
// Failures are a Poisson process: each device fails at rate 1/M_device, independently, and any
// failure stops a synchronous data-parallel job, so the job fails at rate G/M_device.
// The default M_device comes from Llama 3 405B pre-training (Dubey et al. 2024, "The Llama 3
// Herd of Models", §3.3.4): 419 unexpected interruptions in 54 days on 16,384 H100 GPUs,
// i.e. 16,384 × 54 × 24 h / 419 ≈ 50,700 GPU-hours per interruption.
#pragma once

#include <cstdint>

namespace trainrate {

// 16,384 GPUs × 54 days × 24 h / 419 unexpected interruptions.
double llama3_device_mtbf_h();

double job_mtbf_s(double device_mtbf_s, int64_t devices);

// Young 1974: τ = √(2δM), δ the checkpoint cost, M the job MTBF (first order in δ/M).
double young_interval_s(double checkpoint_s, double mtbf_s);
// Daly 2006 (higher order): τ = √(2δM)·[1 + ⅓·√(δ/2M) + (1/9)·(δ/2M)] − δ for δ < 2M, else τ = M.
double daly_interval_s(double checkpoint_s, double mtbf_s);

// First-order expected wall-clock time for `solve_s` of work with a checkpoint every
// `interval_s` of work: each checkpoint costs δ; each failure costs the restart R plus, on
// average, half an interval-and-checkpoint of lost work:
//   T_w = T_s·(1 + δ/τ) + (T_w / M)·(R + (τ + δ)/2)
//   ⇒ T_w = T_s·(1 + δ/τ) / (1 − (R + (τ + δ)/2) / M)
// Returns +infinity when the denominator is <= 0 (failures come faster than progress is saved).
double expected_wall_clock_s(double solve_s, double interval_s, double checkpoint_s, double restart_s,
                             double mtbf_s);

// P(no failure in T) = exp(−T/M).
double probability_no_failure(double duration_s, double mtbf_s);
// Spares: the job swaps a spare in for each failed device, so with k spares it never waits for
// a repair as long as at most k devices fail: P(F <= k), F ~ Poisson(T/M).
double probability_at_most_failures(int64_t k, double duration_s, double mtbf_s);
// E[max(0, F − k)]: failures expected to find no spare left (each waits for a repair).
double expected_failures_beyond(int64_t k, double duration_s, double mtbf_s);

// The original design's reliability gain: relative reduction of failure probability (p − p')/p.
// (Written there as (p' − p)/p', which gives −9 for p = 0.01, p' = 0.001 instead of 0.90.)
double relative_failure_reduction(double p_old, double p_new);

struct ReliabilityOptions {
  double device_mtbf_s = llama3_device_mtbf_h() * 3600;
  double checkpoint_s = 60;  // δ: one checkpoint write
  double restart_s = 600;    // R: detect, reschedule, reload the last checkpoint
  int64_t spares = 0;
};

struct ReliabilityReport {
  int64_t devices = 1;
  double solve_s = 0;           // failure-free training time
  double job_mtbf_s = 0;
  double young_interval_s = 0;
  double daly_interval_s = 0;   // the interval used below
  double wall_clock_s = 0;      // expected, with checkpoints, lost work and restarts
  double overhead_fraction = 0; // wall_clock / solve − 1
  double expected_failures = 0; // wall_clock / job MTBF
  double p_no_failure = 0;      // over the failure-free solve time
  int64_t spares = 0;
  double p_spares_suffice = 0;  // P(failures <= spares) over the expected wall-clock time
  double expected_failures_without_spare = 0;
};
ReliabilityReport assess_reliability(double solve_s, int64_t devices, const ReliabilityOptions& options);

}  // namespace trainrate
