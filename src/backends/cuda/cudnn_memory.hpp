// cudnn's memory-bound layers through cuDNN's legacy API, on the plain NCHW and row-major tensors
// of MemoryOperands; which ops and dtypes is memory_rules.hpp's cudnn_memory_unsupported.
#pragma once

#include <cudnn.h>

#include <memory>

#include "backends/cuda/cuda_device.hpp"

namespace trainrate {

// `m` must pass cudnn_memory_unsupported; `handle` runs on the device's stream, which is current.
std::unique_ptr<PreparedProblem> prepare_cudnn_memory(std::shared_ptr<CudaDevice> device, cudnnHandle_t handle,
                                                      const MemoryProblem& m, const HostInputs& inputs);

}  // namespace trainrate
