// Memory-bound problems: exact byte and FLOP counts per op (hand-computed), validation naming the
// field, describe()/kind labels, JSON and CSV encodings, the reference on tiny hand-computed cases,
// the verification tolerance, and the CPU backends: onednn verified on odd shapes of every op it
// has, skipped with a reason for those it lacks, openblas and custom-cpu skipped by their facts.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "fast_run_options.hpp"
#include "backends/registry.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"
#include "run/runner.hpp"
#include "verify/reference.hpp"
#include "verify/verify.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;

MemoryProblem op(MemoryOp o, bool backward = false) { return MemoryProblem{.op = o, .backward = backward}; }

MemoryProblem elements(MemoryOp o, int64_t count, bool backward = false) {
  MemoryProblem m = op(o, backward);
  m.elements = count;
  return m;
}
MemoryProblem matrix(MemoryOp o, int64_t rows, int64_t cols, bool backward = false) {
  MemoryProblem m = op(o, backward);
  m.rows = rows;
  m.cols = cols;
  return m;
}
MemoryProblem image(MemoryOp o, int64_t n, int64_t c, int64_t h, int64_t w, bool backward = false) {
  MemoryProblem m = op(o, backward);
  m.n = n, m.c = c, m.h = h, m.w = w;
  return m;
}
MemoryProblem pool(MemoryOp o, int64_t h, int64_t w, int64_t window, int64_t stride, int64_t pad, bool backward = false) {
  MemoryProblem m = image(o, 1, 2, h, w, backward);
  m.window = window, m.stride = stride, m.pad = pad;
  return m;
}
MemoryProblem embedding(int64_t tokens, int64_t dim, int64_t vocab, bool backward) {
  MemoryProblem m = matrix(MemoryOp::embedding, tokens, dim, backward);
  m.vocab = vocab;
  return m;
}

// ---------------------------------------------------------------------------------------------
// Counts: every input read once, every output written once, 4 bytes per fp32 or int32 element.

TEST(MemoryBytes, EveryInputReadAndOutputWrittenOnce) {
  EXPECT_EQ(min_bytes(elements(MemoryOp::relu, 10)), 80.0);         // x, y
  EXPECT_EQ(min_bytes(elements(MemoryOp::relu, 10, true)), 120.0);  // x, dy, dx
  EXPECT_EQ(min_bytes(elements(MemoryOp::gelu, 10, true)), 120.0);
  EXPECT_EQ(min_bytes(elements(MemoryOp::add, 10)), 120.0);         // a, b, y
  EXPECT_EQ(min_bytes(matrix(MemoryOp::bias_add, 3, 4)), 112.0);    // x 12, bias 4, y 12
  // n2 c3 4x5 = 120 values: x, gamma 3, beta 3 → y, mean 3, variance 3 = 252 elements.
  EXPECT_EQ(min_bytes(image(MemoryOp::batchnorm, 2, 3, 4, 5)), 1008.0);
  // x, dy, gamma, mean, variance → dx, dgamma, dbeta: 120·3 + 3·5 = 375 elements.
  EXPECT_EQ(min_bytes(image(MemoryOp::batchnorm, 2, 3, 4, 5, true)), 1500.0);
  // 4x6: x 24, gamma 6, beta 6 → y 24, mean 4, variance 4 = 68; backward 24·3 + 6·3 + 4·2 = 98.
  EXPECT_EQ(min_bytes(matrix(MemoryOp::layernorm, 4, 6)), 272.0);
  EXPECT_EQ(min_bytes(matrix(MemoryOp::layernorm, 4, 6, true)), 392.0);
  // 1x2x5x5, window 3, stride 2, pad 1: 3x3 outputs per plane; x 50, y 18.
  EXPECT_EQ(min_bytes(pool(MemoryOp::maxpool, 5, 5, 3, 2, 1)), 272.0);
  EXPECT_EQ(min_bytes(pool(MemoryOp::maxpool, 5, 5, 3, 2, 1, true)), 472.0);  // x, dy, dx
  EXPECT_EQ(min_bytes(pool(MemoryOp::avgpool, 5, 5, 3, 2, 1, true)), 272.0);  // dy, dx
  EXPECT_EQ(min_bytes(matrix(MemoryOp::softmax, 4, 6)), 192.0);
  EXPECT_EQ(min_bytes(matrix(MemoryOp::softmax, 4, 6, true)), 288.0);  // y, dy, dx
  EXPECT_EQ(min_bytes(matrix(MemoryOp::cross_entropy, 4, 10)), 180.0);        // logits 40, labels 4, loss 1
  EXPECT_EQ(min_bytes(matrix(MemoryOp::cross_entropy, 4, 10, true)), 336.0);  // logits, labels, dlogits
  // Forward reads the 5 gathered rows of 3, not the 100-row table.
  EXPECT_EQ(min_bytes(embedding(5, 3, 100, false)), 140.0);  // rows 15, indices 5, y 15
  EXPECT_EQ(min_bytes(embedding(5, 3, 100, true)), 1280.0);  // dy 15, indices 5, dtable 300
  EXPECT_EQ(min_bytes(elements(MemoryOp::sgd_momentum, 10)), 200.0);  // w g v → w v
  EXPECT_EQ(min_bytes(elements(MemoryOp::adamw, 10)), 280.0);         // w g m v → w m v
}

TEST(MemoryBytes, OperandSizesListEveryInputAndTheOutputsTogether) {
  const OperandSizes bn = operand_elements(image(MemoryOp::batchnorm, 2, 3, 4, 5, true));
  EXPECT_EQ(bn.input0, 120);                                   // x
  EXPECT_EQ(bn.input1, 120);                                   // dy
  EXPECT_EQ(bn.more_inputs, (std::vector<int64_t>{3, 3, 3}));  // gamma, mean, variance
  EXPECT_EQ(bn.output, 126);                                   // dx, dgamma, dbeta back to back
  const OperandSizes relu = operand_elements(elements(MemoryOp::relu, 10));
  EXPECT_EQ(relu.input1, 0);
  EXPECT_TRUE(relu.more_inputs.empty());
}

TEST(MemoryBytes, LowPrecisionHalvesDataButNotIndices) {
  MemoryProblem relu = elements(MemoryOp::relu, 10);
  relu.dtype = Dtype::fp16;
  EXPECT_EQ(min_bytes(relu), 40.0);
  MemoryProblem loss = matrix(MemoryOp::cross_entropy, 4, 10);
  loss.dtype = Dtype::bf16;
  EXPECT_EQ(min_bytes(loss), 80.0 + 16.0 + 2.0);  // logits, int32 labels, the loss
}

TEST(MemoryFlops, PerElementConvention) {
  EXPECT_EQ(flops(elements(MemoryOp::relu, 10)), 10.0);
  EXPECT_EQ(flops(elements(MemoryOp::gelu, 10)), 50.0);
  EXPECT_EQ(flops(elements(MemoryOp::gelu, 10, true)), 110.0);
  EXPECT_EQ(flops(elements(MemoryOp::add, 10)), 10.0);
  EXPECT_EQ(flops(image(MemoryOp::batchnorm, 2, 3, 4, 5)), 840.0);
  EXPECT_EQ(flops(image(MemoryOp::batchnorm, 2, 3, 4, 5, true)), 1200.0);
  EXPECT_EQ(flops(matrix(MemoryOp::layernorm, 4, 6)), 168.0);
  EXPECT_EQ(flops(pool(MemoryOp::maxpool, 5, 5, 3, 2, 1)), 162.0);  // 18 outputs · 9
  EXPECT_EQ(flops(matrix(MemoryOp::softmax, 4, 6)), 144.0);
  EXPECT_EQ(flops(matrix(MemoryOp::softmax, 4, 6, true)), 120.0);
  EXPECT_EQ(flops(matrix(MemoryOp::cross_entropy, 4, 10)), 160.0);
  EXPECT_EQ(flops(embedding(5, 3, 100, false)), 0.0);
  EXPECT_EQ(flops(embedding(5, 3, 100, true)), 15.0);
  EXPECT_EQ(flops(elements(MemoryOp::sgd_momentum, 10)), 60.0);
  EXPECT_EQ(flops(elements(MemoryOp::adamw, 10)), 160.0);
}

MemoryProblem chain(MemoryOp o, UpdateForm form, int64_t count) {
  MemoryProblem m = elements(o, count);
  m.form = form;
  return m;
}

// An op chain reads and writes every tensor of every pass: counted by hand from the framework's
// code (problems/problem.cpp), 4 bytes per element.
TEST(MemoryBytes, OptimizerChainsCountEveryPass) {
  EXPECT_EQ(min_bytes(elements(MemoryOp::adamw, 10)), 280.0);  // fused: w g m v in, w m v out
  EXPECT_EQ(min_bytes(elements(MemoryOp::sgd_momentum, 10)), 200.0);
  // torch SGD: t0 = g + wd·w (3), v ·= mu (2), v += t0 (3), w −= lr·v (3).
  EXPECT_EQ(min_bytes(chain(MemoryOp::sgd_momentum, UpdateForm::torch, 10)), 440.0);
  // torch AdamW: w·=, m·=, m+=, v·=, v+=g², √v, /√bias2, +eps, addcdiv = 2+2+3+2+3+2+2+2+4 = 22.
  EXPECT_EQ(min_bytes(chain(MemoryOp::adamw, UpdateForm::torch, 10)), 880.0);
  // Keras SGD: decay (2+2+3), v·mu, g·lr, v = −, w += (2+2+3+3) = 17.
  EXPECT_EQ(min_bytes(chain(MemoryOp::sgd_momentum, UpdateForm::keras, 10)), 680.0);
  // Keras AdamW: decay 7, m 8, v 10, step 12 = 37.
  EXPECT_EQ(min_bytes(chain(MemoryOp::adamw, UpdateForm::keras, 10)), 1480.0);
  // FLOPs: a pass per element each, axpy 2, addcmul and addcdiv 3.
  EXPECT_EQ(flops(chain(MemoryOp::sgd_momentum, UpdateForm::torch, 10)), 70.0);
  EXPECT_EQ(flops(chain(MemoryOp::adamw, UpdateForm::torch, 10)), 140.0);
  EXPECT_EQ(flops(chain(MemoryOp::sgd_momentum, UpdateForm::keras, 10)), 70.0);
  EXPECT_EQ(flops(chain(MemoryOp::adamw, UpdateForm::keras, 10)), 150.0);
}

// ---------------------------------------------------------------------------------------------
// Validation, names, labels

std::string error_of(const MemoryProblem& m) { return validate(m).value_or("valid"); }

TEST(MemoryValidate, NamesTheBadField) {
  EXPECT_THAT(error_of(elements(MemoryOp::relu, 0)), HasSubstr("elements must be >= 1"));
  EXPECT_THAT(error_of(matrix(MemoryOp::layernorm, 4, 0)), HasSubstr("cols must be >= 1"));
  EXPECT_THAT(error_of(image(MemoryOp::batchnorm, 1, -2, 3, 3)), HasSubstr("c must be >= 1"));
  EXPECT_THAT(error_of(pool(MemoryOp::maxpool, 5, 5, 3, 0, 1)), HasSubstr("stride must be >= 1"));
  EXPECT_THAT(error_of(pool(MemoryOp::maxpool, 5, 5, 3, 1, 3)), HasSubstr("pad 3 must be smaller than the window 3"));
  EXPECT_THAT(error_of(pool(MemoryOp::avgpool, 2, 5, 5, 1, 1)), HasSubstr("output height p"));
  MemoryProblem softmax = matrix(MemoryOp::softmax, 2, 2);
  softmax.scale = 0;
  EXPECT_THAT(error_of(softmax), HasSubstr("scale must be > 0"));
  softmax.scale = 1;
  softmax.causal_seq = -1;
  EXPECT_THAT(error_of(softmax), HasSubstr("causal_seq must be >= 0"));
  EXPECT_THAT(error_of(embedding(4, 4, 0, false)), HasSubstr("vocab must be >= 1"));
  EXPECT_THAT(error_of(elements(MemoryOp::add, 4, true)), HasSubstr("pass: add has no backward"));
  MemoryProblem relu_chain = elements(MemoryOp::relu, 4);
  relu_chain.form = UpdateForm::keras;
  EXPECT_THAT(error_of(relu_chain), HasSubstr("form: relu is not an optimizer step"));
  EXPECT_THAT(error_of(elements(MemoryOp::relu, int64_t(1) << 40)), HasSubstr("32-bit index limit"));
  EXPECT_THAT(error_of(image(MemoryOp::batchnorm, 1 << 20, 1 << 20, 1 << 20, 1 << 20)), HasSubstr("n*c*h*w"));
}

TEST(MemoryNames, DescribeIsUniqueAndLabelsGroupPasses) {
  const Suite smoke = load_suite("smoke", SuiteParams{.kinds = {"memory"}});
  std::set<std::string> names;
  for (const Problem& p : smoke.problems) EXPECT_TRUE(names.insert(describe(p)).second) << describe(p);
  EXPECT_EQ(describe(image(MemoryOp::batchnorm, 2, 3, 4, 5, true)), "batchnorm bwd n2 c3 4x5 fp32");
  EXPECT_EQ(describe(elements(MemoryOp::add, 7)), "add 7 fp32");
  EXPECT_EQ(describe(chain(MemoryOp::adamw, UpdateForm::keras, 7)), "adamw 7 keras-ops fp32");
  EXPECT_EQ(kind_label(chain(MemoryOp::sgd_momentum, UpdateForm::torch, 7)), "sgd-torch");
  EXPECT_EQ(kind_label(image(MemoryOp::batchnorm, 2, 3, 4, 5, true)), "bn-bwd");
  EXPECT_EQ(kind_label(elements(MemoryOp::relu, 3)), "relu-fwd");
  EXPECT_EQ(kind_label(elements(MemoryOp::sgd_momentum, 3)), "sgd");
  EXPECT_EQ(kind_label(matrix(MemoryOp::cross_entropy, 3, 3, true)), "xent-bwd");
  EXPECT_EQ(family_of(elements(MemoryOp::adamw, 3)), "memory");
}

// ---------------------------------------------------------------------------------------------
// Encodings

TEST(MemoryJson, EverySmokeProblemRoundTrips) {
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems) {
    EXPECT_EQ(problem_from_json(to_json(p), "where"), p) << to_json(p).dump();
  }
}

std::string json_error(const std::string& text) {
  try {
    problem_from_json(nlohmann::json::parse(text), "where");
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(MemoryJson, FieldsOfOtherOpsAndBadValuesAreRefused) {
  EXPECT_EQ(json_error(R"({"kind": "memory", "op": "relu", "rows": 3})"), "where: unknown field 'rows' for op relu");
  EXPECT_EQ(json_error(R"({"kind": "memory", "op": "relu"})"), "where: missing required field 'elements'");
  EXPECT_THAT(json_error(R"({"kind": "memory", "op": "tanh", "elements": 3})"), HasSubstr("where.op: 'tanh' is not one of"));
  EXPECT_THAT(json_error(R"({"kind": "memory", "elements": 3})"), HasSubstr("missing required field 'op'"));
  EXPECT_THAT(json_error(R"({"kind": "memory", "op": "relu", "elements": 3, "pass": "backward_data"})"),
              HasSubstr("where.pass: expected \"forward\" or \"backward\""));
  EXPECT_EQ(json_error(R"({"kind": "memory", "op": "softmax", "rows": 2, "cols": 2, "scale": -1})"),
            "where: scale must be > 0 and finite (got -1)");
  EXPECT_EQ(json_error(R"({"kind": "memory", "op": "relu", "elements": 3, "form": "torch"})"),
            "where: unknown field 'form' for op relu");
  EXPECT_EQ(json_error(R"({"kind": "memory", "op": "adamw", "elements": 3, "form": "jax"})"),
            "where.form: 'jax' is not one of fused, torch, keras");
  const nlohmann::json keras = to_json(chain(MemoryOp::adamw, UpdateForm::keras, 3));
  EXPECT_EQ(keras.at("form"), "keras");
  EXPECT_FALSE(to_json(elements(MemoryOp::adamw, 3)).contains("form"));  // fused: as files before the field
  const auto pooled = std::get<MemoryProblem>(problem_from_json(
      nlohmann::json::parse(R"({"kind": "memory", "op": "maxpool", "n": 1, "c": 2, "h": 9, "w": 9, "window": 3})"), "w"));
  EXPECT_EQ(pooled.stride, 1);  // stride and pad default to 1 and 0
  EXPECT_EQ(pooled.pad, 0);
}

TEST(MemorySuites, CsvRowsWithDecimalScale) {
  const Suite suite = parse_suite_csv(
      "kind,op,pass,rows,cols,scale,causal_seq,elements\n"
      "memory,softmax,backward,8,4,0.125,4,\n"
      "memory,relu,,,,,,10\n",
      "mine.csv");
  ASSERT_EQ(suite.problems.size(), 2u);
  const auto& softmax = std::get<MemoryProblem>(suite.problems[0]);
  EXPECT_TRUE(softmax.backward);
  EXPECT_EQ(softmax.scale, 0.125);
  EXPECT_EQ(softmax.causal_seq, 4);
  EXPECT_EQ(std::get<MemoryProblem>(suite.problems[1]), elements(MemoryOp::relu, 10));
}

TEST(MemorySuites, NetworkSuitesHoldTheirLayersAndKindsFilter) {
  const Suite resnet = load_suite("resnet50", SuiteParams{.batch = 2, .kinds = {"bn-fwd"}});
  // Distinct BN output shapes: stem 64x112², then per stage width and 4·width at two sizes, ...
  bool stem = false;
  for (const Problem& p : resnet.problems) {
    const auto& m = std::get<MemoryProblem>(p);
    EXPECT_EQ(m.op, MemoryOp::batchnorm);
    stem |= m.c == 64 && m.h == 112 && m.n == 2;
  }
  EXPECT_TRUE(stem);
  const Suite pools = load_suite("resnet50", SuiteParams{.batch = 2, .kinds = {"maxpool", "avgpool"}});
  ASSERT_EQ(pools.problems.size(), 4u);
  // First-use order: both forward pools, then their backward passes in reverse.
  EXPECT_EQ(std::get<MemoryProblem>(pools.problems[1]), (MemoryProblem{.op = MemoryOp::avgpool, .n = 2, .c = 2048,
                                                                        .h = 7, .w = 7, .window = 7}));
  const Suite bert = load_suite("transformer", SuiteParams{.batch = 2, .seq_len = 128, .kinds = {"softmax"}});
  ASSERT_EQ(bert.problems.size(), 2u);
  EXPECT_EQ(std::get<MemoryProblem>(bert.problems[0]).rows, 2 * 12 * 128);
  // Both passes of 3 embeddings, LayerNorm, GELU, softmax and cross-entropy (14); the bias adds of
  // the 768- and 3072-wide linears, the pooler and the classifier (4); the add; AdamW.
  EXPECT_EQ(load_suite("transformer", SuiteParams{.kinds = {"memory"}}).problems.size(), 20u);
}

// ---------------------------------------------------------------------------------------------
// The reference on hand-computed cases

std::vector<double> reference_of(const MemoryProblem& m, HostInputs in) { return reference::memory_output(m, in); }

TEST(MemoryReference, Activations) {
  EXPECT_THAT(reference_of(elements(MemoryOp::relu, 2), {{-1, 0.5f}, {}, {}}), ::testing::ElementsAre(0.0, 0.5));
  EXPECT_THAT(reference_of(elements(MemoryOp::relu, 2, true), {{-1, 0.5f}, {3, 4}, {}}), ::testing::ElementsAre(0.0, 4.0));
  // Φ(1) = 0.841344746..., φ(1) = 0.241970724...
  EXPECT_NEAR(reference_of(elements(MemoryOp::gelu, 1), {{1}, {}, {}})[0], 0.8413447460685429, 1e-15);
  EXPECT_NEAR(reference_of(elements(MemoryOp::gelu, 1, true), {{1}, {2}, {}})[0], 2 * 1.0833154705876863, 1e-15);
  EXPECT_THAT(reference_of(matrix(MemoryOp::bias_add, 2, 2), {{1, 2, 3, 4}, {10, 20}, {}}),
              ::testing::ElementsAre(11.0, 22.0, 13.0, 24.0));
}

TEST(MemoryReference, BatchNormPerChannelOverBatchAndPixels) {
  // NCHW n2 c2 1x1: channel 0 holds {1, 3} (mean 2, variance 1), channel 1 {10, 20} (15, 25).
  const std::vector<double> out =
      reference_of(image(MemoryOp::batchnorm, 2, 2, 1, 1), {{1, 10, 3, 20}, {2, 1}, {{0.5f, 0}}});
  ASSERT_EQ(out.size(), 8u);
  const std::vector<double> want{-1.5, -1, 2.5, 1, 2, 15, 1, 25};  // y, mean, variance
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(out[i], want[i], 2e-5) << i;
  // Backward, channel 0 only: x̂ = {-1, 1}, dy = {1, 2}: dbeta = 3, dgamma = 1, and with two
  // values dx = gamma·inv_std·(dy − 1.5 − 0.5·x̂) = 0.
  const std::vector<double> back =
      reference_of(image(MemoryOp::batchnorm, 2, 1, 1, 1, true), {{1, 3}, {1, 2}, {{2}, {2}, {1}}});
  const std::vector<double> back_want{0, 0, 1, 3};
  for (size_t i = 0; i < back_want.size(); ++i) EXPECT_NEAR(back[i], back_want[i], 2e-5) << i;
}

TEST(MemoryReference, PoolingPaddingAndTies) {
  // 2x2 window, stride 2 on one 2x2 plane per channel (c = 2 in pool()): ties go to the first maximum.
  MemoryProblem max = pool(MemoryOp::maxpool, 2, 2, 2, 2, 0, true);
  max.c = 1;
  EXPECT_THAT(reference_of(max, {{5, 5, 1, 2}, {7}, {}}), ::testing::ElementsAre(7.0, 0.0, 0.0, 0.0));
  // 3x3 window, pad 1, on 2x2: every window holds all four values and divides by 9 (padding counts).
  MemoryProblem avg = pool(MemoryOp::avgpool, 2, 2, 3, 1, 1);
  avg.c = 1;
  for (double y : reference_of(avg, {{1, 2, 3, 4}, {}, {}})) EXPECT_DOUBLE_EQ(y, 10.0 / 9);
  avg.backward = true;
  for (double dx : reference_of(avg, {{9, 9, 9, 9}, {}, {}})) EXPECT_DOUBLE_EQ(dx, 4.0);
}

TEST(MemoryReference, SoftmaxScaleAndCausalMask) {
  MemoryProblem m = matrix(MemoryOp::softmax, 2, 2);
  m.scale = 2;
  m.causal_seq = 2;
  // Row 0 sees only column 0; row 1: exp(2·0) : exp(2·ln3/2) = 1 : 3.
  const std::vector<double> y = reference_of(m, {{0, 5, 0, float(std::log(3.0) / 2)}, {}, {}});
  EXPECT_NEAR(y[0], 1, 1e-12);
  EXPECT_EQ(y[1], 0);
  EXPECT_NEAR(y[2], 0.25, 1e-7);
  EXPECT_NEAR(y[3], 0.75, 1e-7);
  // dx = scale·y·(dy − Σ dy·y): y = {0.25, 0.75}, dy = {1, 0} → 2·{0.25·0.75, 0.75·(−0.25)}.
  m.backward = true;
  m.rows = 1;
  const std::vector<double> dx = reference_of(m, {{0.25f, 0.75f}, {1, 0}, {}});
  EXPECT_DOUBLE_EQ(dx[0], 0.375);
  EXPECT_DOUBLE_EQ(dx[1], -0.375);
}

TEST(MemoryReference, CrossEntropyEmbeddingOptimizers) {
  // Row 0 logits {0, ln3}, label 1: ln(4/3); row 1 {0, 0}, label 0: ln 2. Mean ln(8/3)/2.
  const HostInputs logits{{0, float(std::log(3.0)), 0, 0}, {1, 0}, {}};
  EXPECT_NEAR(reference_of(matrix(MemoryOp::cross_entropy, 2, 2), logits)[0], 0.4904146265058631, 1e-7);
  const std::vector<double> dlogits = reference_of(matrix(MemoryOp::cross_entropy, 2, 2, true), logits);
  const std::vector<double> want{0.125, -0.125, -0.25, 0.25};  // (softmax − onehot) / 2
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(dlogits[i], want[i], 1e-7) << i;
  EXPECT_THAT(reference_of(embedding(3, 1, 2, false), {{10, 20}, {1, 0, 1}, {}}), ::testing::ElementsAre(20.0, 10.0, 20.0));
  EXPECT_THAT(reference_of(embedding(3, 1, 2, true), {{1, 2, 4}, {1, 0, 1}, {}}), ::testing::ElementsAre(2.0, 5.0));
  // SGD: g' = 0.5 + 1e-4·1; v = 0.9·2 + g' = 2.3001; w = 1 − 0.01·v.
  const std::vector<double> sgd = reference_of(elements(MemoryOp::sgd_momentum, 1), {{1}, {0.5f}, {{2}}});
  EXPECT_NEAR(sgd[0], 0.976999, 1e-12);
  EXPECT_NEAR(sgd[1], 2.3001, 1e-12);
  // AdamW at step 3 from m = v = 0: m = 0.05, v = 0.00025, bias-corrected by 1 − 0.9³ and 1 − 0.999³.
  const std::vector<double> adam = reference_of(elements(MemoryOp::adamw, 1), {{1}, {0.5f}, {{0}, {0}}});
  EXPECT_NEAR(adam[0], 0.9993511864227196, 1e-12);
  EXPECT_NEAR(adam[1], 0.05, 1e-12);
  EXPECT_NEAR(adam[2], 0.00025, 1e-12);
}

// The slots a chain runs on are the outputs memory_outputs() names, in its order.
TEST(MemoryReference, ChainSlotsFollowTheOutputOrder) {
  for (MemoryOp o : {MemoryOp::sgd_momentum, MemoryOp::adamw}) {
    const MemoryProblem m = chain(o, UpdateForm::torch, 5);
    float outputs_data[3] = {}, temporaries[10] = {};
    const float g = 0;
    const std::array<float*, 3> outputs{&outputs_data[0], &outputs_data[1], &outputs_data[2]};
    const auto slots = chain_slots(m, outputs, &g, temporaries);
    const auto at = [&](ChainSlot s) { return slots[size_t(s)]; };
    const std::vector<MemoryTensor> names = memory_outputs(m);
    for (size_t i = 0; i < names.size(); ++i) {
      const ChainSlot s = names[i].name == "w" ? ChainSlot::w : names[i].name == "m" ? ChainSlot::m : ChainSlot::v;
      EXPECT_EQ(at(s), outputs[i]) << to_string(o) << " " << names[i].name;
    }
    EXPECT_EQ(at(ChainSlot::g), &g);
    EXPECT_EQ(at(ChainSlot::t0), temporaries);
    EXPECT_EQ(at(ChainSlot::t1), temporaries + 5);
  }
}

// The chains are the frameworks' arithmetic, pass by pass. torch's is the fused update rearranged;
// Keras adds eps to √v before the bias correction, so its w differs in the tenth digit.
TEST(MemoryReference, OptimizerChainsByHand) {
  const HostInputs sgd_in{{1}, {0.5f}, {{2}}};
  const std::vector<double> fused_sgd = reference_of(elements(MemoryOp::sgd_momentum, 1), sgd_in);
  const std::vector<double> torch_sgd = reference_of(chain(MemoryOp::sgd_momentum, UpdateForm::torch, 1), sgd_in);
  for (size_t i = 0; i < 2; ++i) EXPECT_NEAR(torch_sgd[i], fused_sgd[i], 1e-15) << i;
  // Keras: w = 1 − 1·1e-4·0.01 = 0.999999; v = 0.9·2 − 0.01·0.5 = 1.795; w += v.
  const std::vector<double> keras_sgd = reference_of(chain(MemoryOp::sgd_momentum, UpdateForm::keras, 1), sgd_in);
  EXPECT_NEAR(keras_sgd[0], 2.794999, 1e-12);
  EXPECT_NEAR(keras_sgd[1], 1.795, 1e-12);
  const HostInputs adam_in{{1}, {0.5f}, {{0}, {0}}};
  const std::vector<double> torch_adam = reference_of(chain(MemoryOp::adamw, UpdateForm::torch, 1), adam_in);
  EXPECT_NEAR(torch_adam[0], 0.9993511864227196, 1e-15);
  EXPECT_NEAR(torch_adam[1], 0.05, 1e-15);
  EXPECT_NEAR(torch_adam[2], 0.00025, 1e-15);
  // w = 0.99999 − α·0.05/(√0.00025 + 1e-8), α = 1e-3·√(1 − 0.999³)/(1 − 0.9³).
  const std::vector<double> keras_adam = reference_of(chain(MemoryOp::adamw, UpdateForm::keras, 1), adam_in);
  EXPECT_NEAR(keras_adam[0], 0.9993511868046224, 1e-15);
  EXPECT_NEAR(keras_adam[1], 0.05, 1e-15);
  EXPECT_NEAR(keras_adam[2], 0.00025, 1e-15);
}

// ---------------------------------------------------------------------------------------------
// Inputs and verification

TEST(MemoryVerify, InputsFitTheOp) {
  const MemoryProblem loss = matrix(MemoryOp::cross_entropy, 50, 7);
  const HostInputs in = make_inputs(loss, 3);
  ASSERT_EQ(in.in1.size(), 50u);
  for (float label : in.in1) {
    EXPECT_EQ(label, std::floor(label));
    EXPECT_GE(label, 0);
    EXPECT_LT(label, 7);
  }
  const HostInputs bn = make_inputs(image(MemoryOp::batchnorm, 2, 3, 4, 5, true), 3);
  ASSERT_EQ(bn.more.size(), 3u);  // gamma, mean, variance
  for (float variance : bn.more[2]) EXPECT_GT(variance, 0.05);  // of uniform [-1, 1) values, about 1/3
  const HostInputs adam = make_inputs(elements(MemoryOp::adamw, 100), 3);
  for (float v : adam.more[1]) EXPECT_GE(v, 0);
}

TEST(MemoryVerify, ReferencePassesAndOneWrongElementFails) {
  const MemoryProblem m = matrix(MemoryOp::layernorm, 5, 9, true);
  const HostInputs in = make_inputs(m, 5);
  const std::vector<double> want = reference::memory_output(m, in);
  std::vector<float> out(want.begin(), want.end());
  const Verification ok = verify(m, in, out);
  EXPECT_TRUE(passed(ok)) << ok.first_mismatch;
  EXPECT_EQ(ok.elements_checked, 45 + 9 + 9);
  EXPECT_EQ(ok.tolerance, 1e-4);
  out[45 + 3] += 0.01f;  // dgamma[3]
  const Verification bad = verify(m, in, out);
  EXPECT_EQ(bad.mismatches, 1);
  EXPECT_THAT(bad.first_mismatch, HasSubstr("dgamma[3]"));
}

// ---------------------------------------------------------------------------------------------
// CPU backends

using testing::fast_options;

Backend& cpu_backend(const std::string& name) {
  static BackendSet set = make_available_backends();
  for (const auto& b : set.backends) {
    if (b->name() == name) return *b;
  }
  throw std::runtime_error("no backend " + name);
}

TEST(MemoryOnednn, VerifiesEveryOpItHasOnOddShapesAndSaysWhyNotTheRest) {
  Backend& onednn = cpu_backend("onednn");
  std::set<std::string> ran;
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems) {
    const Result r = run_one(onednn, p, fast_options());
    const auto& m = std::get<MemoryProblem>(p);
    const bool lacks = m.op == MemoryOp::cross_entropy || m.op == MemoryOp::embedding ||
                       m.op == MemoryOp::sgd_momentum || m.op == MemoryOp::adamw || m.causal_seq > 0;
    if (lacks) {
      EXPECT_EQ(r.status, ResultStatus::skipped) << describe(p);
      EXPECT_THAT(r.reason, HasSubstr("oneDNN")) << describe(p);
      continue;
    }
    ASSERT_EQ(r.status, ResultStatus::ok) << describe(p) << ": " << r.reason;
    EXPECT_EQ(r.verification.elements_checked, operand_elements(p).output);
    EXPECT_DOUBLE_EQ(r.bytes, min_bytes(p));
    EXPECT_DOUBLE_EQ(r.rate_bytes_per_s, r.bytes / (r.measurement->stats.median_ms * 1e-3));
    ASSERT_TRUE(r.peak_bytes_per_s.has_value());  // the measured triad
    EXPECT_DOUBLE_EQ(*r.percent_of_peak, 100.0 * r.rate_bytes_per_s / *r.peak_bytes_per_s);
    ran.insert(kind_label(p));
  }
  EXPECT_EQ(ran, (std::set<std::string>{"relu-fwd", "relu-bwd", "gelu-fwd", "gelu-bwd", "bn-fwd", "bn-bwd", "ln-fwd",
                                        "ln-bwd", "maxpool-fwd", "maxpool-bwd", "avgpool-fwd", "avgpool-bwd",
                                        "softmax-fwd", "softmax-bwd", "add", "bias-add"}));
}

// Our kernels (kernels/cpu/memory_bound.hpp) behind custom-cpu: every op and pass of the smoke
// suite's odd shapes verifies, including those oneDNN lacks (loss, embedding, optimizers, the mask).
TEST(MemoryCustomCpu, VerifiesEveryOpOnOddShapes) {
  Backend& custom = cpu_backend("custom-cpu");
  std::set<std::string> ran;
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems) {
    const Result r = run_one(custom, p, fast_options());
    ASSERT_EQ(r.status, ResultStatus::ok) << describe(p) << ": " << r.reason;
    EXPECT_EQ(r.verification.elements_checked, operand_elements(p).output) << describe(p);
    EXPECT_EQ(r.verification.mismatches, 0) << describe(p);
    EXPECT_DOUBLE_EQ(r.bytes, min_bytes(p));
    ran.insert(kind_label(p));
  }
  EXPECT_EQ(ran, (std::set<std::string>{"relu-fwd", "relu-bwd", "gelu-fwd", "gelu-bwd", "bn-fwd", "bn-bwd", "ln-fwd",
                                        "ln-bwd", "maxpool-fwd", "maxpool-bwd", "avgpool-fwd", "avgpool-bwd",
                                        "softmax-fwd", "softmax-bwd", "add", "bias-add", "xent-fwd", "xent-bwd",
                                        "embed-fwd", "embed-bwd", "sgd", "adamw", "sgd-torch", "adamw-torch",
                                        "sgd-keras", "adamw-keras"}));
}

TEST(MemoryOnednn, OtherCpuBackendsSkipByTheirFacts) {
  const Problem relu = elements(MemoryOp::relu, 10);
  EXPECT_EQ(cpu_backend("openblas").unsupported_reason(relu), "openblas has no memory-bound layers");
  EXPECT_EQ(cpu_backend("custom-cpu").unsupported_reason(relu), std::nullopt);
  // A forced micro-kernel is a GEMM choice: the variants leave memory-bound layers to the family.
  EXPECT_EQ(cpu_backend("custom-cpu/portable").unsupported_reason(relu),
            "custom-cpu/portable has no memory-bound layers");
  MemoryProblem bf16 = elements(MemoryOp::relu, 10);
  bf16.dtype = Dtype::bf16;
  EXPECT_THAT(cpu_backend("onednn").unsupported_reason(bf16).value_or(""), HasSubstr("bf16 memory-bound"));
}

}  // namespace
}  // namespace trainrate
