#include "backends/cuda/memory_operands.hpp"

#include <cuda_runtime_api.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "backends/cuda/memory_rules.hpp"
#include "kernels/cuda/check.hpp"

namespace trainrate {

namespace {

Dtype storage_of(const MemoryProblem& m, const MemoryTensor& tensor) {
  return stored_as_fp32(m, tensor.name) ? Dtype::fp32 : m.dtype;
}

// Input i in memory_inputs() order.
const std::vector<float>& host_input(const HostInputs& inputs, size_t i) {
  if (i == 0) return inputs.in0;
  if (i == 1) return inputs.in1;
  return inputs.more.at(i - 2);
}

// Whole numbers held in floats (HostInputs contract) → an int32 device buffer.
DeviceBuffer upload_int32(cudaStream_t stream, const std::vector<float>& host) {
  const std::vector<int32_t> values(host.begin(), host.end());
  DeviceBuffer buffer(values.size() * sizeof(int32_t));
  if (!values.empty()) {
    TRAINRATE_CUDA_CHECK(cudaMemcpyAsync(buffer.get(), values.data(), buffer.bytes(), cudaMemcpyHostToDevice, stream));
    TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(stream));  // `values` dies at return
  }
  return buffer;
}

std::vector<float> inv_std_of(const std::vector<float>& variance) {
  std::vector<float> inv_std(variance.size());
  for (size_t i = 0; i < variance.size(); ++i) inv_std[i] = float(inv_std_from_variance(variance[i]));
  return inv_std;
}

}  // namespace

MemoryOperands::MemoryOperands(cudaStream_t stream, const MemoryProblem& m, const HostInputs& inputs) : m_(m) {
  const std::vector<MemoryTensor> ins = memory_inputs(m);
  for (size_t i = 0; i < ins.size(); ++i) {
    const MemoryTensor& t = ins[i];
    const std::vector<float>& host = host_input(inputs, i);
    if (int64_t(host.size()) != t.elements)
      throw std::invalid_argument(std::string(t.name) + " has " + std::to_string(host.size()) + " elements, expected " +
                                  std::to_string(t.elements));
    if (t.integer) {
      inputs_.push_back(upload_int32(stream, host));
    } else {
      const std::string what(t.name);
      inputs_.push_back(upload(stream, t.name == "variance" ? inv_std_of(host) : host, t.elements, storage_of(m, t),
                               what.c_str()));
    }
  }
  for (const MemoryTensor& t : memory_outputs(m)) {
    size_t seed = ins.size();
    for (size_t i = 0; i < ins.size(); ++i)
      if (ins[i].name == t.name) seed = i;
    const Dtype dtype = storage_of(m, t);
    if (seed < ins.size()) {
      const std::string what(t.name);
      outputs_.push_back(upload(stream, host_input(inputs, seed), t.elements, dtype, what.c_str()));
      continue;
    }
    outputs_.emplace_back(size_t(t.elements) * size_t(storage_bytes(dtype)));
    TRAINRATE_CUDA_CHECK(cudaMemsetAsync(outputs_.back().get(), 0xff, outputs_.back().bytes(), stream));
  }
  TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(stream));
}

std::vector<float> MemoryOperands::read_outputs(cudaStream_t stream) const {
  std::vector<float> all;
  const std::vector<MemoryTensor> outs = memory_outputs(m_);
  for (size_t i = 0; i < outs.size(); ++i) {
    std::vector<float> values = download(stream, outputs_[i], outs[i].elements, storage_of(m_, outs[i]));
    if (outs[i].name == "variance")
      for (float& v : values) v = float(variance_from_inv_std(v));
    all.insert(all.end(), values.begin(), values.end());
  }
  return all;
}

}  // namespace trainrate
