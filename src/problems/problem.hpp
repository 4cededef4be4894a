// Problems: the kernels trainrate times, described by shape alone.
//
// A Problem is a value (GEMM, 2-D convolution, a memory-bound layer or a collective) that knows its FLOP count, its minimum
// memory traffic and how to validate itself. Backends, the reference, suites, models and
// reports all speak in Problems, so a shape means the same thing everywhere.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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

// The memory-bound rest of a training step. Every tensor is plain row-major (NCHW for batch norm
// and pooling), fp32 unless `dtype` says otherwise; indices and labels are int32.
enum class MemoryOp {
  relu, gelu, add, bias_add, batchnorm, layernorm, maxpool, avgpool, softmax, cross_entropy, embedding,
  sgd_momentum, adamw
};
std::string_view to_string(MemoryOp op);
std::optional<MemoryOp> parse_memory_op(std::string_view text);

// One memory-bound layer pass. Which shape fields an op reads (memory_fields) is fixed per op; the
// others stay at their defaults so equal problems compare equal.
//   relu, gelu        elements     forward y = f(x); backward dx = dy·f'(x) (GELU with the exact erf)
//   add               elements     y = a + b (forward only: its backward is a copy)
//   bias_add          rows, cols   y[r,c] = x[r,c] + b[c] (forward only)
//   batchnorm         n, c, h, w   training: per-channel batch mean and biased variance, eps kNormEps;
//                                  backward from the saved mean and variance to dx, dgamma, dbeta
//   layernorm         rows, cols   the same over each row's cols values
//   maxpool, avgpool  n, c, h, w, window, stride, pad (square); avg divides by window² (padding
//                                  counts as zeros); max backward routes dy to the first maximum
//   softmax           rows, cols, scale, causal_seq: y = softmax(scale·x) per row; causal_seq > 0
//                                  masks columns j > r % causal_seq (y = 0 there)
//   cross_entropy     rows, cols (classes): forward the mean over rows of logsumexp − x[label];
//                                  backward (softmax − onehot)/rows
//   embedding         rows (tokens), cols (dim), vocab: forward gathers table rows by index;
//                                  backward zeroes dtable and scatter-adds dy rows into it
//   sgd_momentum      elements (parameters), form: g' = g + wd·w; v = mu·v + g'; w −= lr·v
//   adamw             elements, form: bias-corrected Adam with decoupled weight decay (kAdamW below)
//
// How an optimizer step is carried out. `fused`: one pass over the parameters and their state (a
// fused kernel: PyTorch's fused=True, apex). `torch` and `keras`: the chain of element-wise ops the
// framework's default optimizer runs on CPU (PyTorch's per-tensor path, Keras 3's ops), each a full
// pass over the parameters, listed by update_chain() below; what such a step reads and writes is
// the chain's traffic, several times the fused pass's.
enum class UpdateForm { fused, torch, keras };
std::string_view to_string(UpdateForm form);
std::optional<UpdateForm> parse_update_form(std::string_view text);
// Whether a step in this form runs its whole chain on one parameter tensor before the next tensor
// (PyTorch's loop over the parameters), so that a tensor small enough finds itself in cache on the
// chain's later passes. The others pass over all the parameters at once: fused has one pass, and
// TensorFlow's executor runs Keras's per-variable ops as they become ready, interleaving the
// variables' chains (docs/models.md).
bool updates_tensor_by_tensor(UpdateForm form);

struct MemoryProblem {
  MemoryOp op = MemoryOp::relu;
  bool backward = false;
  int64_t elements = 1;
  int64_t rows = 1, cols = 1;
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t window = 1, stride = 1, pad = 0;
  int64_t vocab = 1;
  double scale = 1.0;
  int64_t causal_seq = 0;
  UpdateForm form = UpdateForm::fused;
  Dtype dtype = Dtype::fp32;

  int64_t p() const;  // pooled height
  int64_t q() const;  // pooled width

  bool operator==(const MemoryProblem&) const = default;
};

// Fixed hyper-parameters: part of what an op is, not of its shape.
inline constexpr double kNormEps = 1e-5;
// Norm backends save 1/√(variance + eps) where the problem states the variance (its inputs and
// outputs): the conversions both ways.
double inv_std_from_variance(double variance);
double variance_from_inv_std(double inv_std);
struct SgdSettings {
  double lr = 0.01, momentum = 0.9, weight_decay = 1e-4;
};
struct AdamWSettings {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
  int64_t step = 3;  // counts from 1; > 1 so the bias correction is exercised
};
inline constexpr SgdSettings kSgd{};
inline constexpr AdamWSettings kAdamW{};

// One element-wise pass of an optimizer's op chain, over every element: out = f(a, b, c) with the
// scalar k. The slots name the optimizer's tensors (w, g and the state m, v: sgd_momentum keeps its
// velocity in v) and the temporaries a framework allocates between ops (t0, t1).
enum class ChainOp {
  scale,       // out = k·a
  add_scalar,  // out = a + k
  square,      // out = a·a
  sqrt,        // out = √a
  add,         // out = a + b
  sub,         // out = a − b
  div,         // out = a / b
  axpy,        // out = a + k·b
  addcmul,     // out = a + k·b·b
  addcdiv,     // out = a + k·b / c
};
enum class ChainSlot { w, g, m, v, t0, t1 };
inline constexpr int kChainSlots = 6;
// The scalars of the chains, each a function of kSgd or kAdamW (chain_coefficient).
enum class ChainCoef {
  none, lr, minus_lr, weight_decay, momentum, one, beta1, beta2, one_minus_beta1, one_minus_beta2,
  one_minus_lr_wd, inv_sqrt_bias2, minus_lr_over_bias1, eps, lr_sqrt_bias2_over_bias1
};
struct ChainStep {
  ChainOp op;
  ChainCoef k;
  ChainSlot out, a, b = ChainSlot::w, c = ChainSlot::w;  // b and c only where op reads them
};
// The chain of an optimizer op in a form; empty for `fused` (one kernel, no chain).
std::span<const ChainStep> update_chain(MemoryOp op, UpdateForm form);
// The tensors a step reads (1 to 3), and its FLOPs per element by the convention of flops().
int chain_reads(ChainOp op);
int chain_flops(ChainOp op);
// The value of a chain scalar for the optimizer op (its settings: kSgd or kAdamW).
double chain_coefficient(MemoryOp op, ChainCoef coef);
// Where each ChainSlot lives when a chain runs in place on the optimizer's outputs, given in
// memory_outputs(m) order (w, then v for SGD, or m and v for AdamW), its gradient g and
// 2·m.elements floats of temporaries (t0, then t1).
std::array<float*, kChainSlots> chain_slots(const MemoryProblem& m, std::span<float* const> outputs, const float* g,
                                            float* temporaries);

// The shape fields an op reads, by their JSON names ("elements", "rows", "window", ...).
const std::vector<std::string_view>& memory_fields(MemoryOp op);
// sgd_momentum and adamw: the ops with a `form`.
bool is_optimizer(MemoryOp op);
// Whether the op has a backward pass of its own (add, bias_add and the optimizers do not).
bool has_backward(MemoryOp op);

// One tensor a memory-bound pass reads or writes. Integer tensors (indices, labels) are int32.
struct MemoryTensor {
  std::string_view name;
  int64_t elements = 0;
  bool integer = false;
};
// Inputs in the order backends and the reference take them, and outputs in the order they are
// laid out, one after another, in the pass's single output vector.
std::vector<MemoryTensor> memory_inputs(const MemoryProblem& m);
std::vector<MemoryTensor> memory_outputs(const MemoryProblem& m);

// One collective operation among `ranks` processes (MPI ranks, or GPUs under NCCL), sized as
// nccl-tests sizes it: `bytes` is the larger buffer of a rank (all-reduce: in = out; reduce-scatter:
// its input, of which each rank keeps bytes/ranks; all-gather: its output, each rank sending
// bytes/ranks; broadcast: the root's buffer). Sum is the only reduction; rank 0 is the root.
enum class CollectiveOp { all_reduce, reduce_scatter, all_gather, broadcast };
std::string_view to_string(CollectiveOp op);
std::optional<CollectiveOp> parse_collective_op(std::string_view text);

struct CollectiveProblem {
  CollectiveOp op = CollectiveOp::all_reduce;
  int64_t bytes = 4096;
  int64_t ranks = 2;
  Dtype dtype = Dtype::fp32;

  int64_t elements() const { return bytes / storage_bytes(dtype); }  // of the larger buffer

  bool operator==(const CollectiveProblem&) const = default;
};

using Problem = std::variant<GemmProblem, ConvProblem, MemoryProblem, CollectiveProblem>;

// The dtype of either kind of problem.
Dtype dtype_of(const Problem& problem);

// Work as counted by convention: 2·M·N·K·batch for GEMM, 2·N·K·P·Q·C·R·S for every conv pass,
// whatever algorithm a backend uses (Winograd and FFT do fewer operations; we still count these).
// Memory-bound ops count the arithmetic of their formula per element, each transcendental (exp,
// erf, sqrt, a division) as one FLOP and per-row or per-channel terms left out:
//   relu 1 (fwd and bwd), gelu 5 fwd / 11 bwd, add and bias_add 1, batchnorm and layernorm 7 fwd /
//   10 bwd, pooling window² per output (both passes), softmax 6 fwd / 5 bwd, cross_entropy 4 fwd /
//   6 bwd per logit, embedding 0 fwd / 1 per dy element bwd, sgd_momentum 6 and adamw 16 per parameter
//   fused (a chain form: its passes' chain_flops).
// Collectives count none: their work is the bytes they move.
double flops(const Problem& problem);
// The share of a conv's counted multiply-adds whose input tap lies inside the image (1 for GEMM).
// The count above includes taps that fall on padding, which backends skip: a 3×3 conv with pad 1
// on a 1×1 map does 1 of 9, and its R can then pass the device's peak.
double in_bounds_tap_share(const Problem& problem);
// Minimum DRAM traffic: every input read once, the output written once (read too when it is
// accumulated). Used for arithmetic intensity on rooflines, and as the work of memory-bound
// problems, whose rate is bytes/s. Embedding forward reads only the gathered rows (tokens·dim); an
// optimizer step in a chain form counts every pass of its chain (inputs read, output written).
// A collective's is its message size (`bytes`), so its rate is nccl-tests' algbw.
double min_bytes(const Problem& problem);

// Empty when the problem is valid; otherwise a message that names the offending field.
std::optional<std::string> validate(const Problem& problem);

// A message size in the largest binary unit that divides it exactly: "4 KiB", "1 GiB", "6144 B".
std::string format_message_size(int64_t bytes);

// Short human name, e.g. "gemm 1024x1024x1024 NT fp32" or
// "conv fwd n32 c64 56x56 k64 3x3 p1 s1 d1 NCHW fp32". Unique per distinct problem.
std::string describe(const Problem& problem);
// The family a problem belongs to, as backends declare what they take: "gemm", "conv", "memory" or
// "collective".
std::string_view family_of(const Problem& problem);
inline bool is_memory_bound(const Problem& problem) { return std::holds_alternative<MemoryProblem>(problem); }
inline bool is_collective(const Problem& problem) { return std::holds_alternative<CollectiveProblem>(problem); }
// Memory-bound problems and collectives are rated in bytes/s (min_bytes per second; a collective's
// is its algorithm bandwidth), the others in FLOP/s.
inline bool rated_in_bytes(const Problem& problem) { return is_memory_bound(problem) || is_collective(problem); }
// The work a problem's rate counts: min_bytes for those rated in bytes, flops for the rest, so
// that time = work / rate for every kind.
inline double work(const Problem& problem) { return rated_in_bytes(problem) ? min_bytes(problem) : flops(problem); }
// Short kind label used for grouping in reports: "gemm", "conv-fwd", "conv-bwd-data", "conv-bwd-filter",
// for memory-bound ops "relu-fwd", "bn-bwd", "maxpool-fwd", "softmax-bwd", "add", "sgd", "adamw-keras"
// (an optimizer's op chain is a kind of its own), ..., and the
// collective's name: "all-reduce", "reduce-scatter", "all-gather", "broadcast".
std::string kind_label(const Problem& problem);

// Element counts of the operands a backend reads and the one it writes. Memory-bound problems may
// read more than two tensors: input0 and input1 are the first two, `more_inputs` the rest.
struct OperandSizes {
  int64_t input0 = 0, input1 = 0, output = 0;
  std::vector<int64_t> more_inputs;
};
OperandSizes operand_elements(const Problem& problem);

}  // namespace trainrate
