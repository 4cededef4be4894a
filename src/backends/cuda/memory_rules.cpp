#include "backends/cuda/memory_rules.hpp"

#include <fmt/format.h>

namespace trainrate {

namespace {

// tf32 is a math mode of GEMM and convolution; a memory-bound layer has no multiply to apply it to.
std::optional<std::string> tf32_reason(const MemoryProblem& m) {
  if (m.dtype != Dtype::tf32) return std::nullopt;
  return fmt::format("{} stores fp32, fp16 or bf16; tf32 is a math mode of GEMM and convolution only", to_string(m.op));
}

bool stores_halves(MemoryOp op) {
  switch (op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add:
    case MemoryOp::bias_add:
    case MemoryOp::softmax:
    case MemoryOp::layernorm: return true;
    default: return false;
  }
}

}  // namespace

std::optional<std::string> custom_cuda_memory_unsupported(const MemoryProblem& m) {
  if (auto reason = tf32_reason(m)) return reason;
  if (m.dtype != Dtype::fp32 && !stores_halves(m.op)) {
    return fmt::format("custom-cuda's {} kernels store fp32 only", to_string(m.op));
  }
  return std::nullopt;
}

std::optional<std::string> cudnn_memory_unsupported(const MemoryProblem& m) {
  switch (m.op) {
    case MemoryOp::gelu: return std::string("cuDNN's legacy activations have no GELU");
    case MemoryOp::layernorm: return std::string("cuDNN's legacy API has no layer norm");
    case MemoryOp::cross_entropy: return std::string("cuDNN has no cross-entropy loss");
    case MemoryOp::embedding: return std::string("cuDNN has no embedding (gather / scatter-add)");
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return std::string("cuDNN has no optimizer step");
    case MemoryOp::softmax:
      if (m.causal_seq > 0) return std::string("cuDNN's softmax has no causal mask");
      if (m.scale != 1.0) return std::string("cuDNN's softmax has no input scale (its alpha scales the output)");
      break;
    default: break;
  }
  if (auto reason = tf32_reason(m)) return reason;
  const bool fp32_only = m.op == MemoryOp::batchnorm || m.op == MemoryOp::maxpool || m.op == MemoryOp::avgpool;
  if (m.dtype == Dtype::fp32 || (m.dtype == Dtype::fp16 && !fp32_only)) return std::nullopt;
  // Batch norm would keep fp32 statistics beside fp16 data (a mixed layout the problem does not
  // state); fp16 pooling windows often tie, and cuDNN does not promise the first-maximum routing.
  return fmt::format("cudnn runs {} in {} here, not {}", to_string(m.op), fp32_only ? "fp32 only" : "fp32 and fp16",
                     to_string(m.dtype));
}

bool stored_as_fp32(const MemoryProblem& m, std::string_view name) {
  if (m.op != MemoryOp::batchnorm && m.op != MemoryOp::layernorm) return false;
  return name != "x" && name != "dy" && name != "y" && name != "dx";
}

}  // namespace trainrate
