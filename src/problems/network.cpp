#include "problems/network.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <type_traits>

#include "problems/problem_json.hpp"

namespace trainrate {

namespace {

// ---- lowering -------------------------------------------------------------------------------

LayerPass make_pass(const Layer& layer, std::string pass, bool backward, Problem problem) {
  return LayerPass{layer.name, std::move(pass), backward, std::move(problem), layer.repeat};
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

bool same_problem(const Problem& a, const Problem& b) { return a == b; }

}  // namespace

std::vector<LayerPass> lower_layer(const Layer& layer, int64_t batch, const LoweringOptions& options) {
  std::vector<LayerPass> passes;
  std::visit(
      [&](const auto& shape) {
        using T = std::decay_t<decltype(shape)>;
        if constexpr (std::is_same_v<T, ConvLayer>) lower_conv(layer, shape, batch, options, passes);
        if constexpr (std::is_same_v<T, LinearLayer>) lower_linear(layer, shape, batch, options, passes);
        if constexpr (std::is_same_v<T, AttentionLayer>) lower_attention(layer, shape, batch, options, passes);
      },
      layer.shape);
  return passes;
}

std::vector<LayerPass> lower_training_step(const Network& network, const LoweringOptions& options) {
  std::vector<LayerPass> forward, backward;
  for (auto it = network.layers.begin(); it != network.layers.end(); ++it) {
    for (auto& pass : lower_layer(*it, network.batch, options)) {
      if (!pass.backward) forward.push_back(std::move(pass));
    }
  }
  for (auto it = network.layers.rbegin(); it != network.layers.rend(); ++it) {
    for (auto& pass : lower_layer(*it, network.batch, options)) {
      if (pass.backward) backward.push_back(std::move(pass));
    }
  }
  forward.insert(forward.end(), std::make_move_iterator(backward.begin()), std::make_move_iterator(backward.end()));
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

int64_t layer_parameters(const Layer& layer) {
  int64_t per_copy = 0;
  if (const auto* conv = std::get_if<ConvLayer>(&layer.shape)) {
    per_copy = conv->k * conv->c * conv->r * conv->s + (conv->bias ? conv->k : 0);
  } else if (const auto* linear = std::get_if<LinearLayer>(&layer.shape)) {
    if (!linear->tied_weights) {
      per_copy = linear->in_features * linear->out_features + (linear->bias ? linear->out_features : 0);
    }
  }
  return per_copy * layer.repeat;
}

int64_t parameter_count(const Network& network) {
  int64_t total = network.other_parameters;
  for (const Layer& layer : network.layers) total += layer_parameters(layer);
  return total;
}

double forward_macs_per_sample(const Network& network) {
  Network one = network;
  one.batch = 1;
  double macs = 0;
  for (const LayerPass& pass : lower_training_step(one)) {
    if (!pass.backward) macs += flops(pass.problem) / 2 * double(pass.count);
  }
  return macs;
}

double training_flops(const Network& network, const LoweringOptions& options) {
  double total = 0;
  for (const LayerPass& pass : lower_training_step(network, options)) total += flops(pass.problem) * double(pass.count);
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

void check_range(const std::string& what, int64_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi) {
    throw InputError(fmt::format("{} must be in [{}, {}] (got {})", what, lo, hi, value));
  }
}

// One ResNet-50 stage (torchvision v1.5: the stride sits on the 3×3 conv). Returns the output size.
// Blocks after the first are identical, so they become one layer entry with repeat = blocks − 1.
int64_t add_bottleneck_stage(Network& net, int64_t& bn_channels, int stage, int64_t in_channels, int64_t hw,
                             int64_t width, int64_t blocks, int64_t stride) {
  const std::string first = fmt::format("layer{}.0", stage);
  const int64_t out_hw = conv_out(hw, 3, 1, stride);
  const int64_t out_channels = 4 * width;
  net.layers.push_back(conv_layer(first + ".conv1", in_channels, hw, width, 1, 0, 1));
  net.layers.push_back(conv_layer(first + ".conv2", width, hw, width, 3, 1, stride));
  net.layers.push_back(conv_layer(first + ".conv3", width, out_hw, out_channels, 1, 0, 1));
  net.layers.push_back(conv_layer(first + ".downsample", in_channels, hw, out_channels, 1, 0, stride));
  const std::string rest = fmt::format("layer{}.1-{}", stage, blocks - 1);
  net.layers.push_back(conv_layer(rest + ".conv1", out_channels, out_hw, width, 1, 0, 1, blocks - 1));
  net.layers.push_back(conv_layer(rest + ".conv2", width, out_hw, width, 3, 1, 1, blocks - 1));
  net.layers.push_back(conv_layer(rest + ".conv3", width, out_hw, out_channels, 1, 0, 1, blocks - 1));
  bn_channels += out_channels + (width + width + out_channels) * blocks;  // downsample BN + 3 per block
  return out_hw;
}

// A transformer encoder/decoder block's GEMM layers, `layers` times.
struct TransformerShape {
  int64_t layers, hidden, heads, ffn, seq_len;
  bool fused_qkv;  // GPT-2's c_attn is one [hidden → 3·hidden] GEMM; BERT has three
};

void add_transformer_blocks(Network& net, const TransformerShape& t, const std::string& prefix) {
  const int64_t n = t.layers;
  if (t.fused_qkv) {
    net.layers.push_back(linear_layer(prefix + ".attn.c_attn", t.seq_len, t.hidden, 3 * t.hidden, n));
  } else {
    net.layers.push_back(linear_layer(prefix + ".attention.query|key|value", t.seq_len, t.hidden, t.hidden, 3 * n));
  }
  net.layers.push_back(Layer{prefix + ".attention.products", AttentionLayer{t.heads, t.seq_len, t.hidden / t.heads}, n});
  net.layers.push_back(linear_layer(prefix + ".attention.output", t.seq_len, t.hidden, t.hidden, n));
  net.layers.push_back(linear_layer(prefix + ".mlp.up", t.seq_len, t.hidden, t.ffn, n));
  net.layers.push_back(linear_layer(prefix + ".mlp.down", t.seq_len, t.ffn, t.hidden, n));
}

Network named_network(std::string name, int64_t batch, int64_t tokens_per_sample) {
  Network net;
  net.name = std::move(name);
  net.batch = batch;
  net.tokens_per_sample = tokens_per_sample;
  return net;
}

// Two LayerNorms per block (scale and shift each).
int64_t block_norm_parameters(const TransformerShape& t) { return t.layers * 2 * 2 * t.hidden; }

}  // namespace

Network resnet50(int64_t batch, int64_t image_size) {
  check_range("resnet50 batch", batch, 1, 1 << 20);
  check_range("resnet50 image size", image_size, 32, 4096);
  Network net = named_network("resnet50", batch, 1);
  int64_t bn_channels = 64;
  Layer stem = conv_layer("conv1", 3, image_size, 64, 7, 3, 2);
  stem.input_grad = false;
  net.layers.push_back(stem);
  const int64_t pooled = conv_out(conv_out(image_size, 7, 3, 2), 3, 1, 2);  // 3×3/2 max pool, pad 1
  int64_t hw = pooled, channels = 64;
  const int64_t widths[] = {64, 128, 256, 512}, blocks[] = {3, 4, 6, 3};
  for (int stage = 0; stage < 4; ++stage) {
    hw = add_bottleneck_stage(net, bn_channels, stage + 1, channels, hw, widths[stage], blocks[stage],
                              stage == 0 ? 1 : 2);
    channels = 4 * widths[stage];
  }
  net.layers.push_back(linear_layer("fc", 1, 2048, 1000));  // after global average pooling
  net.other_parameters = 2 * bn_channels;
  net.other_parameters_note = "batch-norm scale and shift (running statistics are buffers, not counted)";
  return net;
}

Network vgg16(int64_t batch, int64_t image_size) {
  check_range("vgg16 batch", batch, 1, 1 << 20);
  check_range("vgg16 image size", image_size, 32, 4096);
  Network net = named_network("vgg16", batch, 1);
  const std::vector<std::vector<int64_t>> blocks{{64, 64}, {128, 128}, {256, 256, 256}, {512, 512, 512}, {512, 512, 512}};
  int64_t hw = image_size, channels = 3;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const int64_t k = blocks[b].front();
    const auto same = int64_t(blocks[b].size()) - 1;  // the convs after the first are k → k, alike
    net.layers.push_back(conv_layer(fmt::format("conv{}_1", b + 1), channels, hw, k, 3, 1, 1, 1, true));
    const std::string rest = same == 1 ? fmt::format("conv{}_2", b + 1) : fmt::format("conv{}_2-{}", b + 1, same + 1);
    net.layers.push_back(conv_layer(rest, k, hw, k, 3, 1, 1, same, true));
    channels = k;
    hw /= 2;  // 2×2 max pool, stride 2
  }
  net.layers.front().input_grad = false;
  // torchvision pools adaptively to 7×7, so the classifier has the same shape at any image size.
  net.layers.push_back(linear_layer("fc6", 1, 512 * 7 * 7, 4096));
  net.layers.push_back(linear_layer("fc7", 1, 4096, 4096));
  net.layers.push_back(linear_layer("fc8", 1, 4096, 1000));
  net.other_parameters_note = "none (VGG16 has no norms)";
  return net;
}

Network bert_base(int64_t batch, int64_t seq_len) {
  check_range("bert-base batch", batch, 1, 1 << 20);
  check_range("bert-base sequence length", seq_len, 1, 512);  // 512 learned positions
  const TransformerShape t{12, 768, 12, 3072, seq_len, false};
  Network net = named_network("bert-base", batch, seq_len);
  add_transformer_blocks(net, t, "encoder");
  net.layers.push_back(linear_layer("pooler", 1, 768, 768));  // on the [CLS] token only
  const int64_t embeddings = (30522 + 512 + 2) * 768;          // word, position, token type
  net.other_parameters = embeddings + 2 * 768 + block_norm_parameters(t);
  net.other_parameters_note = "embeddings (word, position, type) and LayerNorms";
  return net;
}

Network gpt2_small(int64_t batch, int64_t seq_len) {
  check_range("gpt2-small batch", batch, 1, 1 << 20);
  check_range("gpt2-small sequence length", seq_len, 1, 1024);  // 1024 learned positions
  const TransformerShape t{12, 768, 12, 3072, seq_len, true};
  Network net = named_network("gpt2-small", batch, seq_len);
  add_transformer_blocks(net, t, "h");
  // The LM head reuses the token embedding (tied): its GEMMs count, its weights do not.
  net.layers.push_back(Layer{"lm_head", LinearLayer{seq_len, 768, 50257, false, true}, 1});
  net.other_parameters = (50257 + 1024) * 768 + block_norm_parameters(t) + 2 * 768;  // wte, wpe, ln_f
  net.other_parameters_note = "token and position embeddings (the LM head shares wte) and LayerNorms";
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
