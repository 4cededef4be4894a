// onednn: the vendor convolution on CPU (all three passes), matmul for GEMM, and its eltwise,
// binary, normalization, pooling and softmax primitives for memory-bound layers (onednn_memory.cpp).
//
// oneDNN picks its own memory formats ("any", usually blocked like nChw8c). onednn reorders the
// operands into them once in prepare() and the output back in output(), so only the primitive
// itself is timed: the vendor at its best, which is the bar our kernels must clear. onednn-plain
// (its framework view) does those reorders in every run(), as a framework holding plain NCHW/NHWC
// tensors pays them on every call.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "backends/cpu/cpu_backends.hpp"
#include "backends/cpu/cpu_prepared.hpp"
#include "backends/cpu/onednn_memory.hpp"
#include "devices/cpu_device.hpp"

namespace trainrate {

dnnl::engine& onednn_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct UserTags {
  tag activation, filter;
};

UserTags user_tags(Layout layout) {
  return layout == Layout::NCHW ? UserTags{tag::nchw, tag::oihw} : UserTags{tag::nhwc, tag::ohwi};
}

// Right padding that makes oneDNN's output extent equal ours (it may be smaller than the left pad).
int64_t right_pad(int64_t in, int64_t out, int64_t filter, int64_t pad, int64_t stride, int64_t dilation) {
  return (out - 1) * stride + (filter - 1) * dilation + 1 - in - pad;
}

struct ConvDescs {
  memory::desc x_user, w_user, y_user;  // layouts the problem states
  memory::desc x_any, w_any, y_any;     // let oneDNN choose
  memory::dims strides, dilates, pad_l, pad_r;
};

ConvDescs conv_descs(const ConvProblem& c) {
  const UserTags tags = user_tags(c.layout);
  const memory::dims x_dims{c.n, c.c, c.h, c.w}, w_dims{c.k, c.c, c.r, c.s}, y_dims{c.n, c.k, c.p(), c.q()};
  const auto f32 = memory::data_type::f32;
  return ConvDescs{{x_dims, f32, tags.activation}, {w_dims, f32, tags.filter}, {y_dims, f32, tags.activation},
                   {x_dims, f32, tag::any},        {w_dims, f32, tag::any},    {y_dims, f32, tag::any},
                   {c.stride_h, c.stride_w},
                   {c.dilation_h - 1, c.dilation_w - 1},  // oneDNN counts dilation from 0
                   {c.pad_h, c.pad_w},
                   {right_pad(c.h, c.p(), c.r, c.pad_h, c.stride_h, c.dilation_h),
                    right_pad(c.w, c.q(), c.s, c.pad_w, c.stride_w, c.dilation_w)}};
}

// A layout conversion between a plain buffer and one in the primitive's chosen layout.
struct Conversion {
  memory from, to;
  dnnl::reorder reorder;
  void execute(dnnl::stream& stream) { reorder.execute(stream, from, to); }
};

// When the conversions run: once, outside the timing (the vendor at its best), or in every run()
// as a framework holding plain tensors pays them (its weights change every step, so they too).
enum class Conversions { untimed, timed };

// The primitive's operands as a framework holds them (plain) and as the primitive wants them, and
// the conversions between. An operand whose chosen layout is the plain one needs none.
class Operands {
 public:
  explicit Operands(Conversions when) : when_(when) {}

  // A buffer in `wanted` holding the host values given in the `plain` layout.
  memory input(std::string name, const memory::desc& plain, const memory::desc& wanted, const std::vector<float>& host) {
    memory user(plain, onednn_engine());
    std::copy(host.begin(), host.end(), static_cast<float*>(user.get_data_handle()));
    if (plain == wanted) return user;
    memory internal(wanted, onednn_engine());
    Conversion conversion{user, internal, dnnl::reorder(user, internal)};
    converted_.push_back(std::move(name));
    if (when_ == Conversions::timed) {
      inputs_.push_back(conversion);
    } else {
      conversion.execute(stream_);
      stream_.wait();
    }
    return internal;
  }

  // The primitive's output buffer in `wanted`; the result is read back in `plain`.
  memory output(std::string name, const memory::desc& wanted, const memory::desc& plain) {
    memory internal(wanted, onednn_engine());
    plain_output_ = plain == wanted ? internal : memory(plain, onednn_engine());
    if (plain != wanted) {
      output_ = Conversion{internal, plain_output_, dnnl::reorder(internal, plain_output_)};
      converted_.push_back(std::move(name));
    }
    return internal;
  }

  Conversions when() const { return when_; }
  // Timed only: the untimed ones ran once, in input().
  void convert_inputs() {
    for (Conversion& c : inputs_) c.execute(stream_);
  }
  void convert_output() {
    if (output_) output_->execute(stream_);
    stream_.wait();
  }
  const memory& plain_output() const { return plain_output_; }
  dnnl::stream& stream() { return stream_; }

  // What algorithm() adds for timed conversions: which operands pay them, or that none does.
  std::string timed_text() const {
    if (when_ == Conversions::untimed) return "";
    if (converted_.empty()) return "; plain layouts in and out: no reorder needed";
    return fmt::format("; timed reorders of {}", fmt::join(converted_, ", "));
  }

 private:
  Conversions when_;
  dnnl::stream stream_{onednn_engine()};
  std::vector<Conversion> inputs_;
  std::optional<Conversion> output_;
  memory plain_output_;
  std::vector<std::string> converted_;
};

// Owns the primitive and its operands; runs the conversions where Operands says they are timed.
class OnednnPrepared final : public PreparedProblem {
 public:
  OnednnPrepared(dnnl::primitive primitive, std::unordered_map<int, memory> args, Operands operands, std::string algorithm)
      : primitive_(std::move(primitive)),
        args_(std::move(args)),
        operands_(std::move(operands)),
        algorithm_(std::move(algorithm) + operands_.timed_text()) {}

  void run() override {
    const bool timed = operands_.when() == Conversions::timed;
    if (timed) operands_.convert_inputs();
    primitive_.execute(operands_.stream(), args_);
    if (timed) operands_.convert_output();
    operands_.stream().wait();
  }

  std::vector<float> output() override {
    if (operands_.when() == Conversions::untimed) operands_.convert_output();
    const memory& out = operands_.plain_output();
    const auto* data = static_cast<const float*>(out.get_data_handle());
    return std::vector<float>(data, data + out.get_desc().get_size() / sizeof(float));
  }

  std::string algorithm() const override { return algorithm_; }

 private:
  dnnl::primitive primitive_;
  std::unordered_map<int, memory> args_;
  Operands operands_;
  std::string algorithm_;
};

template <typename PrimitiveDesc>
std::string describe_impl(const PrimitiveDesc& pd) {
  return fmt::format("onednn {}", pd.impl_info_str());
}

// The forward primitive descriptor: what the forward runs, and the hint the backward passes need.
dnnl::convolution_forward::primitive_desc forward_pd(const ConvDescs& d) {
  const dnnl::convolution_forward::desc desc(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                             d.x_any, d.w_any, d.y_any, d.strides, d.dilates, d.pad_l, d.pad_r);
  return dnnl::convolution_forward::primitive_desc(desc, onednn_engine());
}

std::unique_ptr<PreparedProblem> prepare_forward(const ConvProblem& c, const HostInputs& in, Conversions when) {
  const ConvDescs d = conv_descs(c);
  const dnnl::convolution_forward::primitive_desc pd = forward_pd(d);
  Operands ops(when);
  memory x = ops.input("src", d.x_user, pd.src_desc(), in.in0);
  memory w = ops.input("weights", d.w_user, pd.weights_desc(), in.in1);
  memory y = ops.output("dst", pd.dst_desc(), d.y_user);
  return std::make_unique<OnednnPrepared>(
      dnnl::convolution_forward(pd),
      std::unordered_map<int, memory>{{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}}, std::move(ops),
      describe_impl(pd));
}

std::unique_ptr<PreparedProblem> prepare_backward_data(const ConvProblem& c, const HostInputs& in, Conversions when) {
  const ConvDescs d = conv_descs(c);
  const dnnl::convolution_backward_data::desc desc(dnnl::algorithm::convolution_direct, d.x_any, d.w_any, d.y_any,
                                                   d.strides, d.dilates, d.pad_l, d.pad_r);
  const dnnl::convolution_backward_data::primitive_desc pd(desc, onednn_engine(), forward_pd(d));
  Operands ops(when);
  memory dy = ops.input("diff_dst", d.y_user, pd.diff_dst_desc(), in.in0);
  memory w = ops.input("weights", d.w_user, pd.weights_desc(), in.in1);
  memory dx = ops.output("diff_src", pd.diff_src_desc(), d.x_user);
  return std::make_unique<OnednnPrepared>(
      dnnl::convolution_backward_data(pd),
      std::unordered_map<int, memory>{{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DIFF_SRC, dx}},
      std::move(ops), describe_impl(pd));
}

std::unique_ptr<PreparedProblem> prepare_backward_filter(const ConvProblem& c, const HostInputs& in, Conversions when) {
  const ConvDescs d = conv_descs(c);
  const dnnl::convolution_backward_weights::desc desc(dnnl::algorithm::convolution_direct, d.x_any, d.w_any,
                                                      d.y_any, d.strides, d.dilates, d.pad_l, d.pad_r);
  const dnnl::convolution_backward_weights::primitive_desc pd(desc, onednn_engine(), forward_pd(d));
  Operands ops(when);
  memory x = ops.input("src", d.x_user, pd.src_desc(), in.in0);
  memory dy = ops.input("diff_dst", d.y_user, pd.diff_dst_desc(), in.in1);
  memory dw = ops.output("diff_weights", pd.diff_weights_desc(), d.w_user);
  return std::make_unique<OnednnPrepared>(
      dnnl::convolution_backward_weights(pd),
      std::unordered_map<int, memory>{{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, dw}},
      std::move(ops), describe_impl(pd));
}

// A [batch × rows × cols] matrix whose element (r, c) sits at r·row_stride + c·col_stride.
memory::desc matrix_desc(int64_t batch, int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride,
                         memory::data_type type = memory::data_type::f32) {
  return memory::desc({batch, rows, cols}, type, {rows * cols, row_stride, col_stride});
}

// Host values into a matmul operand: fp32 as they are, bf16 converted (exactly) to its bits.
void fill_operand(memory& operand, const std::vector<float>& host) {
  if (operand.get_desc().data_type() == memory::data_type::bf16) {
    const std::vector<uint16_t> bits = to_bf16_bits(host);
    std::copy(bits.begin(), bits.end(), static_cast<uint16_t*>(operand.get_data_handle()));
  } else {
    std::copy(host.begin(), host.end(), static_cast<float*>(operand.get_data_handle()));
  }
}

// oneDNN emulates bf16 on AVX-512 cores and uses AMX where it is there, but has no bf16 matmul
// on older CPUs: ask once with a tiny problem.
bool has_bf16_matmul() {
  static const bool has = [] {
    try {
      const memory::desc x({1, 2, 2}, memory::data_type::bf16, memory::format_tag::abc);
      const memory::desc y({1, 2, 2}, memory::data_type::f32, memory::format_tag::abc);
      dnnl::matmul::primitive_desc(dnnl::matmul::desc(x, x, y), onednn_engine());
      return true;
    } catch (const dnnl::error&) {
      return false;
    }
  }();
  return has;
}

// oneDNN's matmul is row-major and its fast (GEMM-based) path wants a row-major destination, so we
// ask it for Cᵀ = op(B)ᵀ·op(A)ᵀ: a column-major C (m×n) is exactly a row-major Cᵀ (n×m). bf16
// problems keep A and B in bf16 and C in fp32, as custom-cpu does.
std::unique_ptr<PreparedProblem> prepare_matmul(const GemmProblem& g, const HostInputs& in) {
  auto& engine = onednn_engine();
  const auto type = g.dtype == Dtype::bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  // op(B)ᵀ is n×k: element (j, l) is B(l, j) at l + j·k when op_b = N, B(j, l) at j + l·n when T.
  const memory::desc bt = g.op_b == Op::N ? matrix_desc(g.batch, g.n, g.k, g.k, 1, type)
                                          : matrix_desc(g.batch, g.n, g.k, 1, g.n, type);
  // op(A)ᵀ is k×m: element (l, i) is A(i, l) at i + l·m when op_a = N, A(l, i) at l + i·k when T.
  const memory::desc at = g.op_a == Op::N ? matrix_desc(g.batch, g.k, g.m, g.m, 1, type)
                                          : matrix_desc(g.batch, g.k, g.m, 1, g.k, type);
  const memory::desc ct = matrix_desc(g.batch, g.n, g.m, g.m, 1);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(bt, at, ct), engine);
  // Every operand's layout is stated, so there is nothing to convert.
  memory a_mem(at, engine), b_mem(bt, engine);
  fill_operand(a_mem, in.in0);
  fill_operand(b_mem, in.in1);
  Operands ops(Conversions::untimed);
  memory c_mem = ops.output("dst", ct, ct);
  return std::make_unique<OnednnPrepared>(
      dnnl::matmul(pd), std::unordered_map<int, memory>{{DNNL_ARG_SRC, b_mem}, {DNNL_ARG_WEIGHTS, a_mem},
                                                        {DNNL_ARG_DST, c_mem}},
      std::move(ops), describe_impl(pd));
}

// Both views of oneDNN are one backend class: `when` says whether the layout conversions are
// timed. The framework view takes convolutions only: oneDNN's matmul and its memory-bound
// primitives already run on the stated plain layouts here, so their rates are the same call.
class OnednnBackend final : public Backend {
 public:
  OnednnBackend(BackendFacts facts, Conversions when) : Backend(std::move(facts)), when_(when) {}
  Device& device() const override { return CpuDevice::instance(); }

  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
      if (auto reason = cpu_dtype_unsupported(problem, name(), false)) return reason;
      return onednn_memory_unsupported(*m);
    }
    return cpu_dtype_unsupported(problem, has_bf16_matmul() ? name() : name() + " (on this CPU)", has_bf16_matmul());
  }

  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs& inputs) override {
    try {
      if (const auto* g = std::get_if<GemmProblem>(&problem)) return prepare_matmul(*g, inputs);
      if (const auto* m = std::get_if<MemoryProblem>(&problem)) return prepare_onednn_memory(*m, inputs);
      const auto& c = std::get<ConvProblem>(problem);
      switch (c.pass) {
        case ConvPass::forward: return prepare_forward(c, inputs, when_);
        case ConvPass::backward_data: return prepare_backward_data(c, inputs, when_);
        case ConvPass::backward_filter: return prepare_backward_filter(c, inputs, when_);
      }
    } catch (const dnnl::error& e) {
      throw std::runtime_error(fmt::format("oneDNN: {} (status {})", e.what(), int(e.status)));
    }
    throw std::logic_error("unreachable conv pass");
  }

 private:
  Conversions when_;
};

}  // namespace

std::unique_ptr<Backend> make_onednn_backend() {
  return std::make_unique<OnednnBackend>(BackendFacts{"onednn", BackendRole::vendor, "cpu", {}, {"gemm", "conv", "memory"},
                                                      {Dtype::fp32, Dtype::bf16}, RateView::vendor_best, ""},
                                         Conversions::untimed);
}

std::unique_ptr<Backend> make_onednn_plain_backend() {
  return std::make_unique<OnednnBackend>(
      BackendFacts{"onednn-plain", BackendRole::vendor, "cpu", {}, {"conv"}, {Dtype::fp32}, RateView::framework, "onednn"},
      Conversions::timed);
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}.{}.{} ({})", v->major, v->minor, v->patch, v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other");
}

}  // namespace trainrate
