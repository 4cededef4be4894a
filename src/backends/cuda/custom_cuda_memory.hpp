// custom-cuda's memory-bound layers: our kernels (kernels/cuda/memory_bound.hpp) on the plain
// NCHW and row-major tensors of MemoryOperands. Free of CudaDevice (the CUDA runtime only), so the
// host emulation of the kernels runs the whole pass, verified (tests/cuda_host).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "backends/cuda/memory_operands.hpp"

namespace trainrate {

class CustomCudaMemoryPass {
 public:
  // `m` must pass custom_cuda_memory_unsupported (memory_rules.hpp). Copies the inputs on
  // `stream` and allocates the launcher's workspace.
  CustomCudaMemoryPass(cudaStream_t stream, const MemoryProblem& m, const HostInputs& inputs);
  // Enqueues the op's launcher on the stream, without synchronizing.
  void run() const;
  // The outputs as the verifier reads them (MemoryOperands::read_outputs).
  std::vector<float> output() const { return operands_.read_outputs(stream_); }
  int64_t workspace_bytes() const { return int64_t(workspace_.bytes()); }

 private:
  cudaStream_t stream_;
  MemoryProblem m_;
  MemoryOperands operands_;
  DeviceBuffer workspace_;
};

}  // namespace trainrate
