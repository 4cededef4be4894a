#include "problems/problem.hpp"

#include <array>
#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace trainrate {

namespace {

template <typename Enum, size_t N>
std::optional<Enum> parse_from(std::string_view text, const std::array<Enum, N>& values) {
  for (Enum value : values) {
    if (to_string(value) == text) return value;
  }
  return std::nullopt;
}

constexpr std::array kAllDtypes{Dtype::fp32, Dtype::tf32, Dtype::fp16, Dtype::bf16};
constexpr std::array kAllOps{Op::N, Op::T};
constexpr std::array kAllLayouts{Layout::NCHW, Layout::NHWC};
constexpr std::array kAllPasses{ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter};
constexpr std::array kAllMemoryOps{MemoryOp::relu,      MemoryOp::gelu,         MemoryOp::add,
                                   MemoryOp::bias_add,  MemoryOp::batchnorm,    MemoryOp::layernorm,
                                   MemoryOp::maxpool,   MemoryOp::avgpool,      MemoryOp::softmax,
                                   MemoryOp::cross_entropy, MemoryOp::embedding, MemoryOp::sgd_momentum,
                                   MemoryOp::adamw};
constexpr std::array kAllCollectiveOps{CollectiveOp::all_reduce, CollectiveOp::reduce_scatter,
                                       CollectiveOp::all_gather, CollectiveOp::broadcast};

int64_t conv_output_extent(int64_t in, int64_t filter, int64_t pad, int64_t stride, int64_t dilation) {
  if (stride < 1) return 0;
  const int64_t effective_filter = dilation * (filter - 1) + 1;
  const int64_t span = in + 2 * pad - effective_filter;
  return span < 0 ? 0 : span / stride + 1;
}

// Every kernel indexes with 64-bit offsets but cuBLAS/cuDNN and many hand-written kernels take
// 32-bit element counts per tensor; refuse tensors that cannot be addressed that way.
constexpr int64_t kMaxTensorElements = std::numeric_limits<int32_t>::max();

std::optional<std::string> positive(std::string_view field, int64_t value) {
  if (value >= 1) return std::nullopt;
  return fmt::format("{} must be >= 1 (got {})", field, value);
}

std::optional<std::string> addressable(std::string_view tensor, int64_t elements) {
  if (elements <= kMaxTensorElements) return std::nullopt;
  return fmt::format("{} has {} elements, more than the 32-bit index limit {}", tensor, elements,
                     kMaxTensorElements);
}

// Multiplies without overflow; saturates to int64 max so the size check above still fires.
int64_t saturating_product(std::initializer_list<int64_t> factors) {
  int64_t product = 1;
  for (int64_t f : factors) {
    if (f != 0 && product > std::numeric_limits<int64_t>::max() / f) return std::numeric_limits<int64_t>::max();
    product *= f;
  }
  return product;
}

std::optional<std::string> validate_gemm(const GemmProblem& g) {
  for (auto [field, value] : {std::pair{"m", g.m}, {"n", g.n}, {"k", g.k}, {"batch", g.batch}}) {
    if (auto error = positive(field, value)) return error;
  }
  if (auto e = addressable("A (m*k)", saturating_product({g.m, g.k}))) return e;
  if (auto e = addressable("B (k*n)", saturating_product({g.k, g.n}))) return e;
  if (auto e = addressable("C (m*n)", saturating_product({g.m, g.n}))) return e;
  // Batched operands are addressed with 64-bit strides; their byte counts must still fit.
  constexpr int64_t kMaxBatchedElements = std::numeric_limits<int64_t>::max() / 16;
  for (int64_t elements : {g.m * g.k, g.k * g.n, g.m * g.n}) {
    if (saturating_product({elements, g.batch}) > kMaxBatchedElements) {
      return fmt::format("batch {} makes the operands too large to address", g.batch);
    }
  }
  return std::nullopt;
}

std::optional<std::string> validate_collective(const CollectiveProblem& c) {
  if (auto error = positive("bytes", c.bytes)) return error;
  if (auto error = positive("ranks", c.ranks)) return error;
  if (c.dtype == Dtype::tf32) return std::string("dtype tf32 is a math mode, not a storage type: use fp32");
  const int64_t element_bytes = storage_bytes(c.dtype);
  // Reduce-scatter and all-gather split the larger buffer into one equal block per rank.
  const bool split = c.op == CollectiveOp::reduce_scatter || c.op == CollectiveOp::all_gather;
  const int64_t unit = split ? element_bytes * c.ranks : element_bytes;
  if (c.bytes % unit != 0) {
    return split ? fmt::format("bytes {} must be a multiple of ranks × {}-byte elements ({}) for {}", c.bytes,
                               element_bytes, unit, to_string(c.op))
                 : fmt::format("bytes {} must be a multiple of the {}-byte element", c.bytes, element_bytes);
  }
  return addressable("the message", c.bytes / element_bytes);
}

std::optional<std::string> validate_conv(const ConvProblem& c) {
  for (auto [field, value] : {std::pair{"n", c.n}, {"c", c.c}, {"h", c.h}, {"w", c.w}, {"k", c.k},
                              {"r", c.r}, {"s", c.s}, {"stride_h", c.stride_h}, {"stride_w", c.stride_w},
                              {"dilation_h", c.dilation_h}, {"dilation_w", c.dilation_w}}) {
    if (auto error = positive(field, value)) return error;
  }
  if (c.pad_h < 0) return fmt::format("pad_h must be >= 0 (got {})", c.pad_h);
  if (c.pad_w < 0) return fmt::format("pad_w must be >= 0 (got {})", c.pad_w);
  // A pad as wide as the (dilated) filter only adds output rows that see nothing but zeros.
  if (c.pad_h >= c.dilation_h * (c.r - 1) + 1)
    return fmt::format("pad_h {} must be smaller than the dilated filter height {}", c.pad_h,
                       c.dilation_h * (c.r - 1) + 1);
  if (c.pad_w >= c.dilation_w * (c.s - 1) + 1)
    return fmt::format("pad_w {} must be smaller than the dilated filter width {}", c.pad_w,
                       c.dilation_w * (c.s - 1) + 1);
  if (c.p() < 1) return fmt::format("output height p is {} (< 1): filter taller than padded input", c.p());
  if (c.q() < 1) return fmt::format("output width q is {} (< 1): filter wider than padded input", c.q());
  if (auto e = addressable("x (n*c*h*w)", saturating_product({c.n, c.c, c.h, c.w}))) return e;
  if (auto e = addressable("w (k*c*r*s)", saturating_product({c.k, c.c, c.r, c.s}))) return e;
  if (auto e = addressable("y (n*k*p*q)", saturating_product({c.n, c.k, c.p(), c.q()}))) return e;
  return std::nullopt;
}

int64_t memory_field(const MemoryProblem& m, std::string_view field) {
  if (field == "elements") return m.elements;
  if (field == "rows") return m.rows;
  if (field == "cols") return m.cols;
  if (field == "n") return m.n;
  if (field == "c") return m.c;
  if (field == "h") return m.h;
  if (field == "w") return m.w;
  if (field == "window") return m.window;
  if (field == "stride") return m.stride;
  if (field == "pad") return m.pad;
  if (field == "vocab") return m.vocab;
  return m.causal_seq;  // "causal_seq"; "scale" is checked on its own
}

bool is_pooling(MemoryOp op) { return op == MemoryOp::maxpool || op == MemoryOp::avgpool; }

std::optional<std::string> validate_memory(const MemoryProblem& m) {
  if (m.backward && !has_backward(m.op)) {
    return fmt::format("pass: {} has no backward pass of its own", to_string(m.op));
  }
  if (m.form != UpdateForm::fused && !is_optimizer(m.op)) {
    return fmt::format("form: {} is not an optimizer step (form applies to sgd_momentum and adamw)", to_string(m.op));
  }
  for (std::string_view field : memory_fields(m.op)) {
    if (field == "scale") {
      if (!(m.scale > 0) || !std::isfinite(m.scale)) return fmt::format("scale must be > 0 and finite (got {})", m.scale);
    } else if (field == "pad" || field == "causal_seq") {
      if (memory_field(m, field) < 0) return fmt::format("{} must be >= 0 (got {})", field, memory_field(m, field));
    } else if (auto error = positive(field, memory_field(m, field))) {
      return error;
    }
  }
  // Guard the products below (tensor sizes) against overflow before computing them.
  if (auto e = addressable("n*c*h*w", saturating_product({m.n, m.c, m.h, m.w}))) return e;
  if (auto e = addressable("rows*cols", saturating_product({m.rows, m.cols}))) return e;
  if (auto e = addressable("vocab*cols", saturating_product({m.vocab, m.cols}))) return e;
  if (is_pooling(m.op)) {
    if (m.pad >= m.window) return fmt::format("pad {} must be smaller than the window {}", m.pad, m.window);
    if (m.p() < 1) return fmt::format("output height p is {} (< 1): window taller than padded input", m.p());
    if (m.q() < 1) return fmt::format("output width q is {} (< 1): window wider than padded input", m.q());
  }
  for (const MemoryTensor& tensor : memory_inputs(m)) {
    if (auto e = addressable(tensor.name, tensor.elements)) return e;
  }
  for (const MemoryTensor& tensor : memory_outputs(m)) {
    if (auto e = addressable(tensor.name, tensor.elements)) return e;
  }
  return std::nullopt;
}

// A fused step counts its formula; a chain, each of its passes.
double optimizer_flops_per_element(const MemoryProblem& m) {
  const std::span<const ChainStep> chain = update_chain(m.op, m.form);
  if (chain.empty()) return m.op == MemoryOp::sgd_momentum ? 6 : 16;
  double total = 0;
  for (const ChainStep& step : chain) total += chain_flops(step.op);
  return total;
}

// Per-element FLOPs of each op's formula (the convention stated in problem.hpp).
double memory_flops(const MemoryProblem& m) {
  const double elements = double(m.elements), matrix = double(m.rows) * double(m.cols);
  const double image = double(m.n) * double(m.c) * double(m.h) * double(m.w);
  const double pooled = double(m.n) * double(m.c) * double(m.p()) * double(m.q()) * double(m.window * m.window);
  switch (m.op) {
    case MemoryOp::relu: return elements;
    case MemoryOp::gelu: return (m.backward ? 11 : 5) * elements;
    case MemoryOp::add: return elements;
    case MemoryOp::bias_add: return matrix;
    case MemoryOp::batchnorm: return (m.backward ? 10 : 7) * image;
    case MemoryOp::layernorm: return (m.backward ? 10 : 7) * matrix;
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: return pooled;
    case MemoryOp::softmax: return (m.backward ? 5 : 6) * matrix;
    case MemoryOp::cross_entropy: return (m.backward ? 6 : 4) * matrix;
    case MemoryOp::embedding: return m.backward ? matrix : 0.0;
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return optimizer_flops_per_element(m) * elements;
  }
  return 0;
}

std::string memory_shape(const MemoryProblem& m) {
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add: return fmt::format("{}", m.elements);
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw:
      return m.form == UpdateForm::fused ? fmt::format("{}", m.elements)
                                         : fmt::format("{} {}-ops", m.elements, to_string(m.form));
    case MemoryOp::bias_add:
    case MemoryOp::layernorm:
    case MemoryOp::cross_entropy: return fmt::format("{}x{}", m.rows, m.cols);
    case MemoryOp::softmax: {
      std::string text = fmt::format("{}x{}", m.rows, m.cols);
      if (m.scale != 1.0) text += fmt::format(" scale{:g}", m.scale);
      if (m.causal_seq > 0) text += fmt::format(" causal{}", m.causal_seq);
      return text;
    }
    case MemoryOp::batchnorm: return fmt::format("n{} c{} {}x{}", m.n, m.c, m.h, m.w);
    case MemoryOp::maxpool:
    case MemoryOp::avgpool:
      return fmt::format("n{} c{} {}x{} {}x{} s{} p{}", m.n, m.c, m.h, m.w, m.window, m.window, m.stride, m.pad);
    case MemoryOp::embedding: return fmt::format("tokens{} dim{} vocab{}", m.rows, m.cols, m.vocab);
  }
  return "?";
}

std::string_view memory_short(MemoryOp op) {
  switch (op) {
    case MemoryOp::batchnorm: return "bn";
    case MemoryOp::layernorm: return "ln";
    case MemoryOp::cross_entropy: return "xent";
    case MemoryOp::embedding: return "embed";
    case MemoryOp::bias_add: return "bias-add";
    case MemoryOp::sgd_momentum: return "sgd";
    default: return to_string(op);
  }
}

std::string_view pass_short(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "fwd";
    case ConvPass::backward_data: return "bwd-data";
    case ConvPass::backward_filter: return "bwd-filter";
  }
  return "?";
}

}  // namespace

std::string_view to_string(Dtype dtype) {
  switch (dtype) {
    case Dtype::fp32: return "fp32";
    case Dtype::tf32: return "tf32";
    case Dtype::fp16: return "fp16";
    case Dtype::bf16: return "bf16";
  }
  return "?";
}
std::string_view to_string(Op op) { return op == Op::N ? "N" : "T"; }
std::string_view to_string(Layout layout) { return layout == Layout::NCHW ? "NCHW" : "NHWC"; }
std::string_view to_string(ConvPass pass) {
  switch (pass) {
    case ConvPass::forward: return "forward";
    case ConvPass::backward_data: return "backward_data";
    case ConvPass::backward_filter: return "backward_filter";
  }
  return "?";
}

std::optional<Dtype> parse_dtype(std::string_view text) { return parse_from(text, kAllDtypes); }
std::optional<Op> parse_op(std::string_view text) { return parse_from(text, kAllOps); }
std::optional<Layout> parse_layout(std::string_view text) { return parse_from(text, kAllLayouts); }
std::optional<ConvPass> parse_pass(std::string_view text) { return parse_from(text, kAllPasses); }
std::optional<MemoryOp> parse_memory_op(std::string_view text) { return parse_from(text, kAllMemoryOps); }

std::string_view to_string(UpdateForm form) {
  switch (form) {
    case UpdateForm::fused: return "fused";
    case UpdateForm::torch: return "torch";
    case UpdateForm::keras: return "keras";
  }
  return "?";
}
std::optional<UpdateForm> parse_update_form(std::string_view text) {
  return parse_from(text, std::array{UpdateForm::fused, UpdateForm::torch, UpdateForm::keras});
}

bool updates_tensor_by_tensor(UpdateForm form) { return form == UpdateForm::torch; }

namespace {
using O = ChainOp;
using S = ChainSlot;
using K = ChainCoef;
// PyTorch 1.13-2.x torch.optim.SGD (momentum, weight_decay) and AdamW without foreach: the ops of
// _single_tensor_sgd and _single_tensor_adamw, steady state (momentum buffer present).
constexpr ChainStep kTorchSgd[] = {{O::axpy, K::weight_decay, S::t0, S::g, S::w},
                                   {O::scale, K::momentum, S::v, S::v},
                                   {O::axpy, K::one, S::v, S::v, S::t0},
                                   {O::axpy, K::minus_lr, S::w, S::w, S::v}};
constexpr ChainStep kTorchAdamW[] = {{O::scale, K::one_minus_lr_wd, S::w, S::w},
                                     {O::scale, K::beta1, S::m, S::m},
                                     {O::axpy, K::one_minus_beta1, S::m, S::m, S::g},
                                     {O::scale, K::beta2, S::v, S::v},
                                     {O::addcmul, K::one_minus_beta2, S::v, S::v, S::g},
                                     {O::sqrt, K::none, S::t0, S::v},
                                     {O::scale, K::inv_sqrt_bias2, S::t1, S::t0},
                                     {O::add_scalar, K::eps, S::t1, S::t1},
                                     {O::addcdiv, K::minus_lr_over_bias1, S::w, S::w, S::m, S::t1}};
// Keras 3's SGD and AdamW update_step, after BaseOptimizer._apply_weight_decay's
// `w − w·wd·lr` (Keras keeps SGD's velocity as v = momentum·v − lr·g and adds it to w).
constexpr ChainStep kKerasSgd[] = {{O::scale, K::weight_decay, S::t0, S::w},
                                   {O::scale, K::lr, S::t1, S::t0},
                                   {O::sub, K::none, S::w, S::w, S::t1},
                                   {O::scale, K::momentum, S::t0, S::v},
                                   {O::scale, K::lr, S::t1, S::g},
                                   {O::sub, K::none, S::v, S::t0, S::t1},
                                   {O::add, K::none, S::w, S::w, S::v}};
constexpr ChainStep kKerasAdamW[] = {{O::scale, K::weight_decay, S::t0, S::w},
                                     {O::scale, K::lr, S::t1, S::t0},
                                     {O::sub, K::none, S::w, S::w, S::t1},
                                     {O::sub, K::none, S::t0, S::g, S::m},
                                     {O::scale, K::one_minus_beta1, S::t0, S::t0},
                                     {O::add, K::none, S::m, S::m, S::t0},
                                     {O::square, K::none, S::t0, S::g},
                                     {O::sub, K::none, S::t0, S::t0, S::v},
                                     {O::scale, K::one_minus_beta2, S::t0, S::t0},
                                     {O::add, K::none, S::v, S::v, S::t0},
                                     {O::scale, K::lr_sqrt_bias2_over_bias1, S::t0, S::m},
                                     {O::sqrt, K::none, S::t1, S::v},
                                     {O::add_scalar, K::eps, S::t1, S::t1},
                                     {O::div, K::none, S::t0, S::t0, S::t1},
                                     {O::sub, K::none, S::w, S::w, S::t0}};
}  // namespace

std::span<const ChainStep> update_chain(MemoryOp op, UpdateForm form) {
  const bool sgd = op == MemoryOp::sgd_momentum;
  if (!is_optimizer(op)) return {};
  switch (form) {
    case UpdateForm::fused: return {};
    case UpdateForm::torch: return sgd ? std::span<const ChainStep>(kTorchSgd) : std::span<const ChainStep>(kTorchAdamW);
    case UpdateForm::keras: return sgd ? std::span<const ChainStep>(kKerasSgd) : std::span<const ChainStep>(kKerasAdamW);
  }
  return {};
}

std::array<float*, kChainSlots> chain_slots(const MemoryProblem& m, std::span<float* const> outputs, const float* g,
                                            float* temporaries) {
  const auto slot = [](ChainSlot s) { return size_t(s); };
  const bool sgd = m.op == MemoryOp::sgd_momentum;  // called on every timed run: no memory_outputs() here
  std::array<float*, kChainSlots> slots{};
  slots[slot(ChainSlot::w)] = outputs[0];
  if (!sgd) slots[slot(ChainSlot::m)] = outputs[1];
  slots[slot(ChainSlot::v)] = outputs[sgd ? 1 : 2];
  slots[slot(ChainSlot::g)] = const_cast<float*>(g);  // no chain step writes g
  slots[slot(ChainSlot::t0)] = temporaries;
  slots[slot(ChainSlot::t1)] = temporaries + m.elements;
  return slots;
}

int chain_reads(ChainOp op) {
  switch (op) {
    case O::scale:
    case O::add_scalar:
    case O::square:
    case O::sqrt: return 1;
    case O::addcdiv: return 3;
    default: return 2;
  }
}

int chain_flops(ChainOp op) {
  switch (op) {
    case O::axpy: return 2;
    case O::addcmul:
    case O::addcdiv: return 3;
    default: return 1;
  }
}

double chain_coefficient(MemoryOp op, ChainCoef coef) {
  const bool sgd = op == MemoryOp::sgd_momentum;
  const double lr = sgd ? kSgd.lr : kAdamW.lr, wd = sgd ? kSgd.weight_decay : kAdamW.weight_decay;
  const auto& a = kAdamW;
  // The bias corrections in double: 1 − β2^step is tiny for early steps with β2 near 1. Computed
  // once: the backends ask on every timed run.
  static const double bias1 = 1.0 - std::pow(a.beta1, double(a.step));
  static const double bias2 = 1.0 - std::pow(a.beta2, double(a.step));
  switch (coef) {
    case K::none: return 0.0;
    case K::lr: return lr;
    case K::minus_lr: return -lr;
    case K::weight_decay: return wd;
    case K::momentum: return kSgd.momentum;
    case K::one: return 1.0;
    case K::beta1: return a.beta1;
    case K::beta2: return a.beta2;
    case K::one_minus_beta1: return 1.0 - a.beta1;
    case K::one_minus_beta2: return 1.0 - a.beta2;
    case K::one_minus_lr_wd: return 1.0 - lr * wd;
    case K::inv_sqrt_bias2: return 1.0 / std::sqrt(bias2);
    case K::minus_lr_over_bias1: return -lr / bias1;
    case K::eps: return a.eps;
    case K::lr_sqrt_bias2_over_bias1: return lr * std::sqrt(bias2) / bias1;
  }
  return 0.0;
}

std::string_view to_string(CollectiveOp op) {
  switch (op) {
    case CollectiveOp::all_reduce: return "all-reduce";
    case CollectiveOp::reduce_scatter: return "reduce-scatter";
    case CollectiveOp::all_gather: return "all-gather";
    case CollectiveOp::broadcast: return "broadcast";
  }
  return "?";
}
std::optional<CollectiveOp> parse_collective_op(std::string_view text) { return parse_from(text, kAllCollectiveOps); }

std::string_view to_string(MemoryOp op) {
  switch (op) {
    case MemoryOp::relu: return "relu";
    case MemoryOp::gelu: return "gelu";
    case MemoryOp::add: return "add";
    case MemoryOp::bias_add: return "bias_add";
    case MemoryOp::batchnorm: return "batchnorm";
    case MemoryOp::layernorm: return "layernorm";
    case MemoryOp::maxpool: return "maxpool";
    case MemoryOp::avgpool: return "avgpool";
    case MemoryOp::softmax: return "softmax";
    case MemoryOp::cross_entropy: return "cross_entropy";
    case MemoryOp::embedding: return "embedding";
    case MemoryOp::sgd_momentum: return "sgd_momentum";
    case MemoryOp::adamw: return "adamw";
  }
  return "?";
}

const std::vector<std::string_view>& memory_fields(MemoryOp op) {
  static const std::vector<std::string_view> elementwise{"elements"}, matrix{"rows", "cols"},
      image{"n", "c", "h", "w"}, pooling{"n", "c", "h", "w", "window", "stride", "pad"},
      softmax{"rows", "cols", "scale", "causal_seq"}, embedding{"rows", "cols", "vocab"};
  switch (op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add:
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: return elementwise;
    case MemoryOp::bias_add:
    case MemoryOp::layernorm:
    case MemoryOp::cross_entropy: return matrix;
    case MemoryOp::batchnorm: return image;
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: return pooling;
    case MemoryOp::softmax: return softmax;
    case MemoryOp::embedding: return embedding;
  }
  return elementwise;
}

bool is_optimizer(MemoryOp op) { return op == MemoryOp::sgd_momentum || op == MemoryOp::adamw; }

bool has_backward(MemoryOp op) {
  return op != MemoryOp::add && op != MemoryOp::bias_add && op != MemoryOp::sgd_momentum && op != MemoryOp::adamw;
}

int64_t MemoryProblem::p() const { return conv_output_extent(h, window, pad, stride, 1); }
int64_t MemoryProblem::q() const { return conv_output_extent(w, window, pad, stride, 1); }

std::vector<MemoryTensor> memory_inputs(const MemoryProblem& m) {
  const int64_t matrix = m.rows * m.cols, image = m.n * m.c * m.h * m.w, pooled = m.n * m.c * m.p() * m.q();
  const bool bwd = m.backward;
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
      if (bwd) return {{"x", m.elements}, {"dy", m.elements}};
      return {{"x", m.elements}};
    case MemoryOp::add: return {{"a", m.elements}, {"b", m.elements}};
    case MemoryOp::bias_add: return {{"x", matrix}, {"bias", m.cols}};
    case MemoryOp::batchnorm:
      if (bwd) return {{"x", image}, {"dy", image}, {"gamma", m.c}, {"mean", m.c}, {"variance", m.c}};
      return {{"x", image}, {"gamma", m.c}, {"beta", m.c}};
    case MemoryOp::layernorm:
      if (bwd) return {{"x", matrix}, {"dy", matrix}, {"gamma", m.cols}, {"mean", m.rows}, {"variance", m.rows}};
      return {{"x", matrix}, {"gamma", m.cols}, {"beta", m.cols}};
    case MemoryOp::maxpool:
      if (bwd) return {{"x", image}, {"dy", pooled}};
      return {{"x", image}};
    case MemoryOp::avgpool:
      if (bwd) return {{"dy", pooled}};
      return {{"x", image}};
    case MemoryOp::softmax:
      if (bwd) return {{"y", matrix}, {"dy", matrix}};
      return {{"x", matrix}};
    case MemoryOp::cross_entropy: return {{"logits", matrix}, {"labels", m.rows, true}};
    case MemoryOp::embedding:
      if (bwd) return {{"dy", matrix}, {"indices", m.rows, true}};
      return {{"table", m.vocab * m.cols}, {"indices", m.rows, true}};
    case MemoryOp::sgd_momentum: return {{"w", m.elements}, {"g", m.elements}, {"v", m.elements}};
    case MemoryOp::adamw: return {{"w", m.elements}, {"g", m.elements}, {"m", m.elements}, {"v", m.elements}};
  }
  return {};
}

std::vector<MemoryTensor> memory_outputs(const MemoryProblem& m) {
  const int64_t matrix = m.rows * m.cols, image = m.n * m.c * m.h * m.w, pooled = m.n * m.c * m.p() * m.q();
  const bool bwd = m.backward;
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu: return {{bwd ? "dx" : "y", m.elements}};
    case MemoryOp::add: return {{"y", m.elements}};
    case MemoryOp::bias_add: return {{"y", matrix}};
    case MemoryOp::batchnorm:
      if (bwd) return {{"dx", image}, {"dgamma", m.c}, {"dbeta", m.c}};
      return {{"y", image}, {"mean", m.c}, {"variance", m.c}};
    case MemoryOp::layernorm:
      if (bwd) return {{"dx", matrix}, {"dgamma", m.cols}, {"dbeta", m.cols}};
      return {{"y", matrix}, {"mean", m.rows}, {"variance", m.rows}};
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: return {{bwd ? "dx" : "y", bwd ? image : pooled}};
    case MemoryOp::softmax: return {{bwd ? "dx" : "y", matrix}};
    case MemoryOp::cross_entropy:
      if (bwd) return {{"dlogits", matrix}};
      return {{"loss", 1}};
    case MemoryOp::embedding:
      if (bwd) return {{"dtable", m.vocab * m.cols}};
      return {{"y", matrix}};
    case MemoryOp::sgd_momentum: return {{"w", m.elements}, {"v", m.elements}};
    case MemoryOp::adamw: return {{"w", m.elements}, {"m", m.elements}, {"v", m.elements}};
  }
  return {};
}

double inv_std_from_variance(double variance) { return 1.0 / std::sqrt(variance + kNormEps); }
double variance_from_inv_std(double inv_std) { return 1.0 / (inv_std * inv_std) - kNormEps; }

int64_t storage_bytes(Dtype dtype) {
  return (dtype == Dtype::fp16 || dtype == Dtype::bf16) ? 2 : 4;
}

int64_t ConvProblem::p() const { return conv_output_extent(h, r, pad_h, stride_h, dilation_h); }
int64_t ConvProblem::q() const { return conv_output_extent(w, s, pad_w, stride_w, dilation_w); }

Dtype dtype_of(const Problem& problem) {
  return std::visit([](const auto& p) { return p.dtype; }, problem);
}

double flops(const Problem& problem) {
  if (is_collective(problem)) return 0;
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) return memory_flops(*m);
  if (const auto* g = std::get_if<GemmProblem>(&problem)) {
    return 2.0 * double(g->m) * double(g->n) * double(g->k) * double(g->batch);
  }
  const auto& c = std::get<ConvProblem>(problem);
  return 2.0 * double(c.n) * double(c.k) * double(c.p()) * double(c.q()) * double(c.c) * double(c.r) *
         double(c.s);
}

namespace {

// Along one axis: of the out × taps (output, tap) pairs, the share whose input index is in [0, size).
double in_bounds_share_1d(int64_t size, int64_t taps, int64_t pad, int64_t stride, int64_t dilation, int64_t out) {
  int64_t inside = 0;
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t t = 0; t < taps; ++t) {
      const int64_t at = o * stride - pad + t * dilation;
      inside += at >= 0 && at < size ? 1 : 0;
    }
  }
  return double(inside) / double(out * taps);
}

}  // namespace

double in_bounds_tap_share(const Problem& problem) {
  const auto* c = std::get_if<ConvProblem>(&problem);
  if (!c) return 1.0;
  return in_bounds_share_1d(c->h, c->r, c->pad_h, c->stride_h, c->dilation_h, c->p()) *
         in_bounds_share_1d(c->w, c->s, c->pad_w, c->stride_w, c->dilation_w, c->q());
}

OperandSizes operand_elements(const Problem& problem) {
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) {
    const int64_t block = c->elements() / c->ranks;
    switch (c->op) {
      case CollectiveOp::reduce_scatter: return {c->elements(), 0, block};
      case CollectiveOp::all_gather: return {block, 0, c->elements()};
      case CollectiveOp::all_reduce:
      case CollectiveOp::broadcast: return {c->elements(), 0, c->elements()};
    }
  }
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
    OperandSizes sizes;
    const std::vector<MemoryTensor> inputs = memory_inputs(*m);
    sizes.input0 = inputs.at(0).elements;
    sizes.input1 = inputs.size() > 1 ? inputs[1].elements : 0;
    for (size_t i = 2; i < inputs.size(); ++i) sizes.more_inputs.push_back(inputs[i].elements);
    for (const MemoryTensor& tensor : memory_outputs(*m)) sizes.output += tensor.elements;
    return sizes;
  }
  if (const auto* g = std::get_if<GemmProblem>(&problem)) {
    return {g->a_elements() * g->batch, g->b_elements() * g->batch, g->c_elements() * g->batch};
  }
  const auto& c = std::get<ConvProblem>(problem);
  switch (c.pass) {
    case ConvPass::forward: return {c.x_elements(), c.w_elements(), c.y_elements()};
    case ConvPass::backward_data: return {c.y_elements(), c.w_elements(), c.x_elements()};
    case ConvPass::backward_filter: return {c.x_elements(), c.y_elements(), c.w_elements()};
  }
  return {};
}

namespace {
// Each pass of a chain reads its inputs and writes its output in full.
double chain_bytes(const MemoryProblem& m, std::span<const ChainStep> chain) {
  double tensors = 0;
  for (const ChainStep& step : chain) tensors += chain_reads(step.op) + 1;
  return tensors * double(m.elements) * double(storage_bytes(m.dtype));
}
}  // namespace

double min_bytes(const Problem& problem) {
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) return double(c->bytes);
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
    if (const auto chain = update_chain(m->op, m->form); !chain.empty()) return chain_bytes(*m, chain);
    // int32 indices and labels are 4 bytes whatever the data's dtype.
    const auto bytes = [&](const MemoryTensor& t) { return double(t.elements) * (t.integer ? 4.0 : double(storage_bytes(m->dtype))); };
    double total = 0;
    for (const MemoryTensor& t : memory_inputs(*m)) {
      // A gather reads the rows it looks up, not the whole table.
      total += t.name == "table" ? double(m->rows) * double(m->cols) * double(storage_bytes(m->dtype)) : bytes(t);
    }
    for (const MemoryTensor& t : memory_outputs(*m)) total += bytes(t);
    return total;
  }
  const OperandSizes sizes = operand_elements(problem);
  const Dtype dtype = dtype_of(problem);
  // Low-precision GEMMs accumulate in fp32 but cuBLAS writes C in the input type; we count it so.
  return double(sizes.input0 + sizes.input1 + sizes.output) * double(storage_bytes(dtype));
}

std::optional<std::string> validate(const Problem& problem) {
  if (const auto* g = std::get_if<GemmProblem>(&problem)) return validate_gemm(*g);
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) return validate_memory(*m);
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) return validate_collective(*c);
  return validate_conv(std::get<ConvProblem>(problem));
}

std::string describe(const Problem& problem) {
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) {
    return fmt::format("{} {} {} {} ranks", to_string(c->op), format_message_size(c->bytes), to_string(c->dtype),
                       c->ranks);
  }
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
    const std::string pass = has_backward(m->op) ? (m->backward ? " bwd" : " fwd") : "";
    return fmt::format("{}{} {} {}", to_string(m->op), pass, memory_shape(*m), to_string(m->dtype));
  }
  if (const auto* g = std::get_if<GemmProblem>(&problem)) {
    std::string text = fmt::format("gemm {}x{}x{} {}{} {}", g->m, g->n, g->k, to_string(g->op_a),
                                   to_string(g->op_b), to_string(g->dtype));
    if (g->batch > 1) text += fmt::format(" b{}", g->batch);
    return text;
  }
  const auto& c = std::get<ConvProblem>(problem);
  std::string text = fmt::format("conv {} n{} c{} {}x{} k{} {}x{}", pass_short(c.pass), c.n, c.c, c.h, c.w, c.k,
                                 c.r, c.s);
  if (c.pad_h == c.pad_w) {
    text += fmt::format(" p{}", c.pad_h);
  } else {
    text += fmt::format(" p{}x{}", c.pad_h, c.pad_w);
  }
  if (c.stride_h == c.stride_w) {
    text += fmt::format(" s{}", c.stride_h);
  } else {
    text += fmt::format(" s{}x{}", c.stride_h, c.stride_w);
  }
  if (c.dilation_h == c.dilation_w) {
    text += fmt::format(" d{}", c.dilation_h);
  } else {
    text += fmt::format(" d{}x{}", c.dilation_h, c.dilation_w);
  }
  return text + fmt::format(" {} {}", to_string(c.layout), to_string(c.dtype));
}

std::string_view family_of(const Problem& problem) {
  if (is_memory_bound(problem)) return "memory";
  if (is_collective(problem)) return "collective";
  return std::holds_alternative<GemmProblem>(problem) ? "gemm" : "conv";
}

std::string kind_label(const Problem& problem) {
  if (std::holds_alternative<GemmProblem>(problem)) return "gemm";
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) return std::string(to_string(c->op));
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) {
    if (m->form != UpdateForm::fused) return fmt::format("{}-{}", memory_short(m->op), to_string(m->form));
    if (!has_backward(m->op)) return std::string(memory_short(m->op));
    return fmt::format("{}-{}", memory_short(m->op), m->backward ? "bwd" : "fwd");
  }
  return fmt::format("conv-{}", pass_short(std::get<ConvProblem>(problem).pass));
}

std::string format_message_size(int64_t bytes) {
  for (auto [unit, name] : {std::pair{int64_t(1) << 30, "GiB"}, {int64_t(1) << 20, "MiB"}, {int64_t(1) << 10, "KiB"}}) {
    if (bytes >= unit && bytes % unit == 0) return fmt::format("{} {}", bytes / unit, name);
  }
  return fmt::format("{} B", bytes);
}

}  // namespace trainrate
