// Networks: built-in layer lists against published parameter and MAC counts, the lowering of
// each layer kind to GEMMs and convs, and user network files (good and bad).
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <string>

#include "problems/network.hpp"
#include "problems/problem_json.hpp"

namespace trainrate {
namespace {

const std::string kNetworks = std::string(TRAINRATE_TEST_DATA_DIR) + "/networks/";

int64_t total_count(const std::vector<LayerPass>& passes, const std::string& pass_name) {
  int64_t n = 0;
  for (const auto& p : passes) n += p.pass == pass_name ? p.count : 0;
  return n;
}

// Times per iteration that passes run problems of this kind label ("conv-fwd", "bn-bwd", "gemm", ...).
int64_t kind_count(const std::vector<LayerPass>& passes, const std::string& kind) {
  int64_t n = 0;
  for (const auto& p : passes) n += kind_label(p.problem) == kind ? p.count : 0;
  return n;
}

const MemoryProblem& memory_of(const LayerPass& pass) { return std::get<MemoryProblem>(pass.problem); }

const LayerPass& pass_named(const std::vector<LayerPass>& passes, const std::string& layer, const std::string& pass) {
  const auto found = std::find_if(passes.begin(), passes.end(), [&](const auto& p) { return p.layer == layer && p.pass == pass; });
  if (found == passes.end()) throw std::runtime_error("no pass " + layer + " " + pass);
  return *found;
}

// Published figures: torchvision resnet50 has 25,557,032 parameters (conv + fc + BN scale/shift)
// and 4.09 G multiply-adds per 224² image in its convs and fc.
TEST(BuiltinNetworks, ResNet50CountsMatchPublishedFigures) {
  const Network net = resnet50(1, 224);
  EXPECT_EQ(parameter_count(net), 25'557'032);
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net), 4'089'184'256.0);
  // 53 convs (1 stem + 16 blocks × 3 + 4 downsample) and one fc.
  const auto passes = lower_training_step(net);
  EXPECT_EQ(kind_count(passes, "conv-fwd"), 53);
  EXPECT_EQ(kind_count(passes, "conv-bwd-filter"), 53);
  EXPECT_EQ(kind_count(passes, "conv-bwd-data"), 52);  // the stem needs no input gradient
  EXPECT_EQ(kind_count(passes, "gemm"), 3);            // the fc's three products
  EXPECT_EQ(total_count(passes, "bwd-weight"), 1);
}

// The memory-bound layers of torchvision's resnet50: a BN after every conv, a ReLU after every BN
// but the block's last and the downsample's (there the ReLU follows the residual add).
TEST(BuiltinNetworks, ResNet50LowersEveryMemoryBoundLayer) {
  const auto passes = lower_training_step(resnet50(4, 224));
  EXPECT_EQ(kind_count(passes, "bn-fwd"), 53);
  EXPECT_EQ(kind_count(passes, "bn-bwd"), 53);
  EXPECT_EQ(kind_count(passes, "relu-fwd"), 1 + 16 * 3);  // stem, two inside and one after each block
  EXPECT_EQ(kind_count(passes, "relu-bwd"), 49);
  EXPECT_EQ(total_count(passes, "grad-sum"), 16);  // one per residual add
  EXPECT_EQ(kind_count(passes, "add"), 32);         // 16 adds forward, 16 gradient sums backward
  EXPECT_EQ(kind_count(passes, "maxpool-fwd"), 1);
  EXPECT_EQ(kind_count(passes, "maxpool-bwd"), 1);
  EXPECT_EQ(kind_count(passes, "avgpool-fwd"), 1);
  EXPECT_EQ(kind_count(passes, "xent-fwd") + kind_count(passes, "xent-bwd"), 2);
  // Shapes: the stem's BN at 112², the pool 3×3/2 pad 1 on it, the global pool over 7², the loss per image.
  EXPECT_EQ(memory_of(pass_named(passes, "bn1", "fwd")), (MemoryProblem{.op = MemoryOp::batchnorm, .n = 4, .c = 64,
                                                                        .h = 112, .w = 112}));
  EXPECT_EQ(memory_of(pass_named(passes, "maxpool", "fwd")),
            (MemoryProblem{.op = MemoryOp::maxpool, .n = 4, .c = 64, .h = 112, .w = 112, .window = 3, .stride = 2, .pad = 1}));
  EXPECT_EQ(memory_of(pass_named(passes, "avgpool", "bwd")),
            (MemoryProblem{.op = MemoryOp::avgpool, .backward = true, .n = 4, .c = 2048, .h = 7, .w = 7, .window = 7}));
  EXPECT_EQ(memory_of(pass_named(passes, "layer4.1-2.add", "grad-sum")),
            (MemoryProblem{.op = MemoryOp::add, .elements = 4 * 2048 * 7 * 7}));
  EXPECT_EQ(pass_named(passes, "layer4.1-2.add", "grad-sum").count, 2);
  EXPECT_EQ(memory_of(pass_named(passes, "loss", "fwd")), (MemoryProblem{.op = MemoryOp::cross_entropy, .rows = 4, .cols = 1000}));
  // SGD with momentum over every parameter, last, once.
  EXPECT_EQ(passes.back().phase, Phase::update);
  EXPECT_EQ(memory_of(passes.back()), (MemoryProblem{.op = MemoryOp::sgd_momentum, .elements = 25'557'032}));
}

TEST(BuiltinNetworks, ResNet50ScalesWithImageSizeAndBatch) {
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(resnet50(1, 64)), 335'691'776.0);
  // Training = forward + two backward products per layer, minus the stem's backward-data.
  const Network net = resnet50(4, 224);
  const ConvProblem stem{.n = 4, .c = 3, .h = 224, .w = 224, .k = 64, .r = 7, .s = 7, .pad_h = 3, .pad_w = 3,
                         .stride_h = 2, .stride_w = 2};
  EXPECT_DOUBLE_EQ(training_flops(net), 4 * 2 * 3 * 4'089'184'256.0 - flops(Problem{stem}));
}

TEST(BuiltinNetworks, Vgg16CountsMatchPublishedFigures) {
  const Network net = vgg16(1, 224);
  EXPECT_EQ(parameter_count(net), 138'357'544);
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net), 15'470'264'320.0);
  const auto passes = lower_training_step(net);
  EXPECT_EQ(kind_count(passes, "conv-fwd"), 13);
  EXPECT_EQ(kind_count(passes, "relu-fwd"), 15);  // after 13 convs, fc6 and fc7
  EXPECT_EQ(kind_count(passes, "maxpool-fwd"), 5);
  EXPECT_EQ(memory_of(pass_named(passes, "pool5", "bwd")),
            (MemoryProblem{.op = MemoryOp::maxpool, .backward = true, .c = 512, .h = 14, .w = 14, .window = 2, .stride = 2}));
}

// BERT-base for sequence classification (HF BertForSequenceClassification, 2 labels): 109,483,778
// parameters = bert-base-uncased with pooler (109,482,240) + the 768×2 classifier and its bias.
TEST(BuiltinNetworks, BertBaseCountsMatchPublishedFigures) {
  const Network net = bert_base(1, 128);
  EXPECT_EQ(parameter_count(net), 109'483'778);
  // Per block: QKV 3·s·h², scores and context 2·s²·h, output s·h², MLP 2·s·h·4h; plus pooler h².
  const double s = 128, h = 768;
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net),
                   12 * (3 * s * h * h + 2 * s * s * h + s * h * h + 8 * s * h * h) + h * h + 2 * h);
}

TEST(BuiltinNetworks, BertBaseLowersEveryMemoryBoundLayer) {
  const auto passes = lower_training_step(bert_base(2, 128));
  EXPECT_EQ(kind_count(passes, "ln-fwd"), 1 + 12 * 2);
  EXPECT_EQ(kind_count(passes, "ln-bwd"), 25);
  EXPECT_EQ(kind_count(passes, "softmax-fwd"), 12);
  EXPECT_EQ(kind_count(passes, "gelu-bwd"), 12);
  EXPECT_EQ(kind_count(passes, "embed-fwd"), 3);  // word, position, token type
  EXPECT_EQ(kind_count(passes, "embed-bwd"), 3);
  EXPECT_EQ(total_count(passes, "grad-sum"), 24);
  EXPECT_EQ(kind_count(passes, "add"), 2 + 24 + 24);  // embedding sums; residual adds and their gradient sums
  EXPECT_EQ(kind_count(passes, "bias-add"), 3 * 12 + 3 * 12 + 2);  // every linear has a bias
  EXPECT_EQ(memory_of(pass_named(passes, "encoder.attention.softmax", "fwd")),
            (MemoryProblem{.op = MemoryOp::softmax, .rows = 2 * 12 * 128, .cols = 128}));
  EXPECT_EQ(memory_of(pass_named(passes, "embeddings.word", "bwd")),
            (MemoryProblem{.op = MemoryOp::embedding, .backward = true, .rows = 256, .cols = 768, .vocab = 30522}));
  EXPECT_EQ(memory_of(pass_named(passes, "loss", "fwd")), (MemoryProblem{.op = MemoryOp::cross_entropy, .rows = 2, .cols = 2}));
  EXPECT_EQ(memory_of(passes.back()), (MemoryProblem{.op = MemoryOp::adamw, .elements = 109'483'778}));
}

TEST(BuiltinNetworks, Gpt2SmallCountsMatchPublishedFigures) {
  const Network net = gpt2_small(1, 1024);
  EXPECT_EQ(parameter_count(net), 124'439'808);  // HF gpt2, LM head tied to wte
  const double s = 1024, h = 768;
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net),
                   12 * (3 * s * h * h + 2 * s * s * h + s * h * h + 8 * s * h * h) + s * h * 50257);
  const auto passes = lower_training_step(gpt2_small(2, 64));
  EXPECT_EQ(memory_of(pass_named(passes, "h.attention.softmax", "fwd")),
            (MemoryProblem{.op = MemoryOp::softmax, .rows = 2 * 12 * 64, .cols = 64, .causal_seq = 64}));
  EXPECT_EQ(memory_of(pass_named(passes, "loss", "bwd")),
            (MemoryProblem{.op = MemoryOp::cross_entropy, .backward = true, .rows = 128, .cols = 50257}));
  EXPECT_EQ(kind_count(passes, "ln-fwd"), 12 * 2 + 1);
}

TEST(BuiltinNetworks, ByNameAndRanges) {
  EXPECT_EQ(builtin_network("bert-base", {.batch = 2, .seq_len = 64}).batch, 2);
  EXPECT_THROW(builtin_network("resnet51", {}), InputError);
  EXPECT_THROW(builtin_network("bert-base", {.seq_len = 513}), InputError);
  EXPECT_THROW(builtin_network("resnet50", {.image_size = 16}), InputError);
  EXPECT_EQ(builtin_network_names().size(), 4u);
}

TEST(Lowering, LinearBecomesThreeGemmsInColumnMajorFormAndItsBiasAdd) {
  // PyTorch nn.Linear: Y = X·Wᵀ with X [rows × in], W [out × in]; cuBLAS sees TN, NN, NT.
  const Layer fc{"fc", LinearLayer{.tokens = 3, .in_features = 20, .out_features = 30}, 2};
  const auto passes = lower_layer(fc, 4);
  ASSERT_EQ(passes.size(), 4u);
  EXPECT_EQ(std::get<GemmProblem>(passes[0].problem), (GemmProblem{30, 12, 20, Op::T, Op::N}));  // Yᵀ = W·Xᵀ
  EXPECT_EQ(memory_of(passes[1]), (MemoryProblem{.op = MemoryOp::bias_add, .rows = 12, .cols = 30}));
  EXPECT_EQ(std::get<GemmProblem>(passes[2].problem), (GemmProblem{20, 12, 30, Op::N, Op::N}));  // dXᵀ = Wᵀ·dYᵀ
  EXPECT_EQ(std::get<GemmProblem>(passes[3].problem), (GemmProblem{20, 30, 12, Op::N, Op::T}));  // dWᵀ = Xᵀ·dY
  for (const auto& p : passes) EXPECT_EQ(p.count, 2);
  EXPECT_EQ(passes[1].pass, "bias fwd");
  EXPECT_EQ(passes[2].pass, "bwd-data");
  EXPECT_EQ(passes[3].pass, "bwd-weight");
  // Without a bias, the three GEMMs alone.
  EXPECT_EQ(lower_layer(Layer{"fc", LinearLayer{.tokens = 3, .in_features = 20, .out_features = 30, .bias = false}}, 4).size(),
            3u);
}

TEST(Lowering, MemoryLayersScaleTheirBatchAxisOnly) {
  const auto one = [](MemoryProblem m, bool residual = false) {
    return lower_layer(Layer{"m", MemoryLayer{m, residual}}, 3, {.dtype = Dtype::tf32});
  };
  // Elements, rows or n grow with the batch; the other fields, and causal_seq, do not.
  EXPECT_EQ(memory_of(one({.op = MemoryOp::gelu, .elements = 10})[0]).elements, 30);
  auto softmax = one({.op = MemoryOp::softmax, .rows = 8, .cols = 4, .causal_seq = 4});
  EXPECT_EQ(memory_of(softmax[0]), (MemoryProblem{.op = MemoryOp::softmax, .rows = 24, .cols = 4, .causal_seq = 4}));
  EXPECT_EQ(memory_of(softmax[1]).backward, true);
  EXPECT_EQ(softmax[1].phase, Phase::backward);
  EXPECT_EQ(memory_of(one({.op = MemoryOp::avgpool, .c = 2, .h = 4, .w = 4, .window = 2, .stride = 2})[0]).n, 3);
  // A tf32 lowering runs its memory-bound passes on fp32 tensors.
  EXPECT_EQ(memory_of(one({.op = MemoryOp::relu, .elements = 1})[0]).dtype, Dtype::fp32);
  // An add has no backward of its own; a residual one has the gradient sum of its fork.
  EXPECT_EQ(one({.op = MemoryOp::add, .elements = 5}).size(), 1u);
  const auto residual = one({.op = MemoryOp::add, .elements = 5}, true);
  ASSERT_EQ(residual.size(), 2u);
  EXPECT_EQ(residual[1].pass, "grad-sum");
  EXPECT_EQ(memory_of(residual[1]), memory_of(residual[0]));
}

TEST(Lowering, OptimizerStepFollowsTheNetworkOrTheOverride) {
  const Network bert = bert_base(1, 16);
  EXPECT_EQ(memory_of(lower_training_step(bert).back()).op, MemoryOp::adamw);
  const auto sgd = lower_training_step(bert, {.optimizer = Optimizer::sgd});
  EXPECT_EQ(memory_of(sgd.back()), (MemoryProblem{.op = MemoryOp::sgd_momentum, .elements = parameter_count(bert)}));
  const auto none = lower_training_step(bert, {.optimizer = Optimizer::none});
  EXPECT_NE(none.back().phase, Phase::update);
  EXPECT_EQ(none.size() + 1, sgd.size());
  // The form travels into the step's problem; its elements stay the parameters.
  const auto keras = lower_training_step(bert, {.optimizer_form = UpdateForm::keras});
  EXPECT_EQ(memory_of(keras.back()),
            (MemoryProblem{.op = MemoryOp::adamw, .elements = parameter_count(bert), .form = UpdateForm::keras}));
  // fp16 training keeps the fp32 master weights: the update is fp32.
  EXPECT_EQ(memory_of(lower_training_step(bert, {.dtype = Dtype::fp16}).back()).dtype, Dtype::fp32);
  EXPECT_EQ(parse_optimizer("adam"), Optimizer::adamw);
  EXPECT_FALSE(parse_optimizer("lamb").has_value());
}

// BERT-base's tensors by hand: word, position and token-type tables; 768 for every bias of a
// 768-wide linear and every LN scale and shift (embeddings LN 2, per block q/k/v/out biases 4 +
// 2 LNs 4 + mlp.down bias 1, pooler bias 1: 2 + 12·9 + 1 = 111); the 768² q/k/v/out weights (12·4)
// and the pooler's (49); mlp.up and mlp.down weights (24); mlp.up biases (12); the classifier's
// 768×2 weight shares token-type's size (1536: 2), and its bias (2).
TEST(Lowering, ParameterTensorsBySizeInFirstUseOrder) {
  const Network bert = bert_base(1, 16);
  const std::vector<TensorCount> tensors = parameter_tensors(bert);
  const std::vector<std::pair<int64_t, int64_t>> expected{{23'440'896, 1}, {393'216, 1}, {1536, 2}, {768, 111},
                                                          {589'824, 49}, {2'359'296, 24}, {3072, 12}, {2, 1}};
  ASSERT_EQ(tensors.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(tensors[i].elements, expected[i].first) << i;
    EXPECT_EQ(tensors[i].count, expected[i].second) << i;
  }
  // A user network's unattributed parameters are one more tensor.
  Network small = bert;
  small.layers.resize(1);  // the word table
  small.other_parameters = 100;
  const std::vector<TensorCount> two = parameter_tensors(small);
  ASSERT_EQ(two.size(), 2u);
  EXPECT_EQ(two[1].elements, 100);
  EXPECT_EQ(parameter_count(small), 23'440'896 + 100);
}

// PyTorch updates tensor by tensor: one step per distinct size, counted; the other forms pass over
// all the parameters at once.
TEST(Lowering, TorchOptimizerStepsTensorByTensor) {
  const Network bert = bert_base(1, 16);
  const auto torch = lower_training_step(bert, {.optimizer_form = UpdateForm::torch});
  std::vector<LayerPass> steps;
  std::copy_if(torch.begin(), torch.end(), std::back_inserter(steps), [](const LayerPass& p) { return p.phase == Phase::update; });
  const std::vector<TensorCount> tensors = parameter_tensors(bert);
  ASSERT_EQ(steps.size(), tensors.size());
  int64_t elements = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(memory_of(steps[i]),
              (MemoryProblem{.op = MemoryOp::adamw, .elements = tensors[i].elements, .form = UpdateForm::torch}));
    EXPECT_EQ(steps[i].count, tensors[i].count);
    elements += steps[i].count * memory_of(steps[i]).elements;
  }
  EXPECT_EQ(elements, parameter_count(bert));
  for (UpdateForm form : {UpdateForm::fused, UpdateForm::keras}) {
    const auto passes = lower_training_step(bert, {.optimizer_form = form});
    EXPECT_EQ(std::count_if(passes.begin(), passes.end(), [](const LayerPass& p) { return p.phase == Phase::update; }), 1);
    EXPECT_EQ(memory_of(passes.back()).elements, parameter_count(bert));
  }
}

TEST(Lowering, AttentionBecomesSixBatchedGemms) {
  const Layer attn{"attn", AttentionLayer{.heads = 2, .seq_len = 16, .head_dim = 8}};
  const auto passes = lower_layer(attn, 3);
  ASSERT_EQ(passes.size(), 6u);
  const auto g = [&](size_t i) { return std::get<GemmProblem>(passes[i].problem); };
  EXPECT_EQ(g(0), (GemmProblem{16, 16, 8, Op::T, Op::N, Dtype::fp32, 6}));  // Sᵀ = K·Qᵀ
  EXPECT_EQ(g(1), (GemmProblem{8, 16, 16, Op::N, Op::N, Dtype::fp32, 6}));  // Oᵀ = Vᵀ·Pᵀ
  EXPECT_EQ(g(2), (GemmProblem{16, 16, 8, Op::T, Op::N, Dtype::fp32, 6}));  // dPᵀ = V·dOᵀ
  EXPECT_EQ(g(3), (GemmProblem{8, 16, 16, Op::N, Op::T, Dtype::fp32, 6}));  // dVᵀ = dOᵀ·P
  EXPECT_EQ(g(4), (GemmProblem{8, 16, 16, Op::N, Op::N, Dtype::fp32, 6}));  // dQᵀ = Kᵀ·dSᵀ
  EXPECT_EQ(g(5), (GemmProblem{8, 16, 16, Op::N, Op::T, Dtype::fp32, 6}));  // dKᵀ = Qᵀ·dS
  // Each product's three GEMMs do the same work.
  for (const auto& p : passes) EXPECT_DOUBLE_EQ(flops(p.problem), 2.0 * 16 * 16 * 8 * 6);
}

TEST(Lowering, ConvBecomesThreePassesAndSkipsInputGradientWhenAsked) {
  Layer conv{"c", ConvLayer{.c = 3, .h = 8, .w = 8, .k = 4, .r = 3, .s = 3, .pad = 1}};
  auto passes = lower_layer(conv, 2, {.dtype = Dtype::fp16, .layout = Layout::NHWC});
  ASSERT_EQ(passes.size(), 3u);
  const auto& bwd = std::get<ConvProblem>(passes[1].problem);
  EXPECT_EQ(bwd.pass, ConvPass::backward_data);
  EXPECT_EQ(bwd.n, 2);
  EXPECT_EQ(bwd.dtype, Dtype::fp16);
  EXPECT_EQ(bwd.layout, Layout::NHWC);
  conv.input_grad = false;
  passes = lower_layer(conv, 2);
  ASSERT_EQ(passes.size(), 2u);
  EXPECT_EQ(std::get<ConvProblem>(passes[1].problem).pass, ConvPass::backward_filter);
}

TEST(Lowering, ForwardInOrderThenBackwardReversed) {
  const Network net = resnet50(1, 64);
  const auto passes = lower_training_step(net);
  EXPECT_EQ(passes.front().layer, "conv1");
  EXPECT_EQ(passes.front().phase, Phase::forward);
  EXPECT_EQ(passes.back().layer, "optimizer");
  EXPECT_EQ(passes[passes.size() - 2].layer, "conv1");
  EXPECT_EQ(passes[passes.size() - 2].pass, "bwd-filter");
  const auto first_backward = std::find_if(passes.begin(), passes.end(), [](const auto& p) { return p.phase == Phase::backward; });
  EXPECT_EQ(first_backward->layer, "loss");
}

TEST(Lowering, DistinctProblemsKeepMultiplicity) {
  const Network net = resnet50(2, 64);
  const auto counts = training_problem_counts(net);
  int64_t total = 0;
  for (const auto& c : counts) total += c.count;
  int64_t passes = 0;
  for (const auto& p : lower_training_step(net)) passes += p.count;
  EXPECT_EQ(total, passes);
  EXPECT_EQ(training_problems(net).size(), counts.size());
  for (size_t i = 0; i < counts.size(); ++i) {
    for (size_t j = i + 1; j < counts.size(); ++j) EXPECT_FALSE(counts[i].problem == counts[j].problem);
  }
  // Every lowered problem is valid for a backend.
  for (const auto& c : counts) EXPECT_FALSE(validate(c.problem).has_value()) << describe(c.problem);
}

TEST(NetworkFiles, ReadsTheDocumentedFormat) {
  const Network net = read_network_file(kNetworks + "good_tiny.json", 8);
  EXPECT_EQ(net.name, "tiny-cnn");
  EXPECT_EQ(net.batch, 8);
  ASSERT_EQ(net.layers.size(), 4u);
  EXPECT_FALSE(net.layers[0].input_grad);
  EXPECT_EQ(net.layers[1].repeat, 2);
  EXPECT_EQ(std::get<ConvLayer>(net.layers[1].shape).s, 3);  // s defaults to r
  // conv1 432 + conv2 2·2304 + fc 163,840 + 10 + other 64
  EXPECT_EQ(parameter_count(net), 432 + 4608 + 163'850 + 64);
}

TEST(NetworkFiles, ReadsMemoryLayersPerSample) {
  const Network net = read_network_file(kNetworks + "good_memory.json", 2);
  EXPECT_EQ(net.optimizer, Optimizer::adamw);
  EXPECT_EQ(parameter_count(net), 4 * 3 * 9 + 2 * 4 + 64 * 10);  // conv1, bn1's scale and shift, fc
  const auto passes = lower_training_step(net);
  ASSERT_EQ(passes.size(), 7u + 8u + 1u);  // 7 forward; loss, fc ×2, grad-sum, pool, relu, bn, conv1 filter; step
  EXPECT_EQ(memory_of(pass_named(passes, "bn1", "bwd")),
            (MemoryProblem{.op = MemoryOp::batchnorm, .backward = true, .n = 2, .c = 4, .h = 8, .w = 8}));
  EXPECT_EQ(memory_of(pass_named(passes, "pool", "fwd")),
            (MemoryProblem{.op = MemoryOp::maxpool, .n = 2, .c = 4, .h = 8, .w = 8, .window = 2, .stride = 2}));
  EXPECT_EQ(memory_of(pass_named(passes, "relu1", "fwd")).elements, 512);
  EXPECT_EQ(memory_of(pass_named(passes, "skip", "grad-sum")).elements, 128);
  EXPECT_EQ(memory_of(pass_named(passes, "loss", "bwd")).rows, 2);
  EXPECT_EQ(memory_of(passes.back()), (MemoryProblem{.op = MemoryOp::adamw, .elements = 756}));
  // Without the field a file trains with SGD.
  EXPECT_EQ(read_network_file(kNetworks + "good_tiny.json", 1).optimizer, Optimizer::sgd);
}

TEST(NetworkFiles, ExampleNetworkParses) {
  const Network net = read_network_file(std::string(TRAINRATE_TEST_DATA_DIR) + "/../../examples/networks/small-cnn.json", 4);
  EXPECT_FALSE(net.layers.empty());
}

void expect_input_error(const std::string& file, const std::string& fragment) {
  try {
    read_network_file(kNetworks + file, 1);
    FAIL() << file << " was accepted";
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

TEST(NetworkFiles, BadFilesNameFileAndField) {
  expect_input_error("bad_syntax.json", "not valid JSON");
  expect_input_error("bad_missing_field.json", "layers[1]: missing required field 'out'");
  expect_input_error("bad_type.json", "layers[0].k: expected an integer");
  expect_input_error("bad_kind.json", "layers[0].kind: 'maxpool' is not one of conv, linear, attention");
  expect_input_error("bad_unknown_field.json", "layers[0]: unknown field 'outputs'");
  expect_input_error("bad_shape.json", "layers[0]: output height");  // the problem's own message
  expect_input_error("bad_negative.json", "layers[0].repeat: must be >= 1");
  expect_input_error("bad_no_layers.json", "layers: expected a non-empty array");
  expect_input_error("does_not_exist.json", "cannot open");
  expect_input_error("bad_memory_batch.json", "layers[0].n: 'n' is not a layer field");
  expect_input_error("bad_memory_optimizer.json", "layers[0].op: the optimizer step is not a layer");
  expect_input_error("bad_memory_residual.json", "layers[0].residual: only an add can be residual");
  expect_input_error("bad_memory_missing.json", "layers[0]: missing required field 'cols'");
  expect_input_error("bad_memory_shape.json", "layers[0]: output height p is 0");
  expect_input_error("bad_optimizer.json", "optimizer: expected \"sgd\", \"adamw\" or \"none\", got \"lamb\"");
}

}  // namespace
}  // namespace trainrate
