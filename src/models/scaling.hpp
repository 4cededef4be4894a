// Data-parallel scaling: every device runs the same per-device batch, then the gradients are
// summed with a ring all-reduce (Patarasuk & Yuan 2009; NCCL's ring algorithm):
//   t_allreduce = 2(G−1)/G · bytes / B + 2(G−1) · α
// B is the per-device bus bandwidth and α the per-step latency. Defaults: B = 100 GB/s and
// α = 5 µs (docs/models.md says why); measure your own with nccl-tests and pass them in.
#pragma once

#include <cstdint>
#include <vector>

namespace trainrate {

struct Interconnect {
  double bandwidth_bytes_per_s = 100e9;
  double latency_s = 5e-6;
  // Gradients all-reduced in buckets of this size as the backward pass frees them (PyTorch DDP's
  // bucket_cap_mb = 25); 0: one message after the backward pass.
  double bucket_bytes = 0;
};

// PyTorch DDP's default bucket, which `trainrate predict` assumes.
inline constexpr double kDdpBucketBytes = 25.0 * 1024 * 1024;

double ring_allreduce_time_s(double bytes, int64_t devices, const Interconnect& link);
// nccl-tests: busbw = algbw · 2(n−1)/n for all-reduce, so bus bandwidths compare across n.
double allreduce_busbw_factor(int64_t devices);
// algbw = bytes / time; busbw = algbw · factor.
double allreduce_bus_bandwidth(double bytes, double time_s, int64_t devices);

struct StepCompute {
  double forward_s = 0;
  double backward_s = 0;
  double update_s = 0;        // the optimizer step: after the all-reduce, never under it
  double gradient_bytes = 0;  // what is all-reduced each step
};

struct ScalingPoint {
  int64_t devices = 1;
  double compute_s = 0;         // forward + backward + update of one device's batch
  double straggler_wait_s = 0;  // the all-reduce waiting for the slowest device (StragglerWait)
  double allreduce_s = 0;
  double exposed_comm_s = 0;    // the part of the all-reduce the step waits for
  double step_s = 0;
  double efficiency = 1;        // compute_s / step_s (per-device throughput kept)
  double throughput_speedup = 1;  // G · efficiency, against one device
};

// Without `overlap` the all-reduce (one ring all-reduce per bucket) follows the backward pass. With
// it, each bucket starts once the backward pass has produced its gradients (evenly over backward,
// in bucket order) and the ring is free; the part after backward is exposed. With no buckets
// (bucket_bytes 0) overlap is the ideal: only the all-reduce's excess over backward is exposed.
// straggler_wait_s (StragglerWait::wait_s of these devices' measured iterations) is added to the
// step either way; 0 where there are no per-device samples, as in predict.
ScalingPoint scale_step(const StepCompute& step, int64_t devices, const Interconnect& link, bool overlap,
                        double straggler_wait_s = 0);
// 1, 2, 4, ... up to max_devices, and max_devices itself.
std::vector<ScalingPoint> scaling_table(const StepCompute& step, int64_t max_devices, const Interconnect& link,
                                        bool overlap);

// The wait at a data-parallel step's all-reduce: it starts when the slowest device has finished its
// iteration, so the step pays the expected slowest of one iteration per device, not one device's
// typical iteration. From each device's iteration samples measured alone (plain data, any one unit:
// seconds here), each device drawing independently from its own samples.
struct StragglerWait {
  double expected_slowest_s = 0;  // E[max over devices of one draw from each device's samples]
  double mean_iteration_s = 0;    // the devices' sample means, averaged
  // expected_slowest_s − mean_iteration_s: the mean, not the median, so that this is each device's
  // expected wait for the slowest, averaged over devices (≥ 0; 0 only if all always take one same time).
  double wait_s = 0;
};

// E[max] exactly from the empirical CDFs F_d: ∫ (1 − Π_d F_d(t)) dt, a step function summed over
// the pooled sorted sample values. Throws std::invalid_argument on no devices or a device without samples.
double expected_slowest_s(const std::vector<std::vector<double>>& samples_s_per_device);
StragglerWait straggler_wait(const std::vector<std::vector<double>>& samples_s_per_device);

}  // namespace trainrate
