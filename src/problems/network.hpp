// Networks: a named list of layers that lower to the Problems one training iteration runs.
//
// Only the layers whose work is a GEMM or a convolution are listed (conv, linear, the two
// attention products); norms, activations, pooling and embedding look-ups are left out of the
// time model and only their parameters are counted (Network::other_parameters).
// Shapes are per sample; the batch is a property of the network, applied when lowering.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <variant>
#include <vector>

#include "problems/problem.hpp"

namespace trainrate {

// A 2-D convolution on a [c, h, w] input per sample.
struct ConvLayer {
  int64_t c = 1, h = 1, w = 1;  // input channels, height, width
  int64_t k = 1, r = 1, s = 1;  // filters, filter height, filter width
  int64_t pad = 0, stride = 1;
  bool bias = false;  // ResNet convs have none (BN follows); VGG convs have one
};

// Y[tokens × out] = X[tokens × in] · Wᵀ per sample (PyTorch's nn.Linear, W stored [out, in]).
struct LinearLayer {
  int64_t tokens = 1;  // rows per sample: sequence length for transformers, 1 after pooling
  int64_t in_features = 1, out_features = 1;
  bool bias = true;
  // True when W is another layer's (GPT-2's LM head reuses the token embedding): its
  // parameters are counted there, its GEMMs here.
  bool tied_weights = false;
};

// Self-attention products per sample and head: S = Q·Kᵀ [seq × seq] and O = P·V [seq × head_dim].
// Causal masking is ignored: the GEMMs compute the full square, as cuBLAS-based attention does.
struct AttentionLayer {
  int64_t heads = 1, seq_len = 1, head_dim = 1;
};

using LayerShape = std::variant<ConvLayer, LinearLayer, AttentionLayer>;

struct Layer {
  std::string name;
  LayerShape shape;
  int64_t repeat = 1;       // identical copies (the 12 encoder blocks of BERT-base, ...)
  bool input_grad = true;   // false for the first layer: nobody needs the gradient of the images
};

struct Network {
  std::string name;
  int64_t batch = 1;
  // Tokens per sample for the 6·N·D rule: the sequence length for transformers, 1 for CNNs.
  int64_t tokens_per_sample = 1;
  std::vector<Layer> layers;
  // Parameters outside conv/linear layers: norm scales and shifts, embeddings.
  int64_t other_parameters = 0;
  std::string other_parameters_note;  // what other_parameters counts, for printing
};

// Which dtype and layout the problems take (the results being read must match).
struct LoweringOptions {
  Dtype dtype = Dtype::fp32;
  Layout layout = Layout::NCHW;
};

// One GEMM or conv of a layer's training step, `count` times per iteration.
struct LayerPass {
  std::string layer;  // Layer::name
  std::string pass;   // "fwd", "bwd-data", "bwd-filter"; attention: "qk fwd", "pv bwd-b", ...
  bool backward = false;
  Problem problem;
  int64_t count = 1;
};

// Forward passes in layer order, then backward passes in reverse layer order (the order a
// framework runs them).
std::vector<LayerPass> lower_training_step(const Network& network, const LoweringOptions& options = {});
std::vector<LayerPass> lower_layer(const Layer& layer, int64_t batch, const LoweringOptions& options = {});

struct ProblemCount {
  Problem problem;
  int64_t count = 0;  // times per training iteration
};
// Distinct problems of one iteration with multiplicity, in first-use order.
std::vector<ProblemCount> training_problem_counts(const Network& network, const LoweringOptions& options = {});
// The distinct problems alone, for suites.
std::vector<Problem> training_problems(const Network& network, const LoweringOptions& options = {});

int64_t layer_parameters(const Layer& layer);  // weights and biases of all repeats
int64_t parameter_count(const Network& network);
// Forward multiply-adds of one sample (FLOPs are twice this).
double forward_macs_per_sample(const Network& network);
// Work of one training iteration over the whole batch, in FLOPs (2 per multiply-add).
double training_flops(const Network& network, const LoweringOptions& options = {});

// Built-in networks. Each returns the network at the given batch and input size.
Network resnet50(int64_t batch, int64_t image_size = 224);
Network vgg16(int64_t batch, int64_t image_size = 224);
Network bert_base(int64_t batch, int64_t seq_len = 128);
Network gpt2_small(int64_t batch, int64_t seq_len = 1024);

std::vector<std::string> builtin_network_names();
struct NetworkSize {
  int64_t batch = 1;
  int64_t image_size = 224;  // CNNs
  int64_t seq_len = 128;     // transformers
};
bool is_transformer(const std::string& builtin_name);
// Throws InputError for an unknown name (listing the known ones) or sizes out of range.
Network builtin_network(const std::string& name, const NetworkSize& size);

// A built-in network by name, or the user's file when `file` is not empty (its batch from size).
Network load_network(const std::string& name, const std::string& file, const NetworkSize& size);

// User networks: {"name": .., "other_parameters": .., "layers": [{"kind": "conv", ..}, ..]}
// (format in docs/models.md). Throws InputError naming the file and field.
Network network_from_json_text(const std::string& text, const std::string& where, int64_t batch);
Network read_network_file(const std::filesystem::path& path, int64_t batch);

}  // namespace trainrate
