#include "models/scaling.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "problems/collective.hpp"

namespace trainrate {

namespace {
void require_devices(int64_t devices) {
  if (devices < 1) throw std::invalid_argument("device count must be >= 1");
}
}  // namespace

double ring_allreduce_time_s(double bytes, int64_t devices, const Interconnect& link) {
  require_devices(devices);
  const double g = double(devices);
  // Reduce-scatter then all-gather: each sends (G−1)/G of the data twice, in 2(G−1) steps.
  return 2 * (g - 1) / g * bytes / link.bandwidth_bytes_per_s + 2 * (g - 1) * link.latency_s;
}

double allreduce_busbw_factor(int64_t devices) { return bus_bandwidth_factor(CollectiveOp::all_reduce, devices); }

double allreduce_bus_bandwidth(double bytes, double time_s, int64_t devices) {
  if (!(time_s > 0)) throw std::invalid_argument("time must be > 0");
  return bytes / time_s * allreduce_busbw_factor(devices);
}

namespace {

// The bucket pipeline of scale_step: the all-reduce's total time and the part after backward ends.
std::pair<double, double> bucketed_allreduce_s(const StepCompute& step, int64_t devices, const Interconnect& link) {
  double total_s = 0, ring_free_s = 0, ready_bytes = 0;
  while (ready_bytes < step.gradient_bytes) {
    const double bucket = std::min(link.bucket_bytes, step.gradient_bytes - ready_bytes);
    ready_bytes += bucket;
    const double bucket_s = ring_allreduce_time_s(bucket, devices, link);
    const double ready_s = step.backward_s * ready_bytes / step.gradient_bytes;
    ring_free_s = std::max(ring_free_s, ready_s) + bucket_s;
    total_s += bucket_s;
  }
  return {total_s, std::max(0.0, ring_free_s - step.backward_s)};
}

}  // namespace

ScalingPoint scale_step(const StepCompute& step, int64_t devices, const Interconnect& link, bool overlap,
                        double straggler_wait_s) {
  ScalingPoint p;
  p.devices = devices;
  p.compute_s = step.forward_s + step.backward_s + step.update_s;
  p.straggler_wait_s = straggler_wait_s;
  if (link.bucket_bytes > 0 && step.gradient_bytes > 0) {
    const auto [total_s, after_backward_s] = bucketed_allreduce_s(step, devices, link);
    p.allreduce_s = total_s;
    p.exposed_comm_s = overlap ? after_backward_s : total_s;
  } else {
    p.allreduce_s = ring_allreduce_time_s(step.gradient_bytes, devices, link);
    p.exposed_comm_s = overlap ? std::max(0.0, p.allreduce_s - step.backward_s) : p.allreduce_s;
  }
  p.step_s = p.compute_s + p.straggler_wait_s + p.exposed_comm_s;
  p.efficiency = p.step_s > 0 ? p.compute_s / p.step_s : 1;
  p.throughput_speedup = double(devices) * p.efficiency;
  return p;
}

std::vector<ScalingPoint> scaling_table(const StepCompute& step, int64_t max_devices, const Interconnect& link,
                                        bool overlap) {
  require_devices(max_devices);
  std::vector<ScalingPoint> table;
  for (int64_t g = 1; g < max_devices; g *= 2) table.push_back(scale_step(step, g, link, overlap));
  table.push_back(scale_step(step, max_devices, link, overlap));
  return table;
}

namespace {

double mean_s(const std::vector<double>& samples_s) {
  double sum_s = 0;
  for (double v : samples_s) sum_s += v;
  return sum_s / double(samples_s.size());
}

void require_samples(const std::vector<std::vector<double>>& samples_s_per_device) {
  if (samples_s_per_device.empty()) throw std::invalid_argument("straggler wait: no devices");
  for (const auto& samples : samples_s_per_device) {
    if (samples.empty()) throw std::invalid_argument("straggler wait: a device has no samples");
  }
}

}  // namespace

double expected_slowest_s(const std::vector<std::vector<double>>& samples_s_per_device) {
  require_samples(samples_s_per_device);
  std::vector<std::vector<double>> sorted = samples_s_per_device;
  std::vector<double> pooled;
  for (auto& samples : sorted) {
    std::sort(samples.begin(), samples.end());
    pooled.insert(pooled.end(), samples.begin(), samples.end());
  }
  std::sort(pooled.begin(), pooled.end());
  pooled.erase(std::unique(pooled.begin(), pooled.end()), pooled.end());
  // The max is never below the smallest value; from there P(max > t) = 1 − Π F_d(t), constant
  // between consecutive pooled values.
  double expected_s = pooled.front();
  for (size_t k = 0; k + 1 < pooled.size(); ++k) {
    double all_at_or_below = 1;
    for (const auto& samples : sorted) {
      const auto at_or_below = std::upper_bound(samples.begin(), samples.end(), pooled[k]) - samples.begin();
      all_at_or_below *= double(at_or_below) / double(samples.size());
    }
    expected_s += (pooled[k + 1] - pooled[k]) * (1 - all_at_or_below);
  }
  return expected_s;
}

StragglerWait straggler_wait(const std::vector<std::vector<double>>& samples_s_per_device) {
  StragglerWait w;
  w.expected_slowest_s = expected_slowest_s(samples_s_per_device);
  for (const auto& samples : samples_s_per_device) w.mean_iteration_s += mean_s(samples);
  w.mean_iteration_s /= double(samples_s_per_device.size());
  w.wait_s = w.expected_slowest_s - w.mean_iteration_s;
  return w;
}

}  // namespace trainrate
