// The CPU backends: vendor libraries (OpenBLAS, oneDNN) and ours (kernels/cpu).
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.hpp"

namespace trainrate {

std::unique_ptr<Backend> make_openblas_backend();
std::unique_ptr<Backend> make_onednn_backend();
// "custom-cpu" (best micro-kernel) followed by "custom-cpu/<micro-kernel>" for each one this CPU runs.
std::vector<std::unique_ptr<Backend>> make_custom_cpu_backends();

std::string openblas_version();
std::string onednn_version();

}  // namespace trainrate
