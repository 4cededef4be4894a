// Networks: built-in layer lists against published parameter and MAC counts, the lowering of
// each layer kind to GEMMs and convs, and user network files (good and bad).
#include <gtest/gtest.h>

#include <algorithm>
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

// Published figures: torchvision resnet50 has 25,557,032 parameters (conv + fc + BN scale/shift)
// and 4.09 G multiply-adds per 224² image in its convs and fc.
TEST(BuiltinNetworks, ResNet50CountsMatchPublishedFigures) {
  const Network net = resnet50(1, 224);
  EXPECT_EQ(parameter_count(net), 25'557'032);
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net), 4'089'184'256.0);
  // 53 convs (1 stem + 16 blocks × 3 + 4 downsample) and one fc.
  const auto passes = lower_training_step(net);
  EXPECT_EQ(total_count(passes, "fwd"), 54);
  EXPECT_EQ(total_count(passes, "bwd-filter"), 53);
  EXPECT_EQ(total_count(passes, "bwd-weight"), 1);
  EXPECT_EQ(total_count(passes, "bwd-data"), 53);  // 52 convs + fc; the stem needs no input gradient
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
  EXPECT_EQ(total_count(lower_training_step(net), "fwd"), 16);
}

TEST(BuiltinNetworks, BertBaseCountsMatchPublishedFigures) {
  const Network net = bert_base(1, 128);
  EXPECT_EQ(parameter_count(net), 109'482'240);  // HF bert-base-uncased with pooler
  // Per block: QKV 3·s·h², scores and context 2·s²·h, output s·h², MLP 2·s·h·4h; plus pooler h².
  const double s = 128, h = 768;
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net), 12 * (3 * s * h * h + 2 * s * s * h + s * h * h + 8 * s * h * h) + h * h);
}

TEST(BuiltinNetworks, Gpt2SmallCountsMatchPublishedFigures) {
  const Network net = gpt2_small(1, 1024);
  EXPECT_EQ(parameter_count(net), 124'439'808);  // HF gpt2, LM head tied to wte
  const double s = 1024, h = 768;
  EXPECT_DOUBLE_EQ(forward_macs_per_sample(net),
                   12 * (3 * s * h * h + 2 * s * s * h + s * h * h + 8 * s * h * h) + s * h * 50257);
}

TEST(BuiltinNetworks, ByNameAndRanges) {
  EXPECT_EQ(builtin_network("bert-base", {.batch = 2, .seq_len = 64}).batch, 2);
  EXPECT_THROW(builtin_network("resnet51", {}), InputError);
  EXPECT_THROW(builtin_network("bert-base", {.seq_len = 513}), InputError);
  EXPECT_THROW(builtin_network("resnet50", {.image_size = 16}), InputError);
  EXPECT_EQ(builtin_network_names().size(), 4u);
}

TEST(Lowering, LinearBecomesThreeGemmsInColumnMajorForm) {
  // PyTorch nn.Linear: Y = X·Wᵀ with X [rows × in], W [out × in]; cuBLAS sees TN, NN, NT.
  const Layer fc{"fc", LinearLayer{.tokens = 3, .in_features = 20, .out_features = 30}, 2};
  const auto passes = lower_layer(fc, 4);
  ASSERT_EQ(passes.size(), 3u);
  EXPECT_EQ(std::get<GemmProblem>(passes[0].problem), (GemmProblem{30, 12, 20, Op::T, Op::N}));  // Yᵀ = W·Xᵀ
  EXPECT_EQ(std::get<GemmProblem>(passes[1].problem), (GemmProblem{20, 12, 30, Op::N, Op::N}));  // dXᵀ = Wᵀ·dYᵀ
  EXPECT_EQ(std::get<GemmProblem>(passes[2].problem), (GemmProblem{20, 30, 12, Op::N, Op::T}));  // dWᵀ = Xᵀ·dY
  for (const auto& p : passes) EXPECT_EQ(p.count, 2);
  EXPECT_EQ(passes[1].pass, "bwd-data");
  EXPECT_EQ(passes[2].pass, "bwd-weight");
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
  EXPECT_FALSE(passes.front().backward);
  EXPECT_EQ(passes.back().layer, "conv1");
  EXPECT_EQ(passes.back().pass, "bwd-filter");
  const auto first_backward = std::find_if(passes.begin(), passes.end(), [](const auto& p) { return p.backward; });
  EXPECT_EQ(first_backward->layer, "fc");
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
}

}  // namespace
}  // namespace trainrate
