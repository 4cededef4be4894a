#include "backends/cuda/cuda_device.hpp"

#include <cublas_v2.h>
#include <cudnn.h>
#include <dlfcn.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <stdexcept>
#include <utility>

#include "backends/cuda/vendor_check.hpp"
#include "devices/gpu_peaks.hpp"
#include "kernels/cuda/check.hpp"
#include "kernels/cuda/launch.hpp"

namespace trainrate {

namespace {

std::string version_text(int v, int major_div, int minor_div, int minor_mod) {
  return std::to_string(v / major_div) + "." + std::to_string((v / minor_div) % minor_mod);
}

class CudaEventTimer final : public Timer {
 public:
  explicit CudaEventTimer(const CudaDevice& device) : device_(device) {
    device_.activate();
    TRAINRATE_CUDA_CHECK(cudaEventCreate(&start_));
    TRAINRATE_CUDA_CHECK(cudaEventCreate(&stop_));
  }
  ~CudaEventTimer() override {
    cudaEventDestroy(start_);  // destructors never throw; a failure here leaves nothing to clean
    cudaEventDestroy(stop_);
  }
  void start() override {
    device_.activate();
    TRAINRATE_CUDA_CHECK(cudaEventRecord(start_, device_.stream()));
  }
  double stop_ms() override {
    TRAINRATE_CUDA_CHECK(cudaEventRecord(stop_, device_.stream()));
    TRAINRATE_CUDA_CHECK(cudaEventSynchronize(stop_));  // also surfaces asynchronous kernel errors
    float ms = 0;
    TRAINRATE_CUDA_CHECK(cudaEventElapsedTime(&ms, start_, stop_));
    return double(ms);
  }

 private:
  const CudaDevice& device_;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
};

// The fastest of five timed launches after one untimed (clocks, first-launch overheads).
double best_of_ms(const CudaDevice& device, const std::function<void()>& launch) {
  CudaEventTimer timer(device);
  double best = 0;
  launch();
  for (int i = 0; i < 5; ++i) {
    timer.start();
    launch();
    const double ms = timer.stop_ms();
    if (i == 0 || ms < best) best = ms;
  }
  return best;
}

// FLOP/s of a compute-ceiling kernel, `launch(sink)` returning the FLOPs of one launch; 0 when
// it could not be timed.
double ceiling_flops_per_s(const CudaDevice& device, const std::function<double(float*)>& launch) {
  DeviceBuffer sink(sizeof(float));
  double flop = 0;
  const double ms = best_of_ms(device, [&] { flop = launch(static_cast<float*>(sink.get())); });
  return ms > 0 ? flop / (ms * 1e-3) : 0;
}

}  // namespace

// NVML, loaded with dlopen so the binary still starts on machines without the driver (linking
// libnvidia-ml would make it a hard dependency). Only the calls we need, by their stable ABI.
struct CudaDevice::Nvml {
  using InitFn = int (*)();
  using HandleFn = int (*)(const char*, void**);
  using ClockFn = int (*)(void*, int, unsigned*);
  using PowerFn = int (*)(void*, unsigned*);  // milliwatts
  using DriverVersionFn = int (*)(char*, unsigned);
  using TemperatureFn = int (*)(void*, int, unsigned*);
  using ReasonsFn = int (*)(void*, unsigned long long*);
  static constexpr int kSuccess = 0, kClockSm = 1, kTemperatureGpu = 0;

  void* library = nullptr;
  void* device = nullptr;
  ClockFn clock_info = nullptr, default_app_clock = nullptr;
  PowerFn power_limit = nullptr, power_usage = nullptr;
  DriverVersionFn driver_version = nullptr;
  TemperatureFn temperature = nullptr;
  ReasonsFn clock_reasons = nullptr;

  explicit Nvml(const std::string& pci_bus_id) {
    library = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) return;
    auto init = reinterpret_cast<InitFn>(dlsym(library, "nvmlInit_v2"));
    auto handle = reinterpret_cast<HandleFn>(dlsym(library, "nvmlDeviceGetHandleByPciBusId_v2"));
    clock_info = reinterpret_cast<ClockFn>(dlsym(library, "nvmlDeviceGetClockInfo"));
    default_app_clock = reinterpret_cast<ClockFn>(dlsym(library, "nvmlDeviceGetDefaultApplicationsClock"));
    power_limit = reinterpret_cast<PowerFn>(dlsym(library, "nvmlDeviceGetEnforcedPowerLimit"));
    driver_version = reinterpret_cast<DriverVersionFn>(dlsym(library, "nvmlSystemGetDriverVersion"));
    temperature = reinterpret_cast<TemperatureFn>(dlsym(library, "nvmlDeviceGetTemperature"));
    power_usage = reinterpret_cast<PowerFn>(dlsym(library, "nvmlDeviceGetPowerUsage"));
    // Renamed from "throttle" to "clocks event" in driver 535; older drivers have only the first name.
    clock_reasons = reinterpret_cast<ReasonsFn>(dlsym(library, "nvmlDeviceGetCurrentClocksEventReasons"));
    if (!clock_reasons) {
      clock_reasons = reinterpret_cast<ReasonsFn>(dlsym(library, "nvmlDeviceGetCurrentClocksThrottleReasons"));
    }
    if (!init || !handle || init() != kSuccess || handle(pci_bus_id.c_str(), &device) != kSuccess) device = nullptr;
  }
  ~Nvml() {
    if (library) dlclose(library);  // nvmlShutdown is optional; the process is ending anyway
  }
  std::optional<double> clock(ClockFn fn) const {
    unsigned mhz = 0;
    if (!device || !fn || fn(device, kClockSm, &mhz) != kSuccess || mhz == 0) return std::nullopt;
    return double(mhz);
  }
  // Watts from a milliwatt reading: power_limit (what the board enforces now: a capped card is
  // slower for no fault of the code) or power_usage (what it draws).
  std::optional<double> watts(PowerFn fn) const {
    unsigned milliwatts = 0;
    if (!device || !fn || fn(device, &milliwatts) != kSuccess) return std::nullopt;
    return milliwatts / 1000.0;
  }
  std::optional<double> temperature_c() const {
    unsigned celsius = 0;
    if (!device || !temperature || temperature(device, kTemperatureGpu, &celsius) != kSuccess) return std::nullopt;
    return double(celsius);
  }
  std::optional<uint64_t> reasons() const {
    unsigned long long mask = 0;
    if (!device || !clock_reasons || clock_reasons(device, &mask) != kSuccess) return std::nullopt;
    return uint64_t(mask);
  }
  // The kernel driver's version ("580.65.06"), which the CUDA driver API number (13.0) does not give.
  std::optional<std::string> driver() const {
    char text[96] = {};
    if (!device || !driver_version || driver_version(text, sizeof text) != kSuccess) return std::nullopt;
    return std::string(text);
  }
};

CudaDevice::CudaDevice(int ordinal) : ordinal_(ordinal) {
  activate();
  TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&cc_major_, cudaDevAttrComputeCapabilityMajor, ordinal_));
  TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&cc_minor_, cudaDevAttrComputeCapabilityMinor, ordinal_));
  TRAINRATE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  char pci[64] = {};
  TRAINRATE_CUDA_CHECK(cudaDeviceGetPCIBusId(pci, sizeof(pci), ordinal_));
  nvml_ = std::make_unique<Nvml>(pci);
}

CudaDevice::~CudaDevice() {
  cudaSetDevice(ordinal_);
  if (flush_buffer_) cudaFree(flush_buffer_);
  if (stream_) cudaStreamDestroy(stream_);
}

void CudaDevice::activate() const { TRAINRATE_CUDA_CHECK(cudaSetDevice(ordinal_)); }

std::string CudaDevice::compute_capability_text() const {
  return std::to_string(cc_major_) + "." + std::to_string(cc_minor_);
}

const DeviceInfo& CudaDevice::info() {
  if (info_ready_) return info_;
  activate();
  auto attr = [&](cudaDeviceAttr a) {
    int v = 0;
    TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&v, a, ordinal_));
    return v;
  };
  cudaDeviceProp prop{};
  TRAINRATE_CUDA_CHECK(cudaGetDeviceProperties(&prop, ordinal_));
  const int sms = attr(cudaDevAttrMultiProcessorCount);
  const double clock_mhz = attr(cudaDevAttrClockRate) / 1000.0;          // kHz → MHz, maximum boost
  const double mem_clock_mhz = attr(cudaDevAttrMemoryClockRate) / 1000.0;
  const int bus_bits = attr(cudaDevAttrGlobalMemoryBusWidth);
  int driver = 0, runtime = 0;
  TRAINRATE_CUDA_CHECK(cudaDriverGetVersion(&driver));
  TRAINRATE_CUDA_CHECK(cudaRuntimeGetVersion(&runtime));
  int cublas_major = 0, cublas_minor = 0, cublas_patch = 0;
  TRAINRATE_CUBLAS_CHECK(cublasGetProperty(MAJOR_VERSION, &cublas_major));
  TRAINRATE_CUBLAS_CHECK(cublasGetProperty(MINOR_VERSION, &cublas_minor));
  TRAINRATE_CUBLAS_CHECK(cublasGetProperty(PATCH_LEVEL, &cublas_patch));
  const size_t cudnn = cudnnGetVersion();  // e.g. 91900 for 9.19.0
  char pci[64] = {};
  TRAINRATE_CUDA_CHECK(cudaDeviceGetPCIBusId(pci, sizeof(pci), ordinal_));

  info_.id = "cuda:" + std::to_string(ordinal_);
  info_.kind = "cuda";
  info_.name = prop.name;
  auto& p = info_.properties;
  p["compute_capability"] = compute_capability_text();
  p["sm_count"] = std::to_string(sms);
  p["sm_clock_max_mhz"] = std::to_string(int(clock_mhz));
  p["memory_clock_mhz"] = std::to_string(int(mem_clock_mhz));
  p["memory_bus_width_bits"] = std::to_string(bus_bits);
  p["memory_bytes"] = std::to_string(prop.totalGlobalMem);
  p["l2_cache_bytes"] = std::to_string(attr(cudaDevAttrL2CacheSize));
  p["shared_memory_per_sm_bytes"] = std::to_string(attr(cudaDevAttrMaxSharedMemoryPerMultiprocessor));
  p["ecc"] = attr(cudaDevAttrEccEnabled) ? "on" : "off";
  p["pci_bus_id"] = pci;
  p["driver_version"] = version_text(driver, 1000, 10, 100);
  p["runtime_version"] = version_text(runtime, 1000, 10, 100);
  p["cublas_version"] = std::to_string(cublas_major) + "." + std::to_string(cublas_minor) + "." +
                        std::to_string(cublas_patch);
  p["cudnn_version"] = std::to_string(cudnn / 10000) + "." + std::to_string((cudnn / 100) % 100) + "." +
                       std::to_string(cudnn % 100);
  if (auto clock = default_clock_mhz()) p["sm_clock_default_mhz"] = std::to_string(int(*clock));
  record_nvml_state(p);
  if (const auto row = sm_throughput(cc_major_, cc_minor_)) p["peak_table_note"] = row->note;

  info_.peaks = datasheet_peaks(cc_major_, cc_minor_, sms, clock_mhz, mem_clock_mhz, bus_bits);
  measure_ceilings();
  info_ready_ = true;
  return info_;
}

// Best of a few runs of each ceiling kernel, timed with events on our stream. A failure (e.g.
// too little free memory for the triad arrays) is recorded as a property, not thrown.
void CudaDevice::measure_ceilings() {
  try {
    const int blocks = std::stoi(info_.properties.at("sm_count")) * 8, threads = 256, iterations = 4096;
    const double flops_per_s = ceiling_flops_per_s(*this, [&](float* sink) {
      return cuda_kernels::fma_ceiling(blocks, threads, iterations, sink, stream_);
    });
    if (flops_per_s > 0) info_.peaks.measured_flops_per_s[Dtype::fp32] = flops_per_s;
  } catch (const std::exception& e) {
    info_.properties["fma_ceiling_error"] = e.what();
  }
  measure_mma_ceiling();
  try {
    // Each array at least 4× the L2 so the triad streams from DRAM.
    const int64_t l2 = std::stoll(info_.properties.at("l2_cache_bytes"));
    const int64_t n = std::max<int64_t>(int64_t(32) << 20, (4 * l2 / 4 + 3) / 4 * 4);
    DeviceBuffer a(size_t(n) * 4), b(size_t(n) * 4), c(size_t(n) * 4);
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(b.get(), 0, b.bytes(), stream_));
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(c.get(), 0, c.bytes(), stream_));
    double bytes = 0;
    const double ms = best_of_ms(*this, [&] {
      bytes = cuda_kernels::triad(static_cast<float*>(a.get()), static_cast<const float*>(b.get()),
                                  static_cast<const float*>(c.get()), n, stream_);
    });
    if (ms > 0) info_.peaks.measured_bytes_per_s = bytes / (ms * 1e-3);
  } catch (const std::exception& e) {
    info_.properties["triad_error"] = e.what();
  }
}

// A property, not an fp16 peak: on sm_90+ wgmma-based cuBLAS runs above what mma.sync reaches.
void CudaDevice::measure_mma_ceiling() {
  if (cc_major_ < 8) {
    info_.properties["mma_sync_ceiling_skipped"] =
        "needs sm_80+: the kernel issues mma.sync m16n8k16 (sm_75 has m16n8k8 only)";
    return;
  }
  try {
    // 4 blocks of 8 warps per SM, 8 chains each: more MMAs in flight than their latency needs.
    const int blocks = std::stoi(info_.properties.at("sm_count")) * 4, threads = 256, iterations = 4096;
    const double flops_per_s = ceiling_flops_per_s(*this, [&](float* sink) {
      return cuda_kernels::mma_ceiling(blocks, threads, iterations, sink, stream_);
    });
    if (flops_per_s > 0) info_.properties["mma_sync_fp16_ceiling_tflops"] = fmt::format("{:.1f}", flops_per_s / 1e12);
  } catch (const std::exception& e) {
    info_.properties["mma_sync_ceiling_error"] = e.what();
  }
}

std::unique_ptr<Timer> CudaDevice::make_timer() { return std::make_unique<CudaEventTimer>(*this); }

void CudaDevice::flush_caches() {
  activate();
  if (!flush_buffer_) {
    int l2 = 0;
    TRAINRATE_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, ordinal_));
    flush_bytes_ = std::max<size_t>(size_t(2) * size_t(l2), size_t(8) << 20);
    TRAINRATE_CUDA_CHECK(cudaMalloc(&flush_buffer_, flush_bytes_));
  }
  flush_value_ = (flush_value_ + 1) & 0xff;  // a different value each time: no write can be elided
  TRAINRATE_CUDA_CHECK(cudaMemsetAsync(flush_buffer_, int(flush_value_), flush_bytes_, stream_));
}

// What may differ between two runs on one card without any change to the code: the clock it sat
// at, the power cap, the kernel driver.
void CudaDevice::record_nvml_state(std::map<std::string, std::string>& properties) {
  properties["sm_clock_at_start_mhz"] = "unavailable";
  properties["power_limit_w"] = "unavailable";
  properties["nvidia_driver"] = "unavailable";
  if (!nvml_) return;
  if (auto mhz = nvml_->clock(nvml_->clock_info)) properties["sm_clock_at_start_mhz"] = std::to_string(int(*mhz));
  if (auto watts = nvml_->watts(nvml_->power_limit)) properties["power_limit_w"] = std::to_string(int(*watts));
  if (auto driver = nvml_->driver()) properties["nvidia_driver"] = *driver;
}

std::optional<DeviceState> CudaDevice::state() {
  if (!nvml_ || !nvml_->device) return std::nullopt;
  DeviceState state;
  state.sm_clock_mhz = nvml_->clock(nvml_->clock_info);
  state.temperature_c = nvml_->temperature_c();
  state.power_w = nvml_->watts(nvml_->power_usage);
  if (const std::optional<uint64_t> mask = nvml_->reasons()) state.slowdowns = slowdown_names(*mask);
  return state;
}

std::optional<double> CudaDevice::default_clock_mhz() {
  if (nvml_)
    if (auto mhz = nvml_->clock(nvml_->default_app_clock)) return mhz;
  int khz = 0;
  if (cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, ordinal_) != cudaSuccess || khz <= 0) return std::nullopt;
  return khz / 1000.0;
}

// ---- DeviceOperands ----

DeviceOperands::DeviceOperands(const CudaDevice& device, const Problem& problem, const HostInputs& inputs)
    : dtype(dtype_of(problem)) {
  device.activate();
  const OperandSizes sizes = operand_elements(problem);
  out_elements = sizes.output;
  in0 = upload(device.stream(), inputs.in0, sizes.input0, dtype, "input 0");
  in1 = upload(device.stream(), inputs.in1, sizes.input1, dtype, "input 1");
  out = DeviceBuffer(size_t(sizes.output) * size_t(storage_bytes(dtype)));
  TRAINRATE_CUDA_CHECK(cudaMemsetAsync(out.get(), 0xff, out.bytes(), device.stream()));
  TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(device.stream()));
}

std::vector<float> DeviceOperands::read_output(const CudaDevice& device) const {
  device.activate();
  return download(device.stream(), out, out_elements, dtype);
}

std::optional<std::string> CudaDevice::fatal_error() {
  activate();
  const cudaError_t status = cudaDeviceSynchronize();
  if (status == cudaSuccess) return std::nullopt;
  // Non-sticky errors (a bad launch configuration, say) are cleared by reading them once.
  cudaGetLastError();
  if (cudaDeviceSynchronize() == cudaSuccess) return std::nullopt;
  return std::string("CUDA context unusable after ") + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
}

std::optional<int64_t> CudaDevice::free_device_memory_bytes() {
  activate();
  size_t free_bytes = 0, total_bytes = 0;
  if (cudaMemGetInfo(&free_bytes, &total_bytes) != cudaSuccess) return std::nullopt;
  return int64_t(free_bytes);
}

}  // namespace trainrate
