#include "devices/cpu_device.hpp"

#include <fmt/format.h>
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <chrono>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "kernels/cpu/gemm.hpp"

namespace trainrate {

namespace {

class SteadyClockTimer final : public Timer {
 public:
  void start() override { start_ = std::chrono::steady_clock::now(); }
  double stop_ms() override {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// The first value of `key` in /proc/cpuinfo ("model name", "cpu family", ...), or empty.
std::string cpuinfo_field(std::string_view key) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string_view name(line.data(), colon);
    name = name.substr(0, name.find_last_not_of(" \t") + 1);
    if (name != key) continue;
    const auto value = line.find_first_not_of(' ', colon + 1);
    return value == std::string::npos ? std::string() : line.substr(value);
  }
  return {};
}

std::string simd_level() {
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2+fma";
  return "baseline";
}

}  // namespace

namespace {
// The ceiling loop of `family` on `threads` threads. Many short trials, best kept: the ceiling is
// what the cores can do, and on a shared machine only a trial that ran without being preempted
// shows it. Each trial does 5·10^8 FLOPs per thread: a few milliseconds at fp32 FMA rates.
double measure_peak_flops_per_s(kernels::cpu::MicroKernel family, int threads) {
  const int64_t iterations = std::max<int64_t>(1, int64_t(5e8 / kernels::cpu::peak_loop(family, 1)));
  double best_flops_per_s = 0;
  for (int trial = 0; trial < 30; ++trial) {
    double flops = 0;
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
    { flops += kernels::cpu::peak_loop(family, iterations); }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best_flops_per_s = std::max(best_flops_per_s, flops / seconds);
  }
  return best_flops_per_s;
}
}  // namespace

double measure_fma_peak_flops_per_s(int threads) {
  // The widest fp32 family: on cores that split 512-bit vectors this equals the AVX2 ceiling.
  return measure_peak_flops_per_s(kernels::cpu::available_micro_kernels().back(), threads);
}

std::optional<double> measure_bf16_peak_flops_per_s(int threads) {
  const std::optional<kernels::cpu::MicroKernel> family = kernels::cpu::best_bf16_micro_kernel();
  if (!family) return std::nullopt;
  return measure_peak_flops_per_s(*family, threads);
}

double measure_triad_bytes_per_s(int threads) {
  // Three arrays of 32 MiB each: far beyond any last-level cache we expect to meet.
  const int64_t n = int64_t(32) << 20 >> 2;
  std::vector<float> a(static_cast<size_t>(n)), b(a.size(), 1.0f), c(a.size(), 2.0f);
  double best_bytes_per_s = 0;
  for (int trial = 0; trial < 10; ++trial) {
    const auto start = std::chrono::steady_clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) a[size_t(i)] = b[size_t(i)] + 3.0f * c[size_t(i)];
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best_bytes_per_s = std::max(best_bytes_per_s, 3.0 * sizeof(float) * double(n) / seconds);
  }
  return best_bytes_per_s;
}

int64_t available_host_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024;
  }
  return int64_t(sysconf(_SC_AVPHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
}

std::optional<int64_t> parse_cache_size_bytes(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end == text.data() || value < 0) return std::nullopt;
  const std::string_view unit(end, size_t(text.data() + text.size() - end));
  if (unit.empty()) return value;
  if (unit == "K") return value << 10;
  if (unit == "M") return value << 20;
  if (unit == "G") return value << 30;
  return std::nullopt;
}

CacheSizes read_cache_sizes(const std::filesystem::path& cache_dir) {
  CacheSizes sizes;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(cache_dir, error)) {
    if (!entry.path().filename().string().starts_with("index")) continue;
    const auto read = [&](const char* name) {
      std::ifstream in(entry.path() / name);
      std::string line;
      std::getline(in, line);
      return line;
    };
    const std::string level = read("level"), type = read("type");
    const int64_t bytes = parse_cache_size_bytes(read("size")).value_or(0);
    if (level == "1" && type == "Data") sizes.l1d_bytes = bytes;
    if (level == "2" && type != "Instruction") sizes.l2_bytes = bytes;
    if (level == "3" && type != "Instruction") sizes.l3_bytes = bytes;
  }
  return sizes;
}

std::map<std::string, std::string> read_cpufreq(const std::filesystem::path& cpufreq_dir) {
  const auto first_line = [&](const char* name) {
    std::ifstream in(cpufreq_dir / name);
    std::string line;
    std::getline(in, line);
    return line;
  };
  std::map<std::string, std::string> facts{{"cpufreq_governor", "unavailable"}, {"cpu_mhz", "unavailable"}};
  if (std::string governor = first_line("scaling_governor"); !governor.empty()) facts["cpufreq_governor"] = governor;
  const std::string khz_text = first_line("scaling_cur_freq");
  int64_t khz = 0;
  const auto [end, error] = std::from_chars(khz_text.data(), khz_text.data() + khz_text.size(), khz);
  if (error == std::errc() && end == khz_text.data() + khz_text.size() && khz > 0) {
    facts["cpu_mhz"] = std::to_string(khz / 1000);
  }
  return facts;
}

bool host_is_busy(double load_average, int cores) { return load_average > double(cores - 1); }

std::optional<double> load_average_1min() {
  double load = 0;
  if (getloadavg(&load, 1) != 1) return std::nullopt;
  return load;
}

CpuDevice& CpuDevice::instance() {
  static CpuDevice device;
  return device;
}

CpuDevice::CpuDevice() : threads_(int(std::max(1u, std::thread::hardware_concurrency()))) {
  info_.id = "cpu";
  info_.kind = "cpu";
  const std::string model_name = cpuinfo_field("model name");
  info_.name = model_name.empty() ? "unknown CPU" : model_name;
  // Virtual machines often report only "AMD EPYC": family and model tell Zen 2, 3 and 4 apart.
  for (const auto& [key, property] : {std::pair{"cpu family", "cpu_family"}, std::pair{"model", "cpu_model"}}) {
    if (std::string value = cpuinfo_field(key); !value.empty()) info_.properties[property] = value;
  }
  // Writing a buffer twice the last-level cache evicts the previous sample's operands. Virtual
  // machines can report the whole socket's L3 (hundreds of MiB) though a core only ever uses its
  // own slice (32 MiB per chiplet on current EPYCs), so the buffer is capped at 128 MiB.
  constexpr int64_t kMaxFlushBytes = int64_t(128) << 20;
  const int64_t l3_bytes = read_cache_sizes().l3_bytes;
  flush_buffer_.resize(size_t(std::min(2 * (l3_bytes > 0 ? l3_bytes : int64_t(32) << 20), kMaxFlushBytes)));
}

void CpuDevice::set_threads(int threads) {
  const int resolved = threads > 0 ? threads : int(std::max(1u, std::thread::hardware_concurrency()));
  if (resolved != threads_) {  // the ceilings belong to a thread count
    peaks_measured_ = false;
    fma_peak_checks_flops_per_s_.clear();
    info_.peaks.measured_flops_per_s.erase(Dtype::fp32);
    info_.peaks.measured_flops_per_s.erase(Dtype::bf16);
  }
  threads_ = resolved;
  omp_set_num_threads(threads_);
}

const DeviceInfo& CpuDevice::info() {
  if (!peaks_measured_) {
    auto& p = info_.properties;
    p["hardware_threads"] = std::to_string(std::thread::hardware_concurrency());
    p["threads_used"] = std::to_string(threads_);
    p["simd"] = simd_level();
    p["micro_kernel"] = std::string(kernels::cpu::to_string(kernels::cpu::best_micro_kernel()));
    if (auto gain = kernels::cpu::avx512_fma_gain()) p["avx512_fma_gain"] = fmt::format("{:.2f}", *gain);
    const CacheSizes caches = read_cache_sizes();
    p["l1d_bytes"] = std::to_string(caches.l1d_bytes);
    p["l2_bytes"] = std::to_string(caches.l2_bytes);
    p["l3_bytes"] = std::to_string(caches.l3_bytes);
    for (const auto& [key, value] : read_cpufreq()) p[key] = value;
    record_fma_peak(measure_fma_peak_flops_per_s(threads_));
    if (auto bf16 = measure_bf16_peak_flops_per_s(threads_)) info_.peaks.measured_flops_per_s[Dtype::bf16] = *bf16;
    info_.peaks.measured_bytes_per_s = measure_triad_bytes_per_s(threads_);
    peaks_measured_ = true;
  }
  return info_;
}

void CpuDevice::record_fma_peak(double flops_per_s) {
  fma_peak_checks_flops_per_s_.push_back(flops_per_s);
  std::string checks;
  for (double check : fma_peak_checks_flops_per_s_) {
    checks += fmt::format("{}{:.1f}", checks.empty() ? "" : ", ", check * 1e-9);
  }
  info_.properties["fma_peak_checks_gflops"] = checks;
  double& peak = info_.peaks.measured_flops_per_s[Dtype::fp32];
  peak = std::max(peak, flops_per_s);
}

bool CpuDevice::recheck_fma_peak() {
  const double before = info().peaks.measured_flops_per_s.at(Dtype::fp32);
  record_fma_peak(measure_fma_peak_flops_per_s(threads_));
  return info_.peaks.measured_flops_per_s.at(Dtype::fp32) > before;
}

std::unique_ptr<Timer> CpuDevice::make_timer() { return std::make_unique<SteadyClockTimer>(); }

void CpuDevice::flush_caches() {
  volatile char* bytes = flush_buffer_.data();
  for (size_t i = 0; i < flush_buffer_.size(); i += 64) bytes[i] = char(bytes[i] + 1);
}

}  // namespace trainrate
