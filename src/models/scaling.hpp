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
};

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
  double allreduce_s = 0;
  double exposed_comm_s = 0;    // the part of the all-reduce the step waits for
  double step_s = 0;
  double efficiency = 1;        // compute_s / step_s (per-device throughput kept)
  double throughput_speedup = 1;  // G · efficiency, against one device
};

// With `overlap`, the all-reduce runs under the backward pass (bucketed, as PyTorch DDP does)
// and only the part longer than backward is exposed; without, it follows the backward pass.
ScalingPoint scale_step(const StepCompute& step, int64_t devices, const Interconnect& link, bool overlap);
// 1, 2, 4, ... up to max_devices, and max_devices itself.
std::vector<ScalingPoint> scaling_table(const StepCompute& step, int64_t max_devices, const Interconnect& link,
                                        bool overlap);

}  // namespace trainrate
