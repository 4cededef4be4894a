#include "backends/cpu/custom_cpu_memory.hpp"

#include <array>
#include <cstring>
#include <span>

#include "backends/cpu/cpu_prepared.hpp"
#include "kernels/cpu/memory_bound.hpp"

namespace trainrate {

namespace {

namespace kc = kernels::cpu;

using Floats = std::vector<float>;

// Input i in memory_inputs() order.
const Floats& input(const HostInputs& inputs, size_t i) {
  if (i == 0) return inputs.in0;
  if (i == 1) return inputs.in1;
  return inputs.more.at(i - 2);
}

std::vector<int32_t> as_int32(const Floats& values) {
  return std::vector<int32_t>(values.begin(), values.end());
}

// The kernels save 1/sqrt(variance + eps), the results file (like oneDNN) holds the variance.
void inv_std_to_variance(float* values, int64_t count) {
  for (int64_t i = 0; i < count; ++i) values[i] = float(variance_from_inv_std(values[i]));
}

Floats variance_to_inv_std(const Floats& variance) {
  Floats inv_std(variance.size());
  for (size_t i = 0; i < variance.size(); ++i) inv_std[i] = float(inv_std_from_variance(variance[i]));
  return inv_std;
}

using Kernel = CpuPrepared::Kernel;

Kernel eltwise(const MemoryProblem& m, const HostInputs& in) {
  const int64_t n = m.elements;
  const bool gelu = m.op == MemoryOp::gelu;
  if (!m.backward) {
    return [x = in.in0, n, gelu](float* y) { (gelu ? kc::gelu_forward : kc::relu_forward)(x.data(), y, n); };
  }
  return [x = in.in0, dy = in.in1, n, gelu](float* dx) {
    (gelu ? kc::gelu_backward : kc::relu_backward)(x.data(), dy.data(), dx, n);
  };
}

Kernel batchnorm(const MemoryProblem& m, const HostInputs& in) {
  const int64_t n = m.n, c = m.c, hw = m.h * m.w, image = n * c * hw;
  if (!m.backward) {
    return [x = in.in0, gamma = in.in1, beta = input(in, 2), n, c, hw, image](float* out) {
      kc::batchnorm_forward_training(x.data(), gamma.data(), beta.data(), out, out + image, out + image + c, n, c, hw,
                                     float(kNormEps));
      inv_std_to_variance(out + image + c, c);
    };
  }
  // Converted once here: a framework's backward receives the inverse deviation its forward saved.
  return [x = in.in0, dy = in.in1, gamma = input(in, 2), mean = input(in, 3), inv_std = variance_to_inv_std(input(in, 4)),
          n, c, hw, image](float* out) {
    kc::batchnorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), inv_std.data(), out, out + image,
                           out + image + c, n, c, hw);
  };
}

Kernel layernorm(const MemoryProblem& m, const HostInputs& in) {
  const int64_t rows = m.rows, cols = m.cols, matrix = rows * cols;
  if (!m.backward) {
    return [x = in.in0, gamma = in.in1, beta = input(in, 2), rows, cols, matrix](float* out) {
      kc::layernorm_forward(x.data(), gamma.data(), beta.data(), out, out + matrix, out + matrix + rows, rows, cols,
                            float(kNormEps));
      inv_std_to_variance(out + matrix + rows, rows);
    };
  }
  return [x = in.in0, dy = in.in1, gamma = input(in, 2), mean = input(in, 3), rstd = variance_to_inv_std(input(in, 4)),
          rows, cols, matrix](float* out) {
    kc::layernorm_backward(x.data(), dy.data(), gamma.data(), mean.data(), rstd.data(), out, out + matrix,
                           out + matrix + cols, rows, cols);
  };
}

Kernel pooling(const MemoryProblem& m, const HostInputs& in) {
  const bool max = m.op == MemoryOp::maxpool;
  if (!m.backward) {
    return [x = in.in0, m, max](float* y) {
      (max ? kc::maxpool_forward : kc::avgpool_forward)(x.data(), y, m.n, m.c, m.h, m.w, m.window, m.window, m.stride,
                                                        m.stride, m.pad, m.pad);
    };
  }
  if (max) {
    // The forward's indices, found here and not timed, as oneDNN's workspace is.
    std::vector<int32_t> where(size_t(m.n * m.c * m.p() * m.q()));
    kc::maxpool_argmax(in.in0.data(), where.data(), m.n, m.c, m.h, m.w, m.window, m.window, m.stride, m.stride, m.pad,
                       m.pad);
    return [where = std::move(where), dy = in.in1, m](float* dx) {
      kc::maxpool_backward(where.data(), dy.data(), dx, m.n * m.c, m.h * m.w, m.p() * m.q());
    };
  }
  return [dy = in.in0, m](float* dx) {
    kc::avgpool_backward(dy.data(), dx, m.n, m.c, m.h, m.w, m.window, m.window, m.stride, m.stride, m.pad, m.pad);
  };
}

Kernel softmax(const MemoryProblem& m, const HostInputs& in) {
  const float scale = float(m.scale);
  if (!m.backward) {
    return [x = in.in0, m, scale](float* y) { kc::softmax_forward(x.data(), y, m.rows, m.cols, scale, m.causal_seq); };
  }
  return [y = in.in0, dy = in.in1, m, scale](float* dx) {
    kc::softmax_backward(y.data(), dy.data(), dx, m.rows, m.cols, scale);
  };
}

Kernel loss_or_embedding(const MemoryProblem& m, const HostInputs& in) {
  const std::vector<int32_t> ints = as_int32(in.in1);
  if (m.op == MemoryOp::cross_entropy) {
    if (!m.backward) {
      return [logits = in.in0, ints, m](float* loss) {
        kc::cross_entropy_forward(logits.data(), ints.data(), loss, m.rows, m.cols);
      };
    }
    return [logits = in.in0, ints, m](float* dlogits) {
      kc::cross_entropy_backward(logits.data(), ints.data(), dlogits, m.rows, m.cols);
    };
  }
  if (!m.backward) {
    return [table = in.in0, ints, m](float* y) { kc::embedding_forward(table.data(), ints.data(), y, m.rows, m.cols); };
  }
  return [dy = in.in0, ints, m](float* dtable) {
    kc::embedding_backward(dy.data(), ints.data(), dtable, m.rows, m.vocab, m.cols);
  };
}

// One step on the output (w, then v or m, v): the fused kernel, or the form's chain of passes with
// two temporaries allocated here, once, as a framework's allocator hands back the same blocks.
Kernel update_kernel(const MemoryProblem& m, const Floats& g) {
  const int64_t n = m.elements;
  const bool adam = m.op == MemoryOp::adamw;
  const std::span<const ChainStep> chain = update_chain(m.op, m.form);
  if (chain.empty() && adam) {
    return [g, n](float* out) {
      kc::adamw_update(out, g.data(), out + n, out + 2 * n, n, float(kAdamW.lr), float(kAdamW.beta1),
                       float(kAdamW.beta2), float(kAdamW.eps), float(kAdamW.weight_decay), kAdamW.step);
    };
  }
  if (chain.empty()) {
    return [g, n](float* out) {
      kc::sgd_momentum_update(out, g.data(), out + n, n, float(kSgd.lr), float(kSgd.momentum),
                              float(kSgd.weight_decay));
    };
  }
  auto temporaries = std::make_shared<std::vector<float>>(size_t(2 * n));
  return [g, m, n, chain, temporaries](float* out) {
    const std::array<float*, 3> outputs{out, out + n, out + 2 * n};  // one n-float tensor each
    const std::array<float*, kChainSlots> slots = chain_slots(m, outputs, g.data(), temporaries->data());
    const auto at = [&](ChainSlot slot) { return slots[size_t(slot)]; };
    for (const ChainStep& s : chain) {
      kc::update_chain_pass(s.op, float(chain_coefficient(m.op, s.k)), at(s.out), at(s.a), at(s.b), at(s.c), n);
    }
  };
}

// The optimizers update their state in place, as in training: the output holds w and the moments,
// seeded from the inputs on the first run (which verification checks) and stepped again on every
// later one, so a timed run reads and writes exactly what a framework's step does.
Kernel optimizer(const MemoryProblem& m, const HostInputs& in) {
  const int64_t n = m.elements;
  const bool adam = m.op == MemoryOp::adamw;
  // Seeds in output order: w, then v (SGD) or m, v (AdamW); g is input 1 throughout.
  std::vector<Floats> seeds{in.in0};
  for (size_t i = 2; i < (adam ? 4u : 3u); ++i) seeds.push_back(input(in, i));
  auto seeded = std::make_shared<bool>(false);
  const Kernel step = update_kernel(m, in.in1);
  return [seeds, n, seeded, step](float* out) {
    if (!*seeded) {
      for (size_t i = 0; i < seeds.size(); ++i) std::memcpy(out + int64_t(i) * n, seeds[i].data(), size_t(n) * 4);
      *seeded = true;
    }
    step(out);
  };
}

Kernel kernel_for(const MemoryProblem& m, const HostInputs& in) {
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu: return eltwise(m, in);
    case MemoryOp::add:
      return [a = in.in0, b = in.in1, n = m.elements](float* y) { kc::add(a.data(), b.data(), y, n); };
    case MemoryOp::bias_add:
      return [x = in.in0, bias = in.in1, m](float* y) { kc::bias_add(x.data(), bias.data(), y, m.rows, m.cols); };
    case MemoryOp::batchnorm: return batchnorm(m, in);
    case MemoryOp::layernorm: return layernorm(m, in);
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: return pooling(m, in);
    case MemoryOp::softmax: return softmax(m, in);
    case MemoryOp::cross_entropy:
    case MemoryOp::embedding: return loss_or_embedding(m, in);
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return optimizer(m, in);
  }
  throw std::logic_error("unreachable memory op");
}

}  // namespace

std::unique_ptr<PreparedProblem> prepare_custom_memory(const MemoryProblem& problem, const HostInputs& inputs) {
  return std::make_unique<CpuPrepared>(problem, kernel_for(problem, inputs), "kernels/cpu memory-bound, plain layout");
}

}  // namespace trainrate
