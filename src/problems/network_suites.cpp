#include "problems/network_suites.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "problems/network.hpp"

namespace trainrate {

namespace {

void add_unique(std::vector<Problem>& problems, const Problem& problem) {
  if (std::find(problems.begin(), problems.end(), problem) == problems.end()) problems.push_back(problem);
}

// Forward and backward of an op that has both.
void add_both_passes(std::vector<Problem>& problems, MemoryProblem m) {
  add_unique(problems, m);
  m.backward = true;
  add_unique(problems, m);
}

// ResNet-50's memory-bound layers at each distinct shape: batch norm and ReLU after every conv
// (after conv3 and the downsample the ReLU follows the residual add, at the same shape), the stem's
// 3×3/2 max pool, the global average pool, and SGD with momentum over every parameter.
std::vector<Problem> resnet50_memory_problems(const Network& net) {
  std::vector<Problem> problems;
  for (const Layer& layer : net.layers) {
    const auto* conv = std::get_if<ConvLayer>(&layer.shape);
    if (!conv) continue;
    const int64_t hw = (conv->h + 2 * conv->pad - conv->r) / conv->stride + 1;
    const int64_t elements = net.batch * conv->k * hw * hw;
    add_both_passes(problems, MemoryProblem{.op = MemoryOp::batchnorm, .n = net.batch, .c = conv->k, .h = hw, .w = hw});
    add_both_passes(problems, MemoryProblem{.op = MemoryOp::relu, .elements = elements});
    if (layer.name.ends_with("conv3")) add_unique(problems, MemoryProblem{.op = MemoryOp::add, .elements = elements});
    if (layer.name == "conv1") {
      add_both_passes(problems, MemoryProblem{.op = MemoryOp::maxpool, .n = net.batch, .c = conv->k, .h = hw, .w = hw,
                                              .window = 3, .stride = 2, .pad = 1});
    }
  }
  const auto* last = std::get_if<ConvLayer>(&net.layers[net.layers.size() - 2].shape);  // the stage-4 conv3
  const int64_t final_hw = last->h;
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::avgpool, .n = net.batch, .c = last->k, .h = final_hw,
                                          .w = final_hw, .window = final_hw});
  add_unique(problems, MemoryProblem{.op = MemoryOp::sgd_momentum, .elements = parameter_count(net)});
  return problems;
}

// One BERT-base encoder layer's memory-bound work over tokens = batch·seq: two LayerNorms, the
// GELU, the attention softmax (BERT divides the scores by √64 in a separate op, so scale stays 1),
// bias adds of the hidden and feed-forward widths, the residual add, the word embedding and the
// masked-LM cross-entropy over the vocabulary, and AdamW over the layer's parameters.
std::vector<Problem> bert_layer_memory_problems(int64_t batch, int64_t seq_len) {
  constexpr int64_t kHidden = 768, kHeads = 12, kFfn = 3072, kVocab = 30522;
  const int64_t tokens = batch * seq_len;
  const int64_t layer_parameters = 4 * (kHidden * kHidden + kHidden) + 2 * kHidden * kFfn + kFfn + kHidden + 4 * kHidden;
  std::vector<Problem> problems;
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::layernorm, .rows = tokens, .cols = kHidden});
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::gelu, .elements = tokens * kFfn});
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::softmax, .rows = batch * kHeads * seq_len, .cols = seq_len});
  add_unique(problems, MemoryProblem{.op = MemoryOp::bias_add, .rows = tokens, .cols = kHidden});
  add_unique(problems, MemoryProblem{.op = MemoryOp::bias_add, .rows = tokens, .cols = kFfn});
  add_unique(problems, MemoryProblem{.op = MemoryOp::add, .elements = tokens * kHidden});
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::embedding, .rows = tokens, .cols = kHidden, .vocab = kVocab});
  add_both_passes(problems, MemoryProblem{.op = MemoryOp::cross_entropy, .rows = tokens, .cols = kVocab});
  add_unique(problems, MemoryProblem{.op = MemoryOp::adamw, .elements = layer_parameters});
  return problems;
}

}  // namespace

Suite resnet50_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(16), image_size = params.image_size.value_or(224);
  Suite suite{"resnet50",
              fmt::format("ResNet-50 at batch {}, {}x{} images: every distinct conv in three passes, the FC, "
                          "and its batch norms, ReLUs, adds, pools and SGD step",
                          batch, image_size, image_size),
              training_problems(resnet50(batch, image_size))};
  for (const Problem& p : resnet50_memory_problems(resnet50(batch, image_size))) suite.problems.push_back(p);
  return suite;
}

Suite transformer_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(8), seq_len = params.seq_len.value_or(128);
  // One encoder block: the blocks of BERT-base are identical, so their GEMMs are the block's.
  Network bert = bert_base(batch, seq_len);
  std::erase_if(bert.layers, [](const Layer& layer) { return !layer.name.starts_with("encoder"); });
  Suite suite{"transformer",
              fmt::format("one BERT-base encoder layer at batch {}, sequence {}: forward and both backward GEMMs, "
                          "and its norms, GELU, softmax, adds, embedding, loss and AdamW step",
                          batch, seq_len),
              training_problems(bert)};
  for (const Problem& p : bert_layer_memory_problems(batch, seq_len)) suite.problems.push_back(p);
  return suite;
}

}  // namespace trainrate
