// Suites: every built-in suite loads valid problems of the kinds it promises, overrides apply,
// and user suite files (JSON and CSV) parse when good and fail with file, line or index and
// field named when bad.
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <set>
#include <string>

#include "backends/cuda/memory_rules.hpp"
#include "problems/network.hpp"
#include "problems/problem_json.hpp"
#include "problems/suite.hpp"

namespace trainrate {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kSuites = std::string(TRAINRATE_TEST_DATA_DIR) + "/suites/";

int count_gemms(const Suite& suite) {
  int count = 0;
  for (const Problem& p : suite.problems) count += std::holds_alternative<GemmProblem>(p) ? 1 : 0;
  return count;
}

std::set<std::string> kinds(const Suite& suite) {
  std::set<std::string> labels;
  for (const Problem& p : suite.problems) labels.insert(kind_label(p));
  return labels;
}

void expect_all_valid(const Suite& suite) {
  for (const Problem& p : suite.problems) EXPECT_EQ(validate(p), std::nullopt) << describe(p);
}

std::string load_error(const std::string& name, const SuiteParams& params = {}) {
  try {
    load_suite(name, params);
  } catch (const InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("<not an InputError> ") + e.what();
  }
  return "<no error>";
}

std::string load_error_text_of_json(const std::string& text) {
  try {
    parse_suite_json(text, "mem");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

std::string load_error_text_of_csv(const std::string& text) {
  try {
    parse_suite_csv(text, "mem.csv");
  } catch (const InputError& e) {
    return e.what();
  }
  return "<no error>";
}

// ---------------------------------------------------------------------------------------------
// Built-in suites

TEST(BuiltinSuites, EveryListedSuiteLoads) {
  ASSERT_FALSE(builtin_suites().empty());
  std::set<std::string> names;
  for (const auto& info : builtin_suites()) {
    SCOPED_TRACE(info.name);
    names.insert(info.name);
    EXPECT_FALSE(info.description.empty());
    const Suite suite = load_suite(info.name);
    EXPECT_EQ(suite.name, info.name);
    EXPECT_FALSE(suite.description.empty());
    EXPECT_FALSE(suite.problems.empty());
    expect_all_valid(suite);
  }
  for (const char* required : {"smoke", "quick", "square", "resnet50", "transformer", "deepbench-train"}) {
    EXPECT_TRUE(names.contains(required)) << required;
  }
}

TEST(BuiltinSuites, SmokeTouchesEveryKindTransposeAndLayout) {
  const Suite suite = load_suite("smoke");
  EXPECT_EQ(suite.name, "smoke");
  // 10 GEMMs and convolutions; 10 memory-bound ops in both passes, 4 with a forward pass only, and
  // the two optimizers' torch and keras op chains.
  EXPECT_EQ(suite.problems.size(), 38u);
  EXPECT_EQ(count_gemms(suite), 4);
  EXPECT_EQ(kinds(suite), (std::set<std::string>{"gemm", "conv-fwd", "conv-bwd-data", "conv-bwd-filter", "relu-fwd",
                                                 "relu-bwd", "gelu-fwd", "gelu-bwd", "bn-fwd", "bn-bwd", "ln-fwd",
                                                 "ln-bwd", "maxpool-fwd", "maxpool-bwd", "avgpool-fwd", "avgpool-bwd",
                                                 "softmax-fwd", "softmax-bwd", "xent-fwd", "xent-bwd", "embed-fwd",
                                                 "embed-bwd", "add", "bias-add", "sgd", "adamw", "sgd-torch",
                                                 "adamw-torch", "sgd-keras", "adamw-keras"}));
  std::set<std::string> transposes, layouts;
  bool batched = false, strided = false;
  double total_flops = 0;
  for (const Problem& p : suite.problems) {
    total_flops += flops(p);
    if (const auto* g = std::get_if<GemmProblem>(&p)) {
      transposes.insert(std::string(to_string(g->op_a)) + std::string(to_string(g->op_b)));
      batched = batched || g->batch > 1;
    } else if (const auto* c_ptr = std::get_if<ConvProblem>(&p)) {
      const auto& c = *c_ptr;
      layouts.insert(std::string(to_string(c.layout)));
      strided = strided || c.stride_h > 1;
    }
  }
  EXPECT_EQ(transposes, (std::set<std::string>{"NN", "NT", "TN", "TT"}));
  EXPECT_EQ(layouts, (std::set<std::string>{"NCHW", "NHWC"}));
  EXPECT_TRUE(batched);
  EXPECT_TRUE(strided);
  // "Runs in seconds": tiny problems only.
  EXPECT_LT(total_flops, 1e8);
  expect_all_valid(suite);
}

TEST(BuiltinSuites, QuickHasGemmsAndEveryConvPass) {
  const Suite suite = load_suite("quick");
  EXPECT_EQ(kinds(suite), (std::set<std::string>{"gemm", "conv-fwd", "conv-bwd-data", "conv-bwd-filter"}));
  EXPECT_EQ(count_gemms(suite), 5);
  EXPECT_EQ(suite.problems.size(), 14u);
}

TEST(BuiltinSuites, SquareDefaultsTo256Through8192) {
  const Suite suite = load_suite("square");
  std::vector<int64_t> sizes;
  for (const Problem& p : suite.problems) {
    const auto& g = std::get<GemmProblem>(p);
    EXPECT_EQ(g.m, g.n);
    EXPECT_EQ(g.m, g.k);
    EXPECT_EQ(g.op_a, Op::N);
    EXPECT_EQ(g.op_b, Op::N);
    EXPECT_EQ(g.batch, 1);
    sizes.push_back(g.m);
  }
  EXPECT_EQ(sizes, (std::vector<int64_t>{256, 512, 1024, 2048, 4096, 8192}));
}

TEST(BuiltinSuites, SquareHonoursMinAndMax) {
  auto sizes_of = [](SuiteParams params) {
    std::vector<int64_t> sizes;
    for (const Problem& p : load_suite("square", params).problems) sizes.push_back(std::get<GemmProblem>(p).m);
    return sizes;
  };
  EXPECT_EQ(sizes_of({.min_size = 100, .max_size = 1000}), (std::vector<int64_t>{100, 200, 400, 800}));
  EXPECT_EQ(sizes_of({.min_size = 64, .max_size = 64}), (std::vector<int64_t>{64}));
  EXPECT_EQ(sizes_of({.max_size = 1024}), (std::vector<int64_t>{256, 512, 1024}));
  EXPECT_EQ(sizes_of({.min_size = 4096}), (std::vector<int64_t>{4096, 8192}));
  EXPECT_THAT(load_error("square", {.min_size = 512, .max_size = 256}),
              StartsWith("square suite: need 1 <= min-size <= max-size (got 512 and 256)"));
  EXPECT_THAT(load_error("square", {.min_size = 0, .max_size = 256}), StartsWith("square suite"));
}

TEST(BuiltinSuites, DeepbenchTrainHas160GemmsAnd88DistinctConvs) {
  const Suite suite = load_suite("deepbench-train");
  EXPECT_EQ(count_gemms(suite), 160);
  EXPECT_EQ(int(suite.problems.size()) - count_gemms(suite), 88);
  std::set<std::string> names;
  for (const Problem& p : suite.problems) names.insert(describe(p));
  EXPECT_EQ(names.size(), suite.problems.size()) << "duplicate shapes in deepbench-train";
  // DeepBench lists forward NCHW fp32 convolutions; transposed GEMMs are among its entries.
  std::set<std::string> transposes;
  for (const Problem& p : suite.problems) {
    if (const auto* c = std::get_if<ConvProblem>(&p)) {
      EXPECT_EQ(c->pass, ConvPass::forward);
      EXPECT_EQ(c->layout, Layout::NCHW);
    } else {
      const auto& g = std::get<GemmProblem>(p);
      transposes.insert(std::string(to_string(g.op_a)) + std::string(to_string(g.op_b)));
    }
  }
  EXPECT_TRUE(transposes.contains("NN"));
  EXPECT_TRUE(transposes.contains("TN"));
  EXPECT_TRUE(transposes.contains("NT"));
  expect_all_valid(suite);
}

// resnet50 and transformer come from problems/network_suites.cpp; only their shape is checked here.
TEST(BuiltinSuites, Resnet50HasEveryConvPassAGemmAndItsMemoryBoundLayers) {
  const Suite suite = load_suite("resnet50");
  EXPECT_EQ(kinds(suite), (std::set<std::string>{"gemm", "conv-fwd", "conv-bwd-data", "conv-bwd-filter", "bn-fwd",
                                                 "bn-bwd", "relu-fwd", "relu-bwd", "add", "maxpool-fwd",
                                                 "maxpool-bwd", "avgpool-fwd", "avgpool-bwd", "bias-add", "xent-fwd",
                                                 "xent-bwd", "sgd"}));
  // Exactly what predict looks up for the network.
  EXPECT_EQ(suite.problems, training_problems(resnet50(16, 224)));
  expect_all_valid(suite);
  const Suite small = load_suite("resnet50", {.batch = 2, .image_size = 64});
  EXPECT_FALSE(small.problems.empty());
  expect_all_valid(small);
}

TEST(BuiltinSuites, TransformerIsGemmsAndItsMemoryBoundLayers) {
  const Suite suite = load_suite("transformer");
  EXPECT_GE(count_gemms(suite), 3);
  EXPECT_EQ(kinds(suite), (std::set<std::string>{"gemm", "ln-fwd", "ln-bwd", "gelu-fwd", "gelu-bwd", "softmax-fwd",
                                                 "softmax-bwd", "bias-add", "add", "embed-fwd", "embed-bwd",
                                                 "xent-fwd", "xent-bwd", "adamw"}));
  expect_all_valid(suite);
  const Suite small = load_suite("transformer", {.batch = 2, .seq_len = 16});
  EXPECT_FALSE(small.problems.empty());
  expect_all_valid(small);
}

TEST(BuiltinSuites, UnknownSuiteNamesItAndTheChoices) {
  const std::string error = load_error("no-such-suite");
  EXPECT_THAT(error, StartsWith("unknown suite 'no-such-suite'"));
  for (const auto& info : builtin_suites()) EXPECT_THAT(error, HasSubstr(info.name));
  EXPECT_THAT(error, HasSubstr(".json/.csv"));
}

// ---------------------------------------------------------------------------------------------
// Overrides

TEST(SuiteOverrides, DtypeAppliesToEveryProblem) {
  for (Dtype dtype : {Dtype::fp16, Dtype::bf16, Dtype::tf32}) {
    const Suite suite = load_suite("smoke", {.dtype = dtype});
    ASSERT_EQ(suite.problems.size(), load_suite("smoke").problems.size());
    for (const Problem& p : suite.problems) {
      EXPECT_EQ(std::visit([](const auto& x) { return x.dtype; }, p), dtype) << describe(p);
    }
  }
}

TEST(SuiteOverrides, LayoutAppliesToConvolutionsOnly) {
  const Suite base = load_suite("smoke");
  const Suite nhwc = load_suite("smoke", {.layout = Layout::NHWC});
  ASSERT_EQ(base.problems.size(), nhwc.problems.size());
  for (size_t i = 0; i < base.problems.size(); ++i) {
    if (!std::holds_alternative<ConvProblem>(base.problems[i])) {
      EXPECT_TRUE(nhwc.problems[i] == base.problems[i]);
    } else {
      ConvProblem expected = std::get<ConvProblem>(base.problems[i]);
      expected.layout = Layout::NHWC;
      EXPECT_TRUE(nhwc.problems[i] == Problem(expected)) << describe(nhwc.problems[i]);
    }
  }
}

TEST(SuiteOverrides, ApplyToSuiteFilesToo) {
  const Suite suite = load_suite(kSuites + "good.json", {.dtype = Dtype::fp16, .layout = Layout::NCHW});
  for (const Problem& p : suite.problems) {
    EXPECT_EQ(std::visit([](const auto& x) { return x.dtype; }, p), Dtype::fp16);
    if (const auto* c = std::get_if<ConvProblem>(&p)) {
      EXPECT_EQ(c->layout, Layout::NCHW);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON suite files

std::vector<Problem> expected_good_problems() {
  return {GemmProblem{.m = 96, .n = 64, .k = 80},
          GemmProblem{.m = 37, .n = 29, .k = 53, .op_a = Op::T, .op_b = Op::N, .dtype = Dtype::bf16, .batch = 3},
          ConvProblem{.n = 2, .c = 8, .h = 14, .w = 12, .k = 16, .r = 3, .s = 3, .pad_h = 1, .pad_w = 1,
                      .stride_h = 2, .stride_w = 2, .layout = Layout::NHWC, .pass = ConvPass::backward_filter}};
}

TEST(SuiteJson, GoodFileParsesExactly) {
  const Suite suite = load_suite(kSuites + "good.json");
  EXPECT_EQ(suite.name, "my-suite");
  EXPECT_EQ(suite.description, "a hand-written suite for the parser tests");
  ASSERT_EQ(suite.problems.size(), 4u);
  const auto expected = expected_good_problems();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(suite.problems[i] == expected[i]) << describe(suite.problems[i]);
  const ConvProblem last{.n = 1, .c = 3, .h = 9, .w = 9, .k = 4, .r = 3, .s = 1, .pad_h = 2, .pad_w = 0,
                         .dilation_h = 2, .dilation_w = 1, .pass = ConvPass::backward_data};
  EXPECT_TRUE(suite.problems[3] == Problem(last)) << describe(suite.problems[3]);
}

TEST(SuiteJson, NameDefaultsToTheFileStem) {
  const Suite suite = load_suite(kSuites + "good_unnamed.json");
  EXPECT_EQ(suite.name, "good_unnamed");
  EXPECT_EQ(suite.description, "");
  ASSERT_EQ(suite.problems.size(), 1u);
}

TEST(SuiteJson, RoundTripsThroughToJson) {
  // A suite written with to_json() reads back as the same problems.
  const Suite smoke = load_suite("smoke");
  nlohmann::json problems = nlohmann::json::array();
  for (const Problem& p : smoke.problems) problems.push_back(to_json(p));
  const Suite back = parse_suite_json(nlohmann::json{{"name", "smoke-copy"}, {"problems", problems}}.dump(), "mem");
  ASSERT_EQ(back.problems.size(), smoke.problems.size());
  for (size_t i = 0; i < back.problems.size(); ++i) EXPECT_TRUE(back.problems[i] == smoke.problems[i]);
}

TEST(SuiteJson, BrokenJsonNamesTheFile) {
  const std::string path = kSuites + "bad_broken.json";
  EXPECT_THAT(load_error(path), StartsWith(path + ": not valid JSON"));
}

TEST(SuiteJson, UnknownFieldNamesFileIndexAndField) {
  const std::string path = kSuites + "bad_unknown_field.json";
  EXPECT_EQ(load_error(path), path + ": problems[1]: unknown field 'alpha'");
  const std::string top = kSuites + "bad_unknown_top_field.json";
  EXPECT_THAT(load_error(top), StartsWith(top + ": unknown field 'problem'"));
}

TEST(SuiteJson, WrongTypeNamesFileIndexAndField) {
  const std::string path = kSuites + "bad_wrong_type.json";
  EXPECT_EQ(load_error(path), path + R"(: problems[1].h: expected an integer, got "9")");
}

TEST(SuiteJson, MissingFieldNamesFileIndexAndField) {
  const std::string path = kSuites + "bad_missing_field.json";
  EXPECT_EQ(load_error(path), path + ": problems[2]: missing required field 'n'");
}

TEST(SuiteJson, InvalidShapeNamesFileIndexAndField) {
  const std::string path = kSuites + "bad_invalid_shape.json";
  EXPECT_EQ(load_error(path), path + ": problems[0]: pad_h 3 must be smaller than the dilated filter height 3");
}

TEST(SuiteJson, EmptyOrMissingProblemsNamesTheFile) {
  EXPECT_EQ(load_error(kSuites + "bad_empty.json"), kSuites + "bad_empty.json: 'problems' is empty");
  EXPECT_EQ(load_error(kSuites + "bad_no_problems.json"), kSuites + "bad_no_problems.json: missing array field 'problems'");
  EXPECT_THAT(load_error_text_of_json("[1]"), StartsWith("mem: expected an object"));
}

TEST(SuiteJson, NonStringNameIsAnInputErrorNamingFileAndField) {
  // {"name": 5, ...}: a wrong type, which should read like every other wrong type (file and field
  // named, exit status 2 from the CLI), not escape as nlohmann's type_error.
  const std::string path = kSuites + "bad_name_type.json";
  const std::string error = load_error(path);
  EXPECT_THAT(error, StartsWith(path));
  EXPECT_THAT(error, HasSubstr("name"));
}

TEST(SuiteJson, MissingFileNamesIt) {
  const std::string path = kSuites + "does_not_exist.json";
  EXPECT_EQ(load_error(path), path + ": cannot open (No such file or directory)");
  EXPECT_EQ(load_error(kSuites + "does_not_exist.csv"), kSuites + "does_not_exist.csv: cannot open (No such file or directory)");
}

// ---------------------------------------------------------------------------------------------
// CSV suite files

TEST(SuiteCsv, GoodFileParsesExactly) {
  const Suite suite = load_suite(kSuites + "good.csv");
  EXPECT_EQ(suite.name, "good");
  ASSERT_EQ(suite.problems.size(), 4u);
  const auto expected = expected_good_problems();
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_TRUE(suite.problems[i] == expected[i]) << describe(suite.problems[i]);
  const ConvProblem last{.n = 1, .c = 3, .h = 9, .w = 9, .k = 4, .r = 3, .s = 1, .dilation_h = 2, .dilation_w = 2,
                         .pass = ConvPass::backward_data};
  EXPECT_TRUE(suite.problems[3] == Problem(last)) << describe(suite.problems[3]);
}

TEST(SuiteCsv, TooManyCellsNamesFileAndLine) {
  const std::string path = kSuites + "bad_too_many_cells.csv";
  EXPECT_EQ(load_error(path), path + ":3: 5 cells but the header has 4 columns");
}

TEST(SuiteCsv, WrongTypeNamesFileLineAndField) {
  // Line numbers count comments and blank lines: the bad row is the file's fifth line.
  const std::string path = kSuites + "bad_wrong_type.csv";
  EXPECT_EQ(load_error(path), path + R"(:5.n: expected an integer, got "two")");
}

TEST(SuiteCsv, UnknownColumnNamesFileLineAndField) {
  const std::string path = kSuites + "bad_unknown_column.csv";
  EXPECT_EQ(load_error(path), path + ":3: unknown field 'alpha'");
}

TEST(SuiteCsv, InvalidShapeNamesFileLineAndField) {
  const std::string path = kSuites + "bad_invalid_shape.csv";
  EXPECT_EQ(load_error(path), path + ":3: n must be >= 1 (got -2)");
}

TEST(SuiteCsv, HeaderOnlyHasNoProblems) {
  const std::string path = kSuites + "bad_header_only.csv";
  EXPECT_THAT(load_error(path), StartsWith(path + ": no problems"));
  EXPECT_THAT(load_error_text_of_csv(""), StartsWith("mem.csv: no problems"));
}

TEST(SuiteCsv, InlineTextWithWindowsLineEndings) {
  const Suite suite = parse_suite_csv("kind,m,n,k,op_b\r\ngemm,4,5,6,T\r\n", "inline.csv");
  ASSERT_EQ(suite.problems.size(), 1u);
  EXPECT_TRUE(suite.problems[0] == Problem(GemmProblem{.m = 4, .n = 5, .k = 6, .op_b = Op::T}));
  EXPECT_EQ(suite.name, "inline");
}

// docs/suites.md teaches the format by example: every ```json and ```csv block in it is a suite
// file that loads, and its first JSON and first CSV examples are the same suite written both ways.
TEST(SuiteDocs, EveryExampleInDocsSuitesMdLoads) {
  std::ifstream doc(std::string(TRAINRATE_SOURCE_DIR) + "/docs/suites.md");
  ASSERT_TRUE(doc) << "docs/suites.md";
  std::vector<std::pair<std::string, std::string>> blocks;  // (language, text)
  std::string line;
  std::optional<std::pair<std::string, std::string>> open_block;
  while (std::getline(doc, line)) {
    if (line.starts_with("```")) {
      if (open_block) {
        blocks.push_back(*open_block);
        open_block.reset();
      } else {
        open_block = std::pair{line.substr(3), std::string()};
      }
    } else if (open_block) {
      open_block->second += line + "\n";
    }
  }
  std::vector<std::vector<std::string>> json_suites, csv_suites;
  for (const auto& [language, text] : blocks) {
    if (language != "json" && language != "csv") continue;
    SCOPED_TRACE(text);
    std::vector<std::string> problems;
    const Suite suite = language == "json" ? parse_suite_json(text, "example.json") : parse_suite_csv(text, "example.csv");
    for (const Problem& p : suite.problems) problems.push_back(describe(p));
    (language == "json" ? json_suites : csv_suites).push_back(problems);
  }
  ASSERT_GE(json_suites.size(), 1u);
  ASSERT_GE(csv_suites.size(), 1u);
  EXPECT_EQ(json_suites.front(), csv_suites.front());
}

// The suite gpu-check runs under compute-sanitizer: it must take every custom CUDA kernel through
// its tails in every dtype, and stay tiny (racecheck runs kernels orders of magnitude slower).
TEST(SuiteFiles, CudaSanitizerCoversEveryKernelPathAndStaysTiny) {
  const Suite suite = load_suite(kSuites + "cuda-sanitizer.json", {});
  std::set<std::string> covered;
  for (const Problem& p : suite.problems) {
    const std::string dtype(to_string(dtype_of(p)));
    if (const auto* g = std::get_if<GemmProblem>(&p)) {
      covered.insert(fmt::format("gemm {}{} {}", to_string(g->op_a), to_string(g->op_b), dtype));
      if (g->m > 128 && g->m % 128 != 0 && g->n % 128 != 0) covered.insert("gemm tails past a 128 tile " + dtype);
      if (g->m % 2 == 1 && g->k % 2 == 1) covered.insert("gemm odd leading dimensions " + dtype);
      if (g->batch > 1) covered.insert("gemm batch " + dtype);
    } else if (const auto* c = std::get_if<ConvProblem>(&p)) {
      covered.insert(fmt::format("{} {} {}", kind_label(p), to_string(c->layout), dtype));
    } else {
      covered.insert(kind_label(p) + " " + dtype);
    }
    EXPECT_LE(flops(p), 2e7) << describe(p) << ": too large for racecheck";
  }
  std::vector<std::string> wanted;
  for (const char* dtype : {"fp32", "fp16", "bf16"}) {
    for (const char* ops : {"NN", "NT", "TN", "TT"}) wanted.push_back(fmt::format("gemm {} {}", ops, dtype));
    for (const char* what : {"gemm tails past a 128 tile ", "gemm odd leading dimensions ", "gemm batch "})
      wanted.push_back(what + std::string(dtype));
    for (const char* pass : {"conv-fwd", "conv-bwd-data", "conv-bwd-filter"})
      for (const char* layout : {"NCHW", "NHWC"}) wanted.push_back(fmt::format("{} {} {}", pass, layout, dtype));
  }
  // The smoke suite has every memory-bound kind in every pass: each one custom-cuda runs.
  for (const Problem& p : load_suite("smoke", SuiteParams{.kinds = {"memory"}}).problems) {
    if (!custom_cuda_memory_unsupported(std::get<MemoryProblem>(p))) wanted.push_back(kind_label(p) + " fp32");
  }
  for (const std::string& want : wanted) EXPECT_TRUE(covered.count(want)) << "cuda-sanitizer.json lacks " << want;
}

}  // namespace
}  // namespace trainrate
