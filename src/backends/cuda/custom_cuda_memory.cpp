#include "backends/cuda/custom_cuda_memory.hpp"

#include <array>

#include "backends/cuda/memory_operands.hpp"
#include "kernels/cuda/memory_bound.hpp"

namespace trainrate {

namespace {

namespace k = cuda_kernels;

// The scratch the op's launcher asks for (multi-block reductions; an optimizer chain's two
// temporaries), 0 for the rest.
size_t workspace_bytes_for(const MemoryProblem& m) {
  if (!update_chain(m.op, m.form).empty()) return 2 * size_t(m.elements) * sizeof(float);
  if (m.op == MemoryOp::batchnorm) return k::batchnorm_workspace_bytes(m.n, m.c, m.h * m.w);
  if (m.op == MemoryOp::layernorm && m.backward) return k::layernorm_backward_workspace_bytes(m.rows, m.cols);
  return 0;
}

k::PoolShape pool_shape(const MemoryProblem& m) {
  return {m.n, m.c, m.h, m.w, m.window, m.window, m.stride, m.stride, m.pad, m.pad};
}

class Launch {
 public:
  Launch(const MemoryProblem& m, const MemoryOperands& ops, void* workspace, cudaStream_t stream)
      : m_(m), ops_(ops), ws_(workspace), s_(stream) {}

  void operator()() const {
    switch (m_.op) {
      case MemoryOp::relu:
      case MemoryOp::gelu: return activation();
      case MemoryOp::add: return k::add(m_.dtype, in(0), in(1), out(0), m_.elements, s_);
      case MemoryOp::bias_add: return k::bias_add(m_.dtype, in(0), in(1), out(0), m_.rows, m_.cols, s_);
      case MemoryOp::batchnorm: return batchnorm();
      case MemoryOp::layernorm: return layernorm();
      case MemoryOp::maxpool:
      case MemoryOp::avgpool: return pooling();
      case MemoryOp::softmax: return softmax();
      case MemoryOp::cross_entropy: return cross_entropy();
      case MemoryOp::embedding: return embedding();
      case MemoryOp::sgd_momentum:
        if (!update_chain(m_.op, m_.form).empty()) return chain();
        return k::sgd_momentum_update(fout(0), fin(1), fout(1), m_.elements, float(kSgd.lr), float(kSgd.momentum),
                                      float(kSgd.weight_decay), s_);
      case MemoryOp::adamw:
        if (!update_chain(m_.op, m_.form).empty()) return chain();
        return k::adamw_update(fout(0), fin(1), fout(1), fout(2), m_.elements, float(kAdamW.lr), float(kAdamW.beta1),
                               float(kAdamW.beta2), float(kAdamW.eps), float(kAdamW.weight_decay), kAdamW.step, s_);
    }
  }

 private:
  const void* in(size_t i) const { return ops_.in(i); }
  void* out(size_t i) const { return ops_.out(i); }
  const float* fin(size_t i) const { return static_cast<const float*>(in(i)); }
  float* fout(size_t i) const { return static_cast<float*>(out(i)); }
  const int32_t* iin(size_t i) const { return static_cast<const int32_t*>(in(i)); }

  void activation() const {
    const bool gelu = m_.op == MemoryOp::gelu;
    if (m_.backward) return (gelu ? k::gelu_backward : k::relu_backward)(m_.dtype, in(0), in(1), out(0), m_.elements, s_);
    (gelu ? k::gelu_forward : k::relu_forward)(m_.dtype, in(0), out(0), m_.elements, s_);
  }

  void batchnorm() const {
    const int64_t hw = m_.h * m_.w;
    if (m_.backward) {
      return k::batchnorm_backward(fin(0), fin(1), fin(2), fin(3), fin(4), fout(0), fout(1), fout(2), m_.n, m_.c, hw,
                                   ws_, s_);
    }
    k::batchnorm_forward_training(fin(0), fin(1), fin(2), fout(0), fout(1), fout(2), m_.n, m_.c, hw, float(kNormEps),
                                  ws_, s_);
  }

  void layernorm() const {
    if (m_.backward) {
      return k::layernorm_backward(m_.dtype, in(0), in(1), fin(2), fin(3), fin(4), out(0), fout(1), fout(2), m_.rows,
                                   m_.cols, ws_, s_);
    }
    k::layernorm_forward(m_.dtype, in(0), fin(1), fin(2), out(0), fout(1), fout(2), m_.rows, m_.cols, float(kNormEps),
                         s_);
  }

  void pooling() const {
    const k::PoolShape shape = pool_shape(m_);
    if (m_.op == MemoryOp::maxpool) {
      if (m_.backward) return k::maxpool_backward(shape, fin(0), fin(1), fout(0), s_);
      return k::maxpool_forward(shape, fin(0), fout(0), s_);
    }
    if (m_.backward) return k::avgpool_backward(shape, fin(0), fout(0), s_);
    k::avgpool_forward(shape, fin(0), fout(0), s_);
  }

  void softmax() const {
    const float scale = float(m_.scale);
    if (m_.backward) return k::softmax_backward(m_.dtype, in(0), in(1), out(0), m_.rows, m_.cols, scale, s_);
    k::softmax_forward(m_.dtype, in(0), out(0), m_.rows, m_.cols, scale, m_.causal_seq, s_);
  }

  void cross_entropy() const {
    if (m_.backward) return k::cross_entropy_backward(fin(0), iin(1), fout(0), m_.rows, m_.cols, s_);
    k::cross_entropy_forward(fin(0), iin(1), fout(0), m_.rows, m_.cols, s_);
  }

  // The outputs hold w, then v (SGD) or m, v (AdamW), seeded from the inputs; g is input 1 and the
  // temporaries t0, t1 are the workspace.
  void chain() const {
    const bool sgd = m_.op == MemoryOp::sgd_momentum;  // outputs w, v (SGD) or w, m, v (AdamW)
    const std::array<float*, 3> outputs{fout(0), fout(1), sgd ? nullptr : fout(2)};
    const std::array<float*, kChainSlots> slots = chain_slots(m_, outputs, fin(1), static_cast<float*>(ws_));
    const auto at = [&](ChainSlot s) { return slots[size_t(s)]; };
    for (const ChainStep& s : update_chain(m_.op, m_.form)) {
      k::update_chain_pass(s.op, float(chain_coefficient(m_.op, s.k)), at(s.out), at(s.a), at(s.b), at(s.c),
                           m_.elements, s_);
    }
  }

  void embedding() const {
    if (m_.backward) return k::embedding_backward(fin(0), iin(1), fout(0), m_.rows, m_.vocab, m_.cols, s_);
    k::embedding_forward(fin(0), iin(1), fout(0), m_.rows, m_.cols, s_);
  }

  const MemoryProblem& m_;
  const MemoryOperands& ops_;
  void* ws_;
  cudaStream_t s_;
};

}  // namespace

CustomCudaMemoryPass::CustomCudaMemoryPass(cudaStream_t stream, const MemoryProblem& m, const HostInputs& inputs)
    : stream_(stream), m_(m), operands_(stream, m, inputs), workspace_(workspace_bytes_for(m)) {}

void CustomCudaMemoryPass::run() const { Launch(m_, operands_, workspace_.get(), stream_)(); }

}  // namespace trainrate
