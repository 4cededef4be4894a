// The CPU as a device: its description, a steady-clock timer, a cache flush, and measured
// ceilings (an FMA-throughput kernel for FLOP/s and a STREAM-style triad for bandwidth).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "devices/device.hpp"

namespace trainrate {

class CpuDevice final : public Device {
 public:
  // The process-wide CPU device (the CPU backends share it and its thread count).
  static CpuDevice& instance();

  std::string_view kind() const override { return "cpu"; }
  // Hot: CPU problems here mostly exceed the caches already, and flushing tens of MiB per sample
  // would dominate small problems' budgets.
  MeasureDefaults measure_defaults() const override { return {false, 0.01}; }
  const DeviceInfo& info() override;  // measures the ceilings on first call (about a second)
  std::unique_ptr<Timer> make_timer() override;
  void flush_caches() override;

  // Threads every CPU backend uses (OpenBLAS, oneDNN and ours alike). 0 means all hardware threads.
  void set_threads(int threads);
  int threads() const { return threads_; }

  // Measures the FMA ceiling once more and keeps the better: the start-up measurement (about
  // 60 ms) can fall in a slow stretch of a shared machine. Every measurement is listed in the
  // property fma_peak_checks_gflops. Returns whether the ceiling rose.
  bool recheck_fma_peak();

 private:
  CpuDevice();
  void record_fma_peak(double flops_per_s);
  DeviceInfo info_;
  bool peaks_measured_ = false;
  std::vector<double> fma_peak_checks_flops_per_s_;
  int threads_;
  std::vector<char> flush_buffer_;
};

// Measured ceilings, exposed for tests and `trainrate devices`.
double measure_fma_peak_flops_per_s(int threads);
// The bf16 ceiling: the ceiling loop of the bf16 micro-kernel gemm_bf16 picks (AMX-BF16 tile
// products, else VDPBF16PS chains) on `threads` threads, best of many short trials; empty where
// the CPU (or OS) offers neither, the only bf16 paths our kernels have.
std::optional<double> measure_bf16_peak_flops_per_s(int threads);
double measure_triad_bytes_per_s(int threads);

// MemAvailable from /proc/meminfo (what can be allocated without swapping), in bytes.
int64_t available_host_memory_bytes();

// Cache sizes of one instance at each level, as one core sees them: what cpu0's sysfs cache folder
// (/sys/devices/system/cpu/cpu0/cache) says; 0 for a level it does not list. Not glibc's sysconf:
// on an AMD EPYC VM its L3 figure was 320 MiB where the kernel and lscpu said 32 MiB.
struct CacheSizes {
  int64_t l1d_bytes = 0, l2_bytes = 0, l3_bytes = 0;
};
CacheSizes read_cache_sizes(const std::filesystem::path& cache_dir = "/sys/devices/system/cpu/cpu0/cache");
// The frequency scaling of one core: "cpufreq_governor" (performance, powersave, ...) and "cpu_mhz"
// (its current clock), each "unavailable" where the directory does not say (virtual machines
// often have no cpufreq at all). A rate that moved between runs may be a governor that changed.
std::map<std::string, std::string> read_cpufreq(
    const std::filesystem::path& cpufreq_dir = "/sys/devices/system/cpu/cpu0/cpufreq");
// sysfs size text ("32K", "32768K", "1M", "512") in bytes; empty when it is not one.
std::optional<int64_t> parse_cache_size_bytes(std::string_view text);

// A host is too busy to time on when its load average exceeds its cores less the one a benchmark
// needs: some other job then shares the cores the measurement runs on.
bool host_is_busy(double load_average, int cores);
// The 1-minute load average, empty where the OS does not give one.
std::optional<double> load_average_1min();

}  // namespace trainrate
