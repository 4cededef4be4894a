// oneDNN's primitives for the memory-bound layers, used by the onednn backend.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/backend.hpp"

namespace trainrate {

// The one CPU engine every oneDNN primitive of this process runs on.
dnnl::engine& onednn_engine();

// Empty when oneDNN has a primitive for the pass; otherwise which one it lacks.
std::optional<std::string> onednn_memory_unsupported(const MemoryProblem& m);
// Buffers in plain layouts (NCHW, row-major), as a framework holds them, so the timed call is the
// one a framework makes; a max-pool backward gets its forward's workspace by one forward run here.
std::unique_ptr<PreparedProblem> prepare_onednn_memory(const MemoryProblem& m, const HostInputs& inputs);

}  // namespace trainrate
