// Entry point of the GPU path, compiled only when TRAINRATE_HAVE_CUDA is defined.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.hpp"

namespace trainrate {

// Appends cublas, cudnn and every custom-cuda variant for each usable GPU. Returns an empty string
// on success, or why no GPU backend could be created (no device, driver older than the runtime, ...).
std::string append_cuda_backends(std::vector<std::unique_ptr<Backend>>& backends);

}  // namespace trainrate
