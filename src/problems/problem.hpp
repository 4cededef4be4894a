// Problems: the kernels trainrate times, described by shape alone.
//
// A Problem is a value (GEMM or 2-D convolution) that knows its FLOP count, its minimum
// memory traffic and how to validate itself. Backends, the reference, suites, models and
// reports all speak in Problems, so a shape means the same thing everywhere.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace trainrate {

enum class Dtype { fp32, tf32, fp16, bf16 };
// op(X): N uses X as stored, T uses its transpose (BLAS convention).
enum class Op { N, T };
enum class Layout { NCHW, NHWC };
enum class ConvPass { forward, backward_data, backward_filter };

std::string_view to_string(Dtype dtype);
std::string_view to_string(Op op);
std::string_view to_string(Layout layout);
std::string_view to_string(ConvPass pass);
std::optional<Dtype> parse_dtype(std::string_view text);
std::optional<Op> parse_op(std::string_view text);
std::optional<Layout> parse_layout(std::string_view text);
std::optional<ConvPass> parse_pass(std::string_view text);

// Bytes per element as stored in memory (tf32 is stored as fp32).
int64_t storage_bytes(Dtype dtype);

// C[M×N] = op(A)[M×K] · op(B)[K×N], column-major, repeated `batch` times (strided batch).
// Column-major because cuBLAS and BLAS are; op(A) = A means A is stored M×K with lda = M.
struct GemmProblem {
  int64_t m = 1, n = 1, k = 1;
  Op op_a = Op::N, op_b = Op::N;
  Dtype dtype = Dtype::fp32;
  int64_t batch = 1;

  int64_t lda() const { return op_a == Op::N ? m : k; }
  int64_t ldb() const { return op_b == Op::N ? k : n; }
  int64_t ldc() const { return m; }
  int64_t a_elements() const { return m * k; }
  int64_t b_elements() const { return k * n; }
  int64_t c_elements() const { return m * n; }

  bool operator==(const GemmProblem&) const = default;
};

// 2-D convolution, cross-correlation as in every DL framework.
// Tensors: x [N,C,H,W], w [K,C,R,S], y [N,K,P,Q], each in `layout` order
// (NCHW: x NCHW, w KCRS, y NKPQ; NHWC: x NHWC, w KRSC, y NPQK).
// forward: y = conv(x, w); backward_data: dx = conv^T(dy, w); backward_filter: dw = corr(x, dy).
struct ConvProblem {
  int64_t n = 1, c = 1, h = 1, w = 1;  // input batch, channels, height, width
  int64_t k = 1, r = 1, s = 1;         // filters, filter height, filter width
  int64_t pad_h = 0, pad_w = 0;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  Layout layout = Layout::NCHW;
  ConvPass pass = ConvPass::forward;
  Dtype dtype = Dtype::fp32;

  int64_t p() const;  // output height
  int64_t q() const;  // output width
  int64_t x_elements() const { return n * c * h * w; }
  int64_t w_elements() const { return k * c * r * s; }
  int64_t y_elements() const { return n * k * p() * q(); }

  bool operator==(const ConvProblem&) const = default;
};

using Problem = std::variant<GemmProblem, ConvProblem>;

// The dtype of either kind of problem.
Dtype dtype_of(const Problem& problem);

// Work as counted by convention: 2·M·N·K·batch for GEMM, 2·N·K·P·Q·C·R·S for every conv pass,
// whatever algorithm a backend uses (Winograd and FFT do fewer operations; we still count these).
double flops(const Problem& problem);
// The share of a conv's counted multiply-adds whose input tap lies inside the image (1 for GEMM).
// The count above includes taps that fall on padding, which backends skip: a 3×3 conv with pad 1
// on a 1×1 map does 1 of 9, and its R can then pass the device's peak.
double in_bounds_tap_share(const Problem& problem);
// Minimum DRAM traffic: every input read once, the output written once (read too when it is
// accumulated). Used for arithmetic intensity on rooflines.
double min_bytes(const Problem& problem);

// Empty when the problem is valid; otherwise a message that names the offending field.
std::optional<std::string> validate(const Problem& problem);

// Short human name, e.g. "gemm 1024x1024x1024 NT fp32" or
// "conv fwd n32 c64 56x56 k64 3x3 p1 s1 d1 NCHW fp32". Unique per distinct problem.
std::string describe(const Problem& problem);
// The family a problem belongs to, as backends declare what they take: "gemm" or "conv".
std::string_view family_of(const Problem& problem);
// Short kind label used for grouping in reports: "gemm", "conv-fwd", "conv-bwd-data", "conv-bwd-filter".
std::string kind_label(const Problem& problem);

// Element counts of the operands a backend reads and the one it writes.
struct OperandSizes {
  int64_t input0 = 0, input1 = 0, output = 0;
};
OperandSizes operand_elements(const Problem& problem);

}  // namespace trainrate
