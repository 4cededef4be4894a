#include "backends/cpu/onednn_memory.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace trainrate {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;
constexpr auto f32 = memory::data_type::f32;
const auto kScaleShift = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;

// The primitive with its plain-layout operands; output() concatenates the output tensors in
// memory_outputs order.
class MemoryPrepared final : public PreparedProblem {
 public:
  MemoryPrepared(dnnl::primitive primitive, Args args, std::vector<int> outputs, std::string algorithm)
      : stream_(onednn_engine()),
        primitive_(std::move(primitive)),
        args_(std::move(args)),
        outputs_(std::move(outputs)),
        algorithm_(std::move(algorithm)) {}

  void run() override {
    primitive_.execute(stream_, args_);
    stream_.wait();
  }

  std::vector<float> output() override {
    std::vector<float> out;
    for (int arg : outputs_) {
      const memory& m = args_.at(arg);
      const auto* data = static_cast<const float*>(m.get_data_handle());
      out.insert(out.end(), data, data + m.get_desc().get_size() / sizeof(float));
    }
    return out;
  }

  std::string algorithm() const override { return algorithm_; }

 private:
  dnnl::stream stream_;
  dnnl::primitive primitive_;
  Args args_;
  std::vector<int> outputs_;
  std::string algorithm_;
};

memory filled(const memory::desc& desc, const std::vector<float>& host) {
  memory m(desc, onednn_engine());
  std::copy(host.begin(), host.end(), static_cast<float*>(m.get_data_handle()));
  return m;
}

memory empty(const memory::desc& desc) { return memory(desc, onednn_engine()); }

memory::desc vector_desc(int64_t elements) { return {{elements}, f32, tag::a}; }
memory::desc matrix_desc(int64_t rows, int64_t cols) { return {{rows, cols}, f32, tag::ab}; }
memory::desc image_desc(const MemoryProblem& m) { return {{m.n, m.c, m.h, m.w}, f32, tag::nchw}; }

template <typename Primitive>
std::unique_ptr<PreparedProblem> prepared(const typename Primitive::primitive_desc& pd, Args args,
                                          std::vector<int> outputs) {
  return std::make_unique<MemoryPrepared>(Primitive(pd), std::move(args), std::move(outputs),
                                          fmt::format("onednn {}", pd.impl_info_str()));
}

std::unique_ptr<PreparedProblem> eltwise(const MemoryProblem& m, const HostInputs& in) {
  const auto alg = m.op == MemoryOp::relu ? dnnl::algorithm::eltwise_relu : dnnl::algorithm::eltwise_gelu_erf;
  const memory::desc d = vector_desc(m.elements);
  const dnnl::eltwise_forward::primitive_desc fwd(
      dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, alg, d), onednn_engine());
  if (!m.backward) return prepared<dnnl::eltwise_forward>(fwd, {{DNNL_ARG_SRC, filled(d, in.in0)}, {DNNL_ARG_DST, empty(d)}}, {DNNL_ARG_DST});
  const dnnl::eltwise_backward::primitive_desc bwd(dnnl::eltwise_backward::desc(alg, d, d), onednn_engine(), fwd);
  return prepared<dnnl::eltwise_backward>(bwd, {{DNNL_ARG_SRC, filled(d, in.in0)}, {DNNL_ARG_DIFF_DST, filled(d, in.in1)},
                        {DNNL_ARG_DIFF_SRC, empty(d)}},
                  {DNNL_ARG_DIFF_SRC});
}

// add: a + b elementwise; bias_add: the bias row broadcast over every row.
std::unique_ptr<PreparedProblem> binary_add(const MemoryProblem& m, const HostInputs& in) {
  const bool bias = m.op == MemoryOp::bias_add;
  const memory::desc a = bias ? matrix_desc(m.rows, m.cols) : vector_desc(m.elements);
  const memory::desc b = bias ? matrix_desc(1, m.cols) : a;
  const dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_add, a, b, a), onednn_engine());
  return prepared<dnnl::binary>(pd, {{DNNL_ARG_SRC_0, filled(a, in.in0)}, {DNNL_ARG_SRC_1, filled(b, in.in1)}, {DNNL_ARG_DST, empty(a)}},
                  {DNNL_ARG_DST});
}

// oneDNN's normalization backward with use_shift asks for the shift though dx does not depend on it.
memory shift_unread(const memory::desc& params) {
  memory shift = empty(params);
  std::fill_n(static_cast<float*>(shift.get_data_handle()), params.get_size() / sizeof(float), 0.0f);
  return shift;
}

// Batch and layer normalization share their arguments: data, per-group statistics, per-parameter
// scale and shift. Forward writes y, mean, variance; backward dx, dscale, dshift.
template <typename Forward, typename Backward, typename MakeForward, typename MakeBackward>
std::unique_ptr<PreparedProblem> normalization(const MemoryProblem& m, const HostInputs& in, const memory::desc& data,
                                               const memory::desc& stats, const memory::desc& params,
                                               MakeForward make_forward, MakeBackward make_backward) {
  const typename Forward::primitive_desc fwd(make_forward(), onednn_engine());
  if (!m.backward) {
    return prepared<Forward>(fwd, {{DNNL_ARG_SRC, filled(data, in.in0)}, {DNNL_ARG_SCALE, filled(params, in.in1)},
                          {DNNL_ARG_SHIFT, filled(params, in.more[0])}, {DNNL_ARG_DST, empty(data)},
                          {DNNL_ARG_MEAN, empty(stats)}, {DNNL_ARG_VARIANCE, empty(stats)}},
                    {DNNL_ARG_DST, DNNL_ARG_MEAN, DNNL_ARG_VARIANCE});
  }
  const typename Backward::primitive_desc bwd(make_backward(), onednn_engine(), fwd);
  return prepared<Backward>(bwd, {{DNNL_ARG_SRC, filled(data, in.in0)}, {DNNL_ARG_DIFF_DST, filled(data, in.in1)},
                        {DNNL_ARG_SCALE, filled(params, in.more[0])}, {DNNL_ARG_SHIFT, shift_unread(params)},
                        {DNNL_ARG_MEAN, filled(stats, in.more[1])},
                        {DNNL_ARG_VARIANCE, filled(stats, in.more[2])}, {DNNL_ARG_DIFF_SRC, empty(data)},
                        {DNNL_ARG_DIFF_SCALE, empty(params)}, {DNNL_ARG_DIFF_SHIFT, empty(params)}},
                  {DNNL_ARG_DIFF_SRC, DNNL_ARG_DIFF_SCALE, DNNL_ARG_DIFF_SHIFT});
}

std::unique_ptr<PreparedProblem> batchnorm(const MemoryProblem& m, const HostInputs& in) {
  using Fwd = dnnl::batch_normalization_forward;
  using Bwd = dnnl::batch_normalization_backward;
  const memory::desc data = image_desc(m), channels = vector_desc(m.c);
  const auto eps = float(kNormEps);
  return normalization<Fwd, Bwd>(
      m, in, data, channels, channels,
      [&] { return Fwd::desc(dnnl::prop_kind::forward_training, data, eps, kScaleShift); },
      [&] { return Bwd::desc(dnnl::prop_kind::backward, data, data, eps, kScaleShift); });
}

std::unique_ptr<PreparedProblem> layernorm(const MemoryProblem& m, const HostInputs& in) {
  using Fwd = dnnl::layer_normalization_forward;
  using Bwd = dnnl::layer_normalization_backward;
  const memory::desc data = matrix_desc(m.rows, m.cols), stats = vector_desc(m.rows), params = vector_desc(m.cols);
  const auto eps = float(kNormEps);
  return normalization<Fwd, Bwd>(
      m, in, data, stats, params,
      [&] { return Fwd::desc(dnnl::prop_kind::forward_training, data, stats, eps, kScaleShift); },
      [&] { return Bwd::desc(dnnl::prop_kind::backward, data, data, stats, eps, kScaleShift); });
}

std::unique_ptr<PreparedProblem> pooling(const MemoryProblem& m, const HostInputs& in) {
  const auto alg = m.op == MemoryOp::maxpool ? dnnl::algorithm::pooling_max
                                             : dnnl::algorithm::pooling_avg_include_padding;
  const memory::desc x = image_desc(m), y({m.n, m.c, m.p(), m.q()}, f32, tag::nchw);
  // Right padding that makes oneDNN's output extent equal ours (it may be smaller than the left pad).
  const memory::dims strides{m.stride, m.stride}, kernel{m.window, m.window}, dilation{0, 0}, pad_l{m.pad, m.pad},
      pad_r{(m.p() - 1) * m.stride + m.window - m.h - m.pad, (m.q() - 1) * m.stride + m.window - m.w - m.pad};
  const dnnl::pooling_v2_forward::primitive_desc fwd(
      dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_training, alg, x, y, strides, kernel, dilation, pad_l,
                                     pad_r),
      onednn_engine());
  if (!m.backward) {
    // Training-mode max pooling also writes where each maximum was, for the backward pass.
    Args args{{DNNL_ARG_SRC, filled(x, in.in0)}, {DNNL_ARG_DST, empty(y)}};
    if (fwd.workspace_desc().get_size() > 0) args.emplace(DNNL_ARG_WORKSPACE, empty(fwd.workspace_desc()));
    return prepared<dnnl::pooling_v2_forward>(fwd, std::move(args), {DNNL_ARG_DST});
  }
  const dnnl::pooling_v2_backward::primitive_desc bwd(
      dnnl::pooling_v2_backward::desc(alg, x, y, strides, kernel, dilation, pad_l, pad_r), onednn_engine(), fwd);
  Args args{{DNNL_ARG_DIFF_SRC, empty(x)}};
  if (m.op == MemoryOp::maxpool) {
    // Max backward reads where each maximum was from the forward's workspace, as frameworks keep it.
    memory workspace = empty(fwd.workspace_desc());
    dnnl::stream stream(onednn_engine());
    dnnl::pooling_v2_forward(fwd).execute(
        stream, {{DNNL_ARG_SRC, filled(x, in.in0)}, {DNNL_ARG_DST, empty(y)}, {DNNL_ARG_WORKSPACE, workspace}});
    stream.wait();
    args.emplace(DNNL_ARG_WORKSPACE, workspace);
    args.emplace(DNNL_ARG_DIFF_DST, filled(y, in.in1));
  } else {
    args.emplace(DNNL_ARG_DIFF_DST, filled(y, in.in0));
  }
  return prepared<dnnl::pooling_v2_backward>(bwd, std::move(args), {DNNL_ARG_DIFF_SRC});
}

std::unique_ptr<PreparedProblem> softmax(const MemoryProblem& m, const HostInputs& in) {
  const memory::desc d = matrix_desc(m.rows, m.cols);
  const auto alg = dnnl::algorithm::softmax_accurate;
  const dnnl::softmax_v2_forward::primitive_desc fwd(
      dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_training, alg, d, d, 1), onednn_engine());
  if (!m.backward) return prepared<dnnl::softmax_v2_forward>(fwd, {{DNNL_ARG_SRC, filled(d, in.in0)}, {DNNL_ARG_DST, empty(d)}}, {DNNL_ARG_DST});
  const dnnl::softmax_v2_backward::primitive_desc bwd(dnnl::softmax_v2_backward::desc(alg, d, d, d, 1),
                                                       onednn_engine(), fwd);
  return prepared<dnnl::softmax_v2_backward>(bwd, {{DNNL_ARG_DST, filled(d, in.in0)}, {DNNL_ARG_DIFF_DST, filled(d, in.in1)},
                        {DNNL_ARG_DIFF_SRC, empty(d)}},
                  {DNNL_ARG_DIFF_SRC});
}

}  // namespace

std::optional<std::string> onednn_memory_unsupported(const MemoryProblem& m) {
  switch (m.op) {
    case MemoryOp::cross_entropy: return std::string("oneDNN has no cross-entropy loss primitive");
    case MemoryOp::embedding: return std::string("oneDNN has no embedding (gather / scatter-add) primitive");
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return std::string("oneDNN has no optimizer-update primitive");
    case MemoryOp::softmax:
      if (m.causal_seq > 0) return std::string("oneDNN's softmax has no causal mask");
      if (m.scale != 1.0) return std::string("oneDNN's softmax has no input scale");
      return std::nullopt;
    default: return std::nullopt;
  }
}

std::unique_ptr<PreparedProblem> prepare_onednn_memory(const MemoryProblem& m, const HostInputs& inputs) {
  if (auto reason = onednn_memory_unsupported(m)) throw std::runtime_error(*reason);
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu: return eltwise(m, inputs);
    case MemoryOp::add:
    case MemoryOp::bias_add: return binary_add(m, inputs);
    case MemoryOp::batchnorm: return batchnorm(m, inputs);
    case MemoryOp::layernorm: return layernorm(m, inputs);
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: return pooling(m, inputs);
    case MemoryOp::softmax: return softmax(m, inputs);
    default: throw std::logic_error("unreachable: onednn_memory_unsupported covers the rest");
  }
}

}  // namespace trainrate
