// custom-cpu's memory-bound layers: our kernels (kernels/cpu/memory_bound.hpp) on plain NCHW and
// row-major tensors, the layouts a framework hands over, with the operands in the order
// memory_inputs() and memory_outputs() give them.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace trainrate {

std::unique_ptr<PreparedProblem> prepare_custom_memory(const MemoryProblem& problem, const HostInputs& inputs);

}  // namespace trainrate
