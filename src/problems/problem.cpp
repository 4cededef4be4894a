#include "problems/problem.hpp"

#include <array>
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

int64_t storage_bytes(Dtype dtype) {
  return (dtype == Dtype::fp16 || dtype == Dtype::bf16) ? 2 : 4;
}

int64_t ConvProblem::p() const { return conv_output_extent(h, r, pad_h, stride_h, dilation_h); }
int64_t ConvProblem::q() const { return conv_output_extent(w, s, pad_w, stride_w, dilation_w); }

Dtype dtype_of(const Problem& problem) {
  return std::visit([](const auto& p) { return p.dtype; }, problem);
}

double flops(const Problem& problem) {
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

double min_bytes(const Problem& problem) {
  const OperandSizes sizes = operand_elements(problem);
  const Dtype dtype = dtype_of(problem);
  // Low-precision GEMMs accumulate in fp32 but cuBLAS writes C in the input type; we count it so.
  return double(sizes.input0 + sizes.input1 + sizes.output) * double(storage_bytes(dtype));
}

std::optional<std::string> validate(const Problem& problem) {
  if (const auto* g = std::get_if<GemmProblem>(&problem)) return validate_gemm(*g);
  return validate_conv(std::get<ConvProblem>(problem));
}

std::string describe(const Problem& problem) {
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
  return std::holds_alternative<GemmProblem>(problem) ? "gemm" : "conv";
}

std::string kind_label(const Problem& problem) {
  if (std::holds_alternative<GemmProblem>(problem)) return "gemm";
  return fmt::format("conv-{}", pass_short(std::get<ConvProblem>(problem).pass));
}

}  // namespace trainrate
