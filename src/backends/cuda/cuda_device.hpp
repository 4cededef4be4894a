// A CUDA GPU as a trainrate Device, plus the device-memory plumbing every GPU backend shares.
//
// The device owns one non-blocking stream; every GPU backend enqueues its work there, so the
// event timer, the L2 flush and the runs are ordered without extra synchronization.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.hpp"
#include "backends/cuda/device_memory.hpp"
#include "devices/device.hpp"

namespace trainrate {

class CudaDevice final : public Device {
 public:
  // Binds to device `ordinal`, creates its stream. Throws std::runtime_error when unusable.
  explicit CudaDevice(int ordinal);
  ~CudaDevice() override;
  CudaDevice(const CudaDevice&) = delete;
  CudaDevice& operator=(const CudaDevice&) = delete;

  std::string_view kind() const override { return "cuda"; }
  // nvbench's default: the L2 flushed before each sample; GPU timers are steady enough for 0.5%.
  MeasureDefaults measure_defaults() const override { return {true, 0.005}; }
  // Properties and datasheet peaks; the ceilings (FMA kernel, triad) are measured on the first call.
  const DeviceInfo& info() override;
  std::unique_ptr<Timer> make_timer() override;
  // cudaMemsetAsync over a buffer twice the L2 size (allocated on first use) on the stream.
  void flush_caches() override;
  // SM clock, temperature, power draw and clock slowdowns from NVML (loaded at run time; absent
  // without the driver's libnvidia-ml).
  std::optional<DeviceState> state() override;
  // NVML's default applications SM clock, else the maximum clock CUDA reports.
  std::optional<double> default_clock_mhz();
  // A sticky error (illegal address, launch failure, ...) is returned again by every later call,
  // so a synchronize after a failure tells whether the context is still usable.
  std::optional<std::string> fatal_error() override;
  std::optional<int64_t> free_device_memory_bytes() override;

  int ordinal() const { return ordinal_; }
  cudaStream_t stream() const { return stream_; }
  int compute_capability() const { return cc_major_ * 10 + cc_minor_; }  // e.g. 90
  std::string compute_capability_text() const;                           // e.g. "9.0"
  // Makes this device current for the calling thread (cheap; every GPU entry point calls it).
  void activate() const;

 private:
  void measure_ceilings();
  void measure_mma_ceiling();
  void record_nvml_state(std::map<std::string, std::string>& properties);

  int ordinal_;
  int cc_major_ = 0, cc_minor_ = 0;
  cudaStream_t stream_ = nullptr;
  DeviceInfo info_;
  bool info_ready_ = false;
  void* flush_buffer_ = nullptr;
  size_t flush_bytes_ = 0;
  unsigned flush_value_ = 0;
  struct Nvml;
  std::unique_ptr<Nvml> nvml_;
};

// The two inputs and the output of a problem on the device, in the problem's storage type
// (fp32/tf32 as float, fp16 as __half, bf16 as __nv_bfloat16). Inputs are converted from the
// host floats (exactly representable by contract); the output starts as all-ones bytes (NaN in
// every dtype) so an element a kernel forgets to write can never pass verification.
struct DeviceOperands {
  DeviceOperands(const CudaDevice& device, const Problem& problem, const HostInputs& inputs);
  // Copies the output back (synchronizing the stream) and widens it to float.
  std::vector<float> read_output(const CudaDevice& device) const;

  Dtype dtype;
  int64_t out_elements = 0;
  DeviceBuffer in0, in1, out;
};

}  // namespace trainrate
