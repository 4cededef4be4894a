#include "problems/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "problems/problem_json.hpp"

namespace trainrate {

namespace {

// ---- lowering -------------------------------------------------------------------------------

LayerPass make_pass(const Layer& layer, std::string pass, bool backward, Problem problem) {
  return LayerPass{layer.name, std::move(pass), backward ? Phase::backward : Phase::forward, std::move(problem),
                   layer.repeat};
}

ConvProblem conv_problem(const ConvLayer& conv, int64_t batch, ConvPass pass, const LoweringOptions& options) {
  ConvProblem p;
  p.n = batch;
  p.c = conv.c, p.h = conv.h, p.w = conv.w;
  p.k = conv.k, p.r = conv.r, p.s = conv.s;
  p.pad_h = p.pad_w = conv.pad;
  p.stride_h = p.stride_w = conv.stride;
  p.layout = options.layout;
  p.pass = pass;
  p.dtype = options.dtype;
  return p;
}

void lower_conv(const Layer& layer, const ConvLayer& conv, int64_t batch, const LoweringOptions& options,
                std::vector<LayerPass>& out) {
  out.push_back(make_pass(layer, "fwd", false, conv_problem(conv, batch, ConvPass::forward, options)));
  if (layer.input_grad) {
    out.push_back(make_pass(layer, "bwd-data", true, conv_problem(conv, batch, ConvPass::backward_data, options)));
  }
  out.push_back(make_pass(layer, "bwd-filter", true, conv_problem(conv, batch, ConvPass::backward_filter, options)));
}

GemmProblem gemm(int64_t m, int64_t n, int64_t k, Op op_a, Op op_b, int64_t batch, Dtype dtype) {
  return GemmProblem{m, n, k, op_a, op_b, dtype, batch};
}

// The three GEMMs of a row-major product Y[rows × cols] = X[rows × inner] · M, where M [inner × cols]
// is B itself (B stored [inner × cols]) or Bᵀ (B stored [cols × inner], `b_transposed`), as PyTorch
// stores them. A row-major matrix is the column-major matrix of its transpose, so in the
// column-major convention of problem.hpp every product is written for Yᵀ:
//   forward  Yᵀ = Mᵀ·Xᵀ   [cols × rows],  k = inner
//   dX       dXᵀ = M·dYᵀ  [inner × rows], k = cols
//   dB       dBᵀ (as B is stored)        , k = rows
// The ops are the ones cuBLAS sees from PyTorch for nn.Linear (TN, NN, NT).
struct ProductShape {
  int64_t rows, inner, cols;
  bool b_transposed;
  int64_t batch;  // independent products (strided batch)
};

GemmProblem product_forward(const ProductShape& p, Dtype dtype) {
  return gemm(p.cols, p.rows, p.inner, p.b_transposed ? Op::T : Op::N, Op::N, p.batch, dtype);
}
GemmProblem product_grad_x(const ProductShape& p, Dtype dtype) {
  return gemm(p.inner, p.rows, p.cols, p.b_transposed ? Op::N : Op::T, Op::N, p.batch, dtype);
}
GemmProblem product_grad_b(const ProductShape& p, Dtype dtype) {
  // B stored [cols × inner] → its column-major form is [inner × cols] = Xᵀ·dY; else [cols × inner] = dYᵀ·X.
  if (p.b_transposed) return gemm(p.inner, p.cols, p.rows, Op::N, Op::T, p.batch, dtype);
  return gemm(p.cols, p.inner, p.rows, Op::N, Op::T, p.batch, dtype);
}

void lower_linear(const Layer& layer, const LinearLayer& linear, int64_t batch, const LoweringOptions& options,
                  std::vector<LayerPass>& out) {
  const ProductShape shape{batch * linear.tokens, linear.in_features, linear.out_features, true, 1};
  out.push_back(make_pass(layer, "fwd", false, product_forward(shape, options.dtype)));
  // The bias is added over the GEMM's output (its gradient, a column sum, is not counted).
  if (linear.bias) {
    const MemoryProblem bias{.op = MemoryOp::bias_add, .rows = shape.rows, .cols = linear.out_features,
                             .dtype = memory_dtype(options.dtype)};
    out.push_back(make_pass(layer, "bias fwd", false, bias));
  }
  if (layer.input_grad) out.push_back(make_pass(layer, "bwd-data", true, product_grad_x(shape, options.dtype)));
  out.push_back(make_pass(layer, "bwd-weight", true, product_grad_b(shape, options.dtype)));
}

void lower_attention(const Layer& layer, const AttentionLayer& attention, int64_t batch,
                     const LoweringOptions& options, std::vector<LayerPass>& out) {
  const int64_t products = batch * attention.heads;
  // S = Q·Kᵀ: K is stored [seq × head_dim] = [cols × inner], hence b_transposed.
  const ProductShape qk{attention.seq_len, attention.head_dim, attention.seq_len, true, products};
  // O = P·V: V is stored [seq × head_dim] = [inner × cols].
  const ProductShape pv{attention.seq_len, attention.seq_len, attention.head_dim, false, products};
  const Dtype dtype = options.dtype;
  out.push_back(make_pass(layer, "qk fwd", false, product_forward(qk, dtype)));
  out.push_back(make_pass(layer, "pv fwd", false, product_forward(pv, dtype)));
  // Backward runs in reverse: PV first (dP, dV), then QK (dQ, dK).
  out.push_back(make_pass(layer, "pv bwd-p", true, product_grad_x(pv, dtype)));
  out.push_back(make_pass(layer, "pv bwd-v", true, product_grad_b(pv, dtype)));
  out.push_back(make_pass(layer, "qk bwd-q", true, product_grad_x(qk, dtype)));
  out.push_back(make_pass(layer, "qk bwd-k", true, product_grad_b(qk, dtype)));
}

// A per-sample memory problem at the whole batch: its batch axis scaled, its dtype the lowering's.
MemoryProblem at_batch(MemoryProblem m, int64_t batch, const LoweringOptions& options) {
  switch (m.op) {
    case MemoryOp::relu:
    case MemoryOp::gelu:
    case MemoryOp::add: m.elements *= batch; break;
    case MemoryOp::bias_add:
    case MemoryOp::layernorm:
    case MemoryOp::softmax:
    case MemoryOp::cross_entropy:
    case MemoryOp::embedding: m.rows *= batch; break;
    case MemoryOp::batchnorm:
    case MemoryOp::maxpool:
    case MemoryOp::avgpool: m.n *= batch; break;
    case MemoryOp::sgd_momentum:
    case MemoryOp::adamw: break;  // over parameters, whatever the batch
  }
  m.dtype = memory_dtype(options.dtype);
  return m;
}

void lower_memory(const Layer& layer, const MemoryLayer& memory, int64_t batch, const LoweringOptions& options,
                  std::vector<LayerPass>& out) {
  MemoryProblem m = at_batch(memory.per_sample, batch, options);
  out.push_back(make_pass(layer, "fwd", false, m));
  if (!layer.input_grad) return;
  if (memory.residual) {
    out.push_back(make_pass(layer, "grad-sum", true, m));
  } else if (has_backward(m.op)) {
    m.backward = true;
    out.push_back(make_pass(layer, "bwd", true, m));
  }
}

bool same_problem(const Problem& a, const Problem& b) { return a == b; }

}  // namespace

Dtype memory_dtype(Dtype dtype) { return dtype == Dtype::tf32 ? Dtype::fp32 : dtype; }

std::string_view to_string(Optimizer optimizer) {
  switch (optimizer) {
    case Optimizer::none: return "none";
    case Optimizer::sgd: return "sgd";
    case Optimizer::adamw: return "adamw";
  }
  return "?";
}

std::optional<Optimizer> parse_optimizer(std::string_view text) {
  if (text == "none") return Optimizer::none;
  if (text == "sgd") return Optimizer::sgd;
  if (text == "adamw" || text == "adam") return Optimizer::adamw;
  return std::nullopt;
}

MemoryOp optimizer_op(Optimizer optimizer) {
  return optimizer == Optimizer::sgd ? MemoryOp::sgd_momentum : MemoryOp::adamw;
}

std::vector<LayerPass> optimizer_passes(const Network& network, const LoweringOptions& options) {
  const Optimizer optimizer = options.optimizer.value_or(network.optimizer);
  if (optimizer == Optimizer::none) return {};
  const auto step = [&](int64_t elements, int64_t count) {
    const MemoryProblem update{.op = optimizer_op(optimizer), .elements = elements, .form = options.optimizer_form};
    return LayerPass{"optimizer", "step", Phase::update, update, count};
  };
  if (!updates_tensor_by_tensor(options.optimizer_form)) return {step(parameter_count(network), 1)};
  std::vector<LayerPass> passes;
  for (const TensorCount& tensors : parameter_tensors(network)) passes.push_back(step(tensors.elements, tensors.count));
  return passes;
}

std::vector<LayerPass> lower_layer(const Layer& layer, int64_t batch, const LoweringOptions& options) {
  std::vector<LayerPass> passes;
  std::visit(
      [&](const auto& shape) {
        using T = std::decay_t<decltype(shape)>;
        if constexpr (std::is_same_v<T, ConvLayer>) lower_conv(layer, shape, batch, options, passes);
        if constexpr (std::is_same_v<T, LinearLayer>) lower_linear(layer, shape, batch, options, passes);
        if constexpr (std::is_same_v<T, AttentionLayer>) lower_attention(layer, shape, batch, options, passes);
        if constexpr (std::is_same_v<T, MemoryLayer>) lower_memory(layer, shape, batch, options, passes);
      },
      layer.shape);
  return passes;
}

std::vector<LayerPass> lower_training_step(const Network& network, const LoweringOptions& options) {
  std::vector<LayerPass> forward, backward;
  for (auto it = network.layers.begin(); it != network.layers.end(); ++it) {
    for (auto& pass : lower_layer(*it, network.batch, options)) {
      if (pass.phase == Phase::forward) forward.push_back(std::move(pass));
    }
  }
  for (auto it = network.layers.rbegin(); it != network.layers.rend(); ++it) {
    for (auto& pass : lower_layer(*it, network.batch, options)) {
      if (pass.phase == Phase::backward) backward.push_back(std::move(pass));
    }
  }
  forward.insert(forward.end(), std::make_move_iterator(backward.begin()), std::make_move_iterator(backward.end()));
  for (LayerPass& update : optimizer_passes(network, options)) forward.push_back(std::move(update));
  return forward;
}

std::vector<ProblemCount> training_problem_counts(const Network& network, const LoweringOptions& options) {
  std::vector<ProblemCount> counts;
  for (const LayerPass& pass : lower_training_step(network, options)) {
    auto found = std::find_if(counts.begin(), counts.end(),
                              [&](const ProblemCount& c) { return same_problem(c.problem, pass.problem); });
    if (found == counts.end()) {
      counts.push_back({pass.problem, pass.count});
    } else {
      found->count += pass.count;
    }
  }
  return counts;
}

std::vector<Problem> training_problems(const Network& network, const LoweringOptions& options) {
  std::vector<Problem> problems;
  for (const auto& counted : training_problem_counts(network, options)) problems.push_back(counted.problem);
  return problems;
}

// ---- counts ---------------------------------------------------------------------------------

std::vector<TensorCount> layer_parameter_tensors(const Layer& layer) {
  std::vector<TensorCount> tensors;
  const auto add = [&](int64_t elements, int64_t per_copy) {
    if (elements > 0) tensors.push_back({elements, per_copy * layer.repeat});
  };
  if (const auto* conv = std::get_if<ConvLayer>(&layer.shape)) {
    add(conv->k * conv->c * conv->r * conv->s, 1);
    if (conv->bias) add(conv->k, 1);
  } else if (const auto* linear = std::get_if<LinearLayer>(&layer.shape)) {
    if (!linear->tied_weights) {
      add(linear->in_features * linear->out_features, 1);
      if (linear->bias) add(linear->out_features, 1);
    }
  } else if (const auto* memory = std::get_if<MemoryLayer>(&layer.shape)) {
    const MemoryProblem& m = memory->per_sample;
    if (m.op == MemoryOp::batchnorm) add(m.c, 2);  // scale and shift (running statistics are buffers)
    if (m.op == MemoryOp::layernorm) add(m.cols, 2);
    if (m.op == MemoryOp::embedding) add(m.vocab * m.cols, 1);
  }
  return tensors;
}

int64_t layer_parameters(const Layer& layer) {
  int64_t total = 0;
  for (const TensorCount& t : layer_parameter_tensors(layer)) total += t.elements * t.count;
  return total;
}

std::vector<TensorCount> parameter_tensors(const Network& network) {
  std::vector<TensorCount> distinct;
  const auto add = [&](const TensorCount& t) {
    auto found = std::find_if(distinct.begin(), distinct.end(), [&](const TensorCount& d) { return d.elements == t.elements; });
    if (found == distinct.end()) {
      distinct.push_back(t);
    } else {
      found->count += t.count;
    }
  };
  for (const Layer& layer : network.layers) {
    for (const TensorCount& t : layer_parameter_tensors(layer)) add(t);
  }
  if (network.other_parameters > 0) add({network.other_parameters, 1});
  return distinct;
}

int64_t parameter_count(const Network& network) {
  int64_t total = 0;
  for (const TensorCount& t : parameter_tensors(network)) total += t.elements * t.count;
  return total;
}

double forward_macs_per_sample(const Network& network) {
  Network one = network;
  one.batch = 1;
  double macs = 0;
  for (const LayerPass& pass : lower_training_step(one)) {
    if (pass.phase == Phase::forward && !is_memory_bound(pass.problem)) macs += flops(pass.problem) / 2 * double(pass.count);
  }
  return macs;
}

double training_flops(const Network& network, const LoweringOptions& options) {
  double total = 0;
  for (const LayerPass& pass : lower_training_step(network, options)) {
    if (!is_memory_bound(pass.problem)) total += flops(pass.problem) * double(pass.count);
  }
  return total;
}

// ---- built-in networks ----------------------------------------------------------------------

namespace {

int64_t conv_out(int64_t in, int64_t filter, int64_t pad, int64_t stride) { return (in + 2 * pad - filter) / stride + 1; }

Layer conv_layer(std::string name, int64_t c, int64_t hw, int64_t k, int64_t r, int64_t pad, int64_t stride,
                 int64_t repeat = 1, bool bias = false) {
  return Layer{std::move(name), ConvLayer{c, hw, hw, k, r, r, pad, stride, bias}, repeat};
}

Layer linear_layer(std::string name, int64_t tokens, int64_t in, int64_t out, int64_t repeat = 1) {
  return Layer{std::move(name), LinearLayer{tokens, in, out, true, false}, repeat};
}

Layer memory_layer(std::string name, MemoryProblem per_sample, int64_t repeat = 1) {
  return Layer{std::move(name), MemoryLayer{per_sample, false}, repeat};
}

Layer elementwise(std::string name, MemoryOp op, int64_t elements, int64_t repeat = 1) {
  return memory_layer(std::move(name), MemoryProblem{.op = op, .elements = elements}, repeat);
}

Layer residual_add(std::string name, int64_t elements, int64_t repeat = 1) {
  return Layer{std::move(name), MemoryLayer{MemoryProblem{.op = MemoryOp::add, .elements = elements}, true}, repeat};
}

Layer row_op(std::string name, MemoryOp op, int64_t rows, int64_t cols, int64_t repeat = 1) {
  return memory_layer(std::move(name), MemoryProblem{.op = op, .rows = rows, .cols = cols}, repeat);
}

Layer embedding(std::string name, int64_t tokens, int64_t dim, int64_t vocab) {
  return memory_layer(std::move(name), MemoryProblem{.op = MemoryOp::embedding, .rows = tokens, .cols = dim, .vocab = vocab});
}

void check_range(const std::string& what, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    throw InputError(fmt::format("{} must be in [{}, {}] (got {})", what, lo, hi, value));
  }
}

// A conv, its batch norm, and (unless `relu` is false: the block's last conv, whose ReLU follows
// the residual add) its ReLU, all `repeat` times.
void add_conv_bn(Network& net, const std::string& name, const std::string& suffix, int64_t c, int64_t hw, int64_t k,
                 int64_t r, int64_t pad, int64_t stride, int64_t repeat, bool relu) {
  const int64_t out_hw = conv_out(hw, r, pad, stride);
  const std::string prefix = name.empty() ? "" : name + ".";
  net.layers.push_back(conv_layer(prefix + "conv" + suffix, c, hw, k, r, pad, stride, repeat));
  net.layers.push_back(memory_layer(prefix + "bn" + suffix,
                                    MemoryProblem{.op = MemoryOp::batchnorm, .c = k, .h = out_hw, .w = out_hw}, repeat));
  if (relu) net.layers.push_back(elementwise(prefix + "relu" + suffix, MemoryOp::relu, k * out_hw * out_hw, repeat));
}

// One ResNet-50 bottleneck block entry (torchvision v1.5: the stride sits on the 3×3 conv):
// conv-BN-ReLU twice, conv-BN, the downsample's conv-BN when the shape changes, the residual add
// and the ReLU after it. Returns the output size.
int64_t add_bottleneck(Network& net, const std::string& name, int64_t in_channels, int64_t hw, int64_t width,
                       int64_t stride, int64_t repeat) {
  const int64_t out_hw = conv_out(hw, 3, 1, stride), out_channels = 4 * width;
  add_conv_bn(net, name, "1", in_channels, hw, width, 1, 0, 1, repeat, true);
  add_conv_bn(net, name, "2", width, hw, width, 3, 1, stride, repeat, true);
  add_conv_bn(net, name, "3", width, out_hw, out_channels, 1, 0, 1, repeat, false);
  if (in_channels != out_channels || stride != 1) {
    net.layers.push_back(conv_layer(name + ".downsample", in_channels, hw, out_channels, 1, 0, stride, repeat));
    net.layers.push_back(memory_layer(name + ".downsample.bn", MemoryProblem{.op = MemoryOp::batchnorm, .c = out_channels,
                                                                              .h = out_hw, .w = out_hw}, repeat));
  }
  const int64_t out_elements = out_channels * out_hw * out_hw;
  net.layers.push_back(residual_add(name + ".add", out_elements, repeat));
  net.layers.push_back(elementwise(name + ".relu", MemoryOp::relu, out_elements, repeat));
  return out_hw;
}

// A transformer block's layers, `layers` times: BERT's post-LN order (attention, add, LN, MLP,
// add, LN) or GPT-2's pre-LN one (LN before each sub-block). The 1/√head_dim scaling of the scores
// is one more element-wise op, not counted.
struct TransformerShape {
  int64_t layers, hidden, heads, ffn, seq_len;
  bool gpt2;  // pre-LN, causal attention, one fused [hidden → 3·hidden] QKV GEMM (c_attn)
};

void add_transformer_blocks(Network& net, const TransformerShape& t, const std::string& prefix) {
  const int64_t n = t.layers, s = t.seq_len, h = t.hidden;
  const auto layer_norm = [&](const std::string& name) { net.layers.push_back(row_op(prefix + name, MemoryOp::layernorm, s, h, n)); };
  if (t.gpt2) {
    layer_norm(".ln_1");
    net.layers.push_back(linear_layer(prefix + ".attn.c_attn", s, h, 3 * h, n));
  } else {
    net.layers.push_back(linear_layer(prefix + ".attention.query|key|value", s, h, h, 3 * n));
  }
  net.layers.push_back(Layer{prefix + ".attention.products", AttentionLayer{t.heads, s, h / t.heads}, n});
  MemoryProblem softmax{.op = MemoryOp::softmax, .rows = t.heads * s, .cols = s, .causal_seq = t.gpt2 ? s : 0};
  net.layers.push_back(memory_layer(prefix + ".attention.softmax", softmax, n));
  net.layers.push_back(linear_layer(prefix + ".attention.output", s, h, h, n));
  net.layers.push_back(residual_add(prefix + ".attention.add", s * h, n));
  layer_norm(t.gpt2 ? ".ln_2" : ".attention.layernorm");
  net.layers.push_back(linear_layer(prefix + ".mlp.up", s, h, t.ffn, n));
  net.layers.push_back(elementwise(prefix + ".mlp.gelu", MemoryOp::gelu, s * t.ffn, n));
  net.layers.push_back(linear_layer(prefix + ".mlp.down", s, t.ffn, h, n));
  net.layers.push_back(residual_add(prefix + ".mlp.add", s * h, n));
  if (!t.gpt2) layer_norm(".output.layernorm");
}

Network named_network(std::string name, int64_t batch, int64_t tokens_per_sample, Optimizer optimizer) {
  Network net;
  net.name = std::move(name);
  net.batch = batch;
  net.tokens_per_sample = tokens_per_sample;
  net.optimizer = optimizer;
  return net;
}

}  // namespace

Network resnet50(int64_t batch, int64_t image_size) {
  check_range("resnet50 batch", batch, 1, 1 << 20);
  check_range("resnet50 image size", image_size, 32, 4096);
  Network net = named_network("resnet50", batch, 1, Optimizer::sgd);
  add_conv_bn(net, "", "1", 3, image_size, 64, 7, 3, 2, 1, true);
  net.layers.front().input_grad = false;  // nobody needs the gradient of the images
  const int64_t stem_hw = conv_out(image_size, 7, 3, 2);
  net.layers.push_back(memory_layer("maxpool", MemoryProblem{.op = MemoryOp::maxpool, .c = 64, .h = stem_hw, .w = stem_hw,
                                                             .window = 3, .stride = 2, .pad = 1}));
  int64_t hw = conv_out(stem_hw, 3, 1, 2), channels = 64;
  const int64_t widths[] = {64, 128, 256, 512}, blocks[] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    // Blocks after the first are identical, so they become one entry with repeat = blocks − 1.
    hw = add_bottleneck(net, fmt::format("layer{}.0", stage + 1), channels, hw, widths[stage], stage == 0 ? 1 : 2, 1);
    channels = 4 * widths[stage];
    add_bottleneck(net, fmt::format("layer{}.1-{}", stage + 1, blocks[stage] - 1), channels, hw, widths[stage], 1,
                   blocks[stage] - 1);
  }
  net.layers.push_back(memory_layer("avgpool", MemoryProblem{.op = MemoryOp::avgpool, .c = channels, .h = hw, .w = hw,
                                                             .window = hw}));
  net.layers.push_back(linear_layer("fc", 1, 2048, 1000));
  net.layers.push_back(row_op("loss", MemoryOp::cross_entropy, 1, 1000));
  return net;
}

Network vgg16(int64_t batch, int64_t image_size) {
  check_range("vgg16 batch", batch, 1, 1 << 20);
  check_range("vgg16 image size", image_size, 32, 4096);
  Network net = named_network("vgg16", batch, 1, Optimizer::sgd);
  const std::vector<std::vector<int64_t>> blocks{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  int64_t hw = image_size, channels = 3;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int64_t k = blocks[b].front();
    const auto same = int64_t(blocks[b].size()) - 1;  // the convs after the first are k → k, alike
    const std::string first = fmt::format("conv{}_1", b + 1);
    const std::string rest = same == 1 ? fmt::format("conv{}_2", b + 1) : fmt::format("conv{}_2-{}", b + 1, same + 1);
    net.layers.push_back(conv_layer(first, channels, hw, k, 3, 1, 1, 1, true));
    net.layers.push_back(elementwise(first + ".relu", MemoryOp::relu, k * hw * hw));
    net.layers.push_back(conv_layer(rest, k, hw, k, 3, 1, 1, same, true));
    net.layers.push_back(elementwise(rest + ".relu", MemoryOp::relu, k * hw * hw, same));
    net.layers.push_back(memory_layer(fmt::format("pool{}", b + 1), MemoryProblem{.op = MemoryOp::maxpool, .c = k, .h = hw,
                                                                                  .w = hw, .window = 2, .stride = 2}));
    channels = k;
    hw /= 2;
  }
  net.layers.front().input_grad = false;
  // torchvision pools adaptively to 7×7, so the classifier has the same shape at any image size
  // (the pool is the identity at 224²; dropout is not modelled).
  net.layers.push_back(linear_layer("fc6", 1, 512 * 7 * 7, 4096));
  net.layers.push_back(elementwise("fc6.relu", MemoryOp::relu, 4096));
  net.layers.push_back(linear_layer("fc7", 1, 4096, 4096));
  net.layers.push_back(elementwise("fc7.relu", MemoryOp::relu, 4096));
  net.layers.push_back(linear_layer("fc8", 1, 4096, 1000));
  net.layers.push_back(row_op("loss", MemoryOp::cross_entropy, 1, 1000));
  return net;
}

Network bert_base(int64_t batch, int64_t seq_len) {
  check_range("bert-base batch", batch, 1, 1 << 20);
  check_range("bert-base sequence length", seq_len, 1, 512);  // 512 learned positions
  const TransformerShape t{12, 768, 12, 3072, seq_len, false};
  Network net = named_network("bert-base", batch, seq_len, Optimizer::adamw);
  net.layers.push_back(embedding("embeddings.word", seq_len, 768, 30522));
  net.layers.push_back(embedding("embeddings.position", seq_len, 768, 512));
  net.layers.push_back(embedding("embeddings.token_type", seq_len, 768, 2));
  net.layers.push_back(elementwise("embeddings.sum", MemoryOp::add, seq_len * 768, 2));
  net.layers.push_back(row_op("embeddings.layernorm", MemoryOp::layernorm, seq_len, 768));
  add_transformer_blocks(net, t, "encoder");
  // Sequence classification: the pooler (its tanh not counted) on the [CLS] token, two classes.
  net.layers.push_back(linear_layer("pooler", 1, 768, 768));
  net.layers.push_back(linear_layer("classifier", 1, 768, 2));
  net.layers.push_back(row_op("loss", MemoryOp::cross_entropy, 1, 2));
  return net;
}

Network gpt2_small(int64_t batch, int64_t seq_len) {
  check_range("gpt2-small batch", batch, 1, 1 << 20);
  check_range("gpt2-small sequence length", seq_len, 1, 1024);  // 1024 learned positions
  const TransformerShape t{12, 768, 12, 3072, seq_len, true};
  Network net = named_network("gpt2-small", batch, seq_len, Optimizer::adamw);
  net.layers.push_back(embedding("wte", seq_len, 768, 50257));
  net.layers.push_back(embedding("wpe", seq_len, 768, 1024));
  net.layers.push_back(elementwise("embeddings.sum", MemoryOp::add, seq_len * 768));
  add_transformer_blocks(net, t, "h");
  net.layers.push_back(row_op("ln_f", MemoryOp::layernorm, seq_len, 768));
  // The LM head reuses the token embedding (tied): its GEMMs count, its weights do not.
  net.layers.push_back(Layer{"lm_head", LinearLayer{seq_len, 768, 50257, false, true}, 1});
  net.layers.push_back(row_op("loss", MemoryOp::cross_entropy, seq_len, 50257));
  return net;
}

std::vector<std::string> builtin_network_names() { return {"resnet50", "vgg16", "bert-base", "gpt2-small"}; }

bool is_transformer(const std::string& name) { return name == "bert-base" || name == "gpt2-small"; }

Network builtin_network(const std::string& name, const NetworkSize& size) {
  if (name == "resnet50") return resnet50(size.batch, size.image_size);
  if (name == "vgg16") return vgg16(size.batch, size.image_size);
  if (name == "bert-base") return bert_base(size.batch, size.seq_len);
  if (name == "gpt2-small") return gpt2_small(size.batch, size.seq_len);
  throw InputError(fmt::format("unknown network '{}' (built in: resnet50, vgg16, bert-base, gpt2-small; "
                               "use --network-file for others)",
                               name));
}

}  // namespace trainrate
