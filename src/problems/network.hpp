// Networks: a named list of layers that lower to the Problems one training iteration runs.
//
// GEMM and convolution layers (conv, linear, the two attention products) and the memory-bound
// layers around them (norms, activations, pooling, residual adds, softmax, loss, embedding
// look-ups), then the optimizer step over every parameter. What is still left out (dropout,
// bias gradients, framework overheads) is listed in docs/models.md.
// Shapes are per sample; the batch is a property of the network, applied when lowering.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
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

// A memory-bound layer: the problem of one sample (its batch axis — elements, rows or n — at one
// sample's size), scaled to the batch when lowering. Its backward pass is the op's own (ReLU, BN,
// ...); a residual add's is the gradient sum where the skip path forks.
struct MemoryLayer {
  MemoryProblem per_sample;
  bool residual = false;  // add only
};

using LayerShape = std::variant<ConvLayer, LinearLayer, AttentionLayer, MemoryLayer>;

struct Layer {
  std::string name;
  LayerShape shape;
  int64_t repeat = 1;       // identical copies (the 12 encoder blocks of BERT-base, ...)
  bool input_grad = true;   // false for the first layer: nobody needs the gradient of the images
};

// The parameter update after the backward pass, over every parameter of the network.
enum class Optimizer { none, sgd, adamw };
std::string_view to_string(Optimizer optimizer);
// "sgd", "adamw" ("adam" too: the step costs the same memory traffic), "none".
std::optional<Optimizer> parse_optimizer(std::string_view text);

struct Network {
  std::string name;
  int64_t batch = 1;
  // Tokens per sample for the 6·N·D rule: the sequence length for transformers, 1 for CNNs.
  int64_t tokens_per_sample = 1;
  std::vector<Layer> layers;
  Optimizer optimizer = Optimizer::sgd;  // what the network is usually trained with
  // Parameters of no listed layer (a user network may leave its norms out).
  int64_t other_parameters = 0;
  std::string other_parameters_note;  // what other_parameters counts, for printing
};

// Which dtype and layout the problems take (the results being read must match).
struct LoweringOptions {
  Dtype dtype = Dtype::fp32;
  Layout layout = Layout::NCHW;
  std::optional<Optimizer> optimizer;  // overrides Network::optimizer
  UpdateForm optimizer_form = UpdateForm::fused;  // how the optimizer step is carried out
};

// Where a pass runs in the step: the update follows the gradients' all-reduce, so it never
// overlaps communication the way the backward pass can.
enum class Phase { forward, backward, update };

// One problem of a layer's training step, `count` times per iteration.
struct LayerPass {
  std::string layer;  // Layer::name ("optimizer" for the update)
  std::string pass;   // "fwd", "bwd-data", "bwd-filter", "bwd", "grad-sum", "step"; attention: "qk fwd", ...
  Phase phase = Phase::forward;
  Problem problem;
  int64_t count = 1;
};

// Forward passes in layer order, backward passes in reverse layer order (the order a framework
// runs them), then the optimizer step.
std::vector<LayerPass> lower_training_step(const Network& network, const LoweringOptions& options = {});
std::vector<LayerPass> lower_layer(const Layer& layer, int64_t batch, const LoweringOptions& options = {});
// The memory-bound op of an optimizer's step (sgd or adamw; not none).
MemoryOp optimizer_op(Optimizer optimizer);
// The update over every parameter, in fp32 (master weights and optimizer state stay fp32 under
// mixed precision): one pass over parameter_count(network), or, in a form that updates tensor by
// tensor, one per distinct tensor size of parameter_tensors(network), counted; none when the
// optimizer is none.
std::vector<LayerPass> optimizer_passes(const Network& network, const LoweringOptions& options = {});
// The dtype memory-bound passes run in for a lowering dtype: a tf32 tensor is an fp32 tensor.
Dtype memory_dtype(Dtype dtype);

struct ProblemCount {
  Problem problem;
  int64_t count = 0;  // times per training iteration
};
// Distinct problems of one iteration with multiplicity, in first-use order.
std::vector<ProblemCount> training_problem_counts(const Network& network, const LoweringOptions& options = {});
// The distinct problems alone, for suites.
std::vector<Problem> training_problems(const Network& network, const LoweringOptions& options = {});

// Parameter tensors of one size, and how many there are.
struct TensorCount {
  int64_t elements = 0;
  int64_t count = 0;
};
// A layer's parameter tensors, all repeats: weight and bias, norm scale and shift, the table.
std::vector<TensorCount> layer_parameter_tensors(const Layer& layer);
int64_t layer_parameters(const Layer& layer);  // the elements of layer_parameter_tensors
// The network's parameter tensors by distinct size, in first-use order (other_parameters as one
// tensor: nobody said how it splits).
std::vector<TensorCount> parameter_tensors(const Network& network);
int64_t parameter_count(const Network& network);
// Forward GEMM and conv multiply-adds of one sample (FLOPs are twice this).
double forward_macs_per_sample(const Network& network);
// GEMM and conv work of one training iteration over the whole batch, in FLOPs (2 per
// multiply-add); the memory-bound passes are work in bytes, not counted here.
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
