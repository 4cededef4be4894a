// Which memory-bound layers each GPU backend runs, in which dtypes, and how their tensors are
// stored on the device: the one place for these rules. Free of CUDA headers so every build
// compiles and tests them (tests/test_cuda_memory_rules.cpp), as math_rules.hpp is.
#pragma once

#include <optional>
#include <string>

#include "problems/problem.hpp"

namespace trainrate {

// Why custom-cuda's kernels (kernels/cuda/memory_bound.hpp) cannot run `m`, or nothing. Every op
// takes fp32 (the optimizers in every form); the activations, adds, softmax and layer norm also store
// fp16 and bf16.
std::optional<std::string> custom_cuda_memory_unsupported(const MemoryProblem& m);

// Why cuDNN's legacy API cannot run `m` here, or nothing: it has ReLU (no GELU), OpTensor adds,
// spatial batch norm, pooling and an unscaled, unmasked softmax; no layer norm, loss, embedding or
// optimizer step. Batch norm and pooling run fp32, the rest fp32 and fp16.
std::optional<std::string> cudnn_memory_unsupported(const MemoryProblem& m);

// Whether tensor `name` of `m` is fp32 on the device whatever m.dtype says: a norm's parameters
// and statistics (gamma, beta, mean, variance and their gradients), as mixed-precision training
// keeps them and both cuDNN and our kernels take them. Integer tensors are int32 regardless.
bool stored_as_fp32(const MemoryProblem& m, std::string_view name);

}  // namespace trainrate
