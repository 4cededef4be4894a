// A memory-bound problem's tensors on the GPU, shared by custom-cuda and cudnn: one buffer per
// tensor, inputs in memory_inputs() order and outputs in memory_outputs() order. Storage: int32
// for integer tensors, fp32 where stored_as_fp32 (memory_rules.hpp) says, else the problem's dtype.
//
// Two conventions both backends need, applied here outside the timed runs:
//  - a norm's saved statistic is 1/√(variance + eps) on the device (cuDNN and our kernels both keep
//    it) but the variance in the problem: converted on upload (backward input) and on read-back
//    (forward output);
//  - an output named like an input (the optimizers' w, m, v) starts as that input and every run
//    updates it in place, as a training step does; every other output starts as all-ones bytes
//    (NaN), so an element a backend forgets to write cannot pass verification.
#pragma once

#include <vector>

#include "backends/cuda/device_memory.hpp"
#include "problems/host_inputs.hpp"

namespace trainrate {

class MemoryOperands {
 public:
  // Copies on `stream` (of the current device) and waits for them.
  MemoryOperands(cudaStream_t stream, const MemoryProblem& m, const HostInputs& inputs);

  const void* in(size_t i) const { return inputs_.at(i).get(); }
  void* out(size_t i) const { return outputs_.at(i).get(); }
  // Every output copied back (synchronizing the stream), widened to float and concatenated in
  // memory_outputs() order, as the verifier reads them.
  std::vector<float> read_outputs(cudaStream_t stream) const;

 private:
  MemoryProblem m_;
  std::vector<DeviceBuffer> inputs_, outputs_;
};

}  // namespace trainrate
