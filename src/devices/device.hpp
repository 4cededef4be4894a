// Devices: where backends run, how work on them is timed, and how fast they could possibly go.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/device_state.hpp"
#include "problems/problem.hpp"

namespace trainrate {

// Wall time of work issued between start() and stop_ms(). The CPU uses a steady clock; a GPU
// uses events recorded on its stream, so both feed the one measurement loop.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void start() = 0;
  // Waits for the work to finish and returns the elapsed milliseconds.
  virtual double stop_ms() = 0;
};

// The best rate a device can reach: from the datasheet (SM count × clock × FLOP/clock) and,
// where we measured it, from our own ceiling kernels (FMA throughput, triad bandwidth).
struct Peaks {
  std::map<Dtype, double> datasheet_flops_per_s;
  std::map<Dtype, double> measured_flops_per_s;
  std::optional<double> datasheet_bytes_per_s;
  std::optional<double> measured_bytes_per_s;

  // The figure used for "% of peak": the datasheet one when known, else the measured ceiling.
  std::optional<double> flops_per_s(Dtype dtype) const;
  std::optional<double> bytes_per_s() const;
};

struct DeviceInfo {
  std::string id;    // "cpu" or "cuda:0"
  std::string kind;  // "cpu" or "cuda"
  std::string name;  // "AMD EPYC 7B12", "NVIDIA H100 80GB HBM3"
  // Everything else worth recording: cores, threads, caches, SMs, clocks, driver and library versions.
  std::map<std::string, std::string> properties;
  Peaks peaks;
};

// How a device is measured unless the user says otherwise: stated once, by the device.
struct MeasureDefaults {
  bool cold = false;          // flush caches before every sample
  double noise_target = 0.01;  // relative noise (stddev/mean) at which sampling stops
};

// The processes that measure a device together (MPI ranks): which one this is, how many there are,
// and on how many hosts. A device of one process is its own group of one.
struct ProcessGroup {
  int64_t rank = 0;
  int64_t ranks = 1;
  int64_t nodes = 1;
};

class Device {
 public:
  virtual ~Device() = default;
  // "cpu" or "cuda"; cheap, unlike info(), which may measure the ceilings on first use.
  virtual std::string_view kind() const = 0;
  virtual const DeviceInfo& info() = 0;
  virtual std::unique_ptr<Timer> make_timer() = 0;
  virtual MeasureDefaults measure_defaults() const = 0;
  // Evicts the problem's operands from the caches so the next sample starts cold.
  virtual void flush_caches() = 0;
  // Clock, temperature, power and active slowdowns right now, where the device can say (a GPU).
  virtual std::optional<DeviceState> state() { return std::nullopt; }
  // Memory the device could still allocate for operands, where it has its own (GPU); the host's is
  // checked for every device.
  virtual std::optional<int64_t> free_device_memory_bytes() { return std::nullopt; }
  // Why the device can run nothing more in this process (a sticky CUDA error such as an illegal
  // address poisons the context), or empty while it is healthy. Asked after a failed run.
  virtual std::optional<std::string> fatal_error() { return std::nullopt; }
  // The process group this device's work spans; its timer returns the slowest rank's time, so every
  // rank sees the same samples and stops sampling together.
  virtual ProcessGroup process_group() { return {}; }
  // The sum of `value` over the group's processes (collective verification counts every rank's
  // mismatches); the value itself on a device of one process.
  virtual int64_t sum_over_group(int64_t value) { return value; }
  // Every process's `values`, in rank order, on every process (so each rank computes the same model
  // from all ranks' samples); {values} on a device of one process.
  virtual std::vector<std::vector<double>> gather_over_group(const std::vector<double>& values) { return {values}; }
};

}  // namespace trainrate
