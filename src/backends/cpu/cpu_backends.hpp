// The CPU backends: vendor libraries (OpenBLAS, oneDNN) and ours (kernels/cpu).
#pragma once

#include <memory>
#include <vector>

#include "backends/backend.hpp"

namespace trainrate {

std::unique_ptr<Backend> make_openblas_backend();
std::unique_ptr<Backend> make_onednn_backend();
// oneDNN's convolutions called as a framework calls them: plain tensors in and out, reorders timed.
std::unique_ptr<Backend> make_onednn_plain_backend();
// "custom-cpu" (best micro-kernel) followed by "custom-cpu/<micro-kernel>" for each one this CPU runs.
std::vector<std::unique_ptr<Backend>> make_custom_cpu_backends();

// OpenBLAS's DYNAMIC_ARCH build picks its kernels from the CPU models it knew when it was
// released; on a newer CPU it falls back to narrower, slower ones (Debian 12's 0.3.21 runs generic
// SSE3 kernels on Emerald Rapids and AVX2 ones on Zen 5), and every custom/openblas ratio would
// flatter us. Call first thing in main: when the library
// picked kernels narrower than the CPU's vectors, this restarts the program (same arguments) with
// OPENBLAS_CORETYPE naming the newest of its cores that the CPU runs. A user's own
// OPENBLAS_CORETYPE is left alone.
void use_openblas_kernels_for_this_cpu(char** argv);
// OpenBLAS's configuration string (version, core), saying when trainrate chose the core or the
// library runs narrower kernels than this CPU could.
std::string openblas_version();
std::string onednn_version();

}  // namespace trainrate
