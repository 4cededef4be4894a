#include "problems/suite.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include <cerrno>
#include <cstdlib>
#include <sstream>

#include "problems/deepbench_shapes.hpp"
#include "problems/problem_json.hpp"
#include "problems/network_suites.hpp"

namespace trainrate {

namespace {

using nlohmann::json;

Suite smoke_suite() {
  // Small, odd shapes that touch every problem kind and transpose in well under a second.
  Suite suite{"smoke", "tiny GEMMs, convolutions and memory-bound layers of every kind, for tests and quick checks", {}};
  suite.problems.push_back(GemmProblem{.m = 96, .n = 64, .k = 80});
  suite.problems.push_back(GemmProblem{.m = 37, .n = 29, .k = 53, .op_a = Op::T, .op_b = Op::N});
  suite.problems.push_back(GemmProblem{.m = 64, .n = 33, .k = 17, .op_a = Op::N, .op_b = Op::T});
  suite.problems.push_back(GemmProblem{.m = 31, .n = 47, .k = 65, .op_a = Op::T, .op_b = Op::T, .batch = 3});
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    suite.problems.push_back(ConvProblem{.n = 2, .c = 8, .h = 14, .w = 14, .k = 16, .r = 3, .s = 3, .pad_h = 1,
                                         .pad_w = 1, .pass = pass});
    suite.problems.push_back(ConvProblem{.n = 2, .c = 6, .h = 11, .w = 13, .k = 10, .r = 3, .s = 3, .pad_h = 1,
                                         .pad_w = 1, .stride_h = 2, .stride_w = 2, .layout = Layout::NHWC,
                                         .pass = pass});
  }
  // Odd shapes for each memory-bound op; pooling with padding and a partial last window.
  for (bool backward : {false, true}) {
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::relu, .backward = backward, .elements = 1001});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::gelu, .backward = backward, .elements = 999});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::batchnorm, .backward = backward, .n = 3, .c = 5, .h = 7, .w = 9});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::layernorm, .backward = backward, .rows = 13, .cols = 67});
    for (MemoryOp pool : {MemoryOp::maxpool, MemoryOp::avgpool}) {
      suite.problems.push_back(MemoryProblem{.op = pool, .backward = backward, .n = 2, .c = 3, .h = 11, .w = 10,
                                             .window = 3, .stride = 2, .pad = 1});
    }
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::softmax, .backward = backward, .rows = 24, .cols = 37});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::softmax, .backward = backward, .rows = 24, .cols = 12,
                                           .scale = 0.125, .causal_seq = 12});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::cross_entropy, .backward = backward, .rows = 9, .cols = 101});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::embedding, .backward = backward, .rows = 33, .cols = 20,
                                           .vocab = 50});
  }
  suite.problems.push_back(MemoryProblem{.op = MemoryOp::add, .elements = 1003});
  suite.problems.push_back(MemoryProblem{.op = MemoryOp::bias_add, .rows = 17, .cols = 31});
  suite.problems.push_back(MemoryProblem{.op = MemoryOp::sgd_momentum, .elements = 1005});
  suite.problems.push_back(MemoryProblem{.op = MemoryOp::adamw, .elements = 1007});
  for (UpdateForm form : {UpdateForm::torch, UpdateForm::keras}) {
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::sgd_momentum, .elements = 1009, .form = form});
    suite.problems.push_back(MemoryProblem{.op = MemoryOp::adamw, .elements = 1011, .form = form});
  }
  return suite;
}

Suite quick_suite() {
  // A representative handful, enough to see R for each kind in about a minute on two CPU cores:
  // square GEMMs, one transposed, a BERT feed-forward GEMM, and ResNet-50 stage-1/2 convs.
  Suite suite{"quick", "representative GEMMs and ResNet-50 convs in all three passes", {}};
  for (int64_t size : {512, 1024, 2048}) suite.problems.push_back(GemmProblem{.m = size, .n = size, .k = size});
  suite.problems.push_back(GemmProblem{.m = 1024, .n = 1024, .k = 1024, .op_a = Op::T, .op_b = Op::N});
  suite.problems.push_back(GemmProblem{.m = 3072, .n = 512, .k = 768});
  for (ConvPass pass : {ConvPass::forward, ConvPass::backward_data, ConvPass::backward_filter}) {
    suite.problems.push_back(ConvProblem{.n = 4, .c = 64, .h = 56, .w = 56, .k = 64, .r = 3, .s = 3, .pad_h = 1,
                                         .pad_w = 1, .pass = pass});
    suite.problems.push_back(ConvProblem{.n = 4, .c = 256, .h = 56, .w = 56, .k = 64, .r = 1, .s = 1, .pass = pass});
    suite.problems.push_back(ConvProblem{.n = 4, .c = 128, .h = 28, .w = 28, .k = 128, .r = 3, .s = 3, .pad_h = 1,
                                         .pad_w = 1, .layout = Layout::NHWC, .pass = pass});
  }
  return suite;
}

Suite square_suite(const SuiteParams& params) {
  const int64_t min_size = params.min_size.value_or(256), max_size = params.max_size.value_or(8192);
  if (min_size < 1 || max_size < min_size) {
    throw InputError(fmt::format("square suite: need 1 <= min-size <= max-size (got {} and {})", min_size, max_size));
  }
  Suite suite{"square", fmt::format("square GEMM NN from {} to {}, doubling", min_size, max_size), {}};
  for (int64_t size = min_size; size <= max_size; size *= 2) {
    suite.problems.push_back(GemmProblem{.m = size, .n = size, .k = size});
    if (size > max_size / 2) break;  // the next doubling would pass max_size (or overflow)
  }
  return suite;
}

// nccl-tests' sweep: every collective, message sizes doubling. Reduce-scatter and all-gather sizes
// are rounded down to whole blocks per rank, as nccl-tests rounds its counts.
Suite collectives_suite(const SuiteParams& params) {
  const int64_t min_bytes = params.min_size.value_or(4096), max_bytes = params.max_size.value_or(int64_t(1) << 30);
  const int64_t ranks = params.ranks.value_or(2);
  if (min_bytes < 4 || max_bytes < min_bytes) {
    throw InputError(fmt::format("collectives suite: need 4 <= min-size <= max-size bytes (got {} and {})", min_bytes,
                                 max_bytes));
  }
  if (ranks < 1) throw InputError(fmt::format("collectives suite: ranks must be >= 1 (got {})", ranks));
  Suite suite{"collectives",
              fmt::format("all-reduce, reduce-scatter, all-gather, broadcast over {} ranks, {} to {} doubling", ranks,
                          format_message_size(min_bytes), format_message_size(max_bytes)),
              {}};
  std::vector<Dtype> dtypes{Dtype::fp32, Dtype::bf16};
  if (params.dtype) dtypes = {*params.dtype};
  for (CollectiveOp op : {CollectiveOp::all_reduce, CollectiveOp::reduce_scatter, CollectiveOp::all_gather,
                          CollectiveOp::broadcast}) {
    for (Dtype dtype : dtypes) {
      const bool split = op == CollectiveOp::reduce_scatter || op == CollectiveOp::all_gather;
      const int64_t unit = storage_bytes(dtype) * (split ? ranks : 1);
      for (int64_t size = min_bytes; size <= max_bytes; size *= 2) {
        suite.problems.push_back(CollectiveProblem{op, std::max(unit, size / unit * unit), ranks, dtype});
        if (size > max_bytes / 2) break;  // the next doubling would pass max_bytes (or overflow)
      }
    }
  }
  return suite;
}

Suite deepbench_suite() {
  Suite suite{"deepbench-train",
              "DeepBench training GEMMs and convolutions (baidu-research/DeepBench, training sets)", {}};
  for (const GemmProblem& g : deepbench_train_gemms()) suite.problems.push_back(g);
  for (const ConvProblem& c : deepbench_train_convs()) suite.problems.push_back(c);
  return suite;
}

void keep_kinds(Suite& suite, const std::vector<std::string>& kinds) {
  if (kinds.empty()) return;
  std::erase_if(suite.problems, [&](const Problem& problem) {
    const std::string label = kind_label(problem);
    return std::none_of(kinds.begin(), kinds.end(),
                        [&](const std::string& k) { return label.starts_with(k) || family_of(problem) == k; });
  });
  if (suite.problems.empty()) {
    throw InputError(fmt::format("suite {} has no problems of kind {} (kinds: gemm, conv, conv-fwd, conv-bwd-data, "
                                 "conv-bwd-filter, memory, relu, gelu, add, bias-add, bn, ln, maxpool, avgpool, "
                                 "softmax, xent, embed, sgd, adamw (-torch, -keras: their op chains), each with -fwd or -bwd where it has both; collective, all-reduce, "
                                 "reduce-scatter, all-gather, broadcast)",
                                 suite.name, fmt::join(kinds, ", ")));
  }
}

void apply_overrides(Suite& suite, const SuiteParams& params) {
  for (Problem& problem : suite.problems) {
    std::visit([&](auto& p) { p.dtype = params.dtype.value_or(p.dtype); }, problem);
    if (auto* conv = std::get_if<ConvProblem>(&problem)) conv->layout = params.layout.value_or(conv->layout);
  }
}

std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  std::istringstream stream(line);
  while (std::getline(stream, cell, ',')) {
    const auto first = cell.find_first_not_of(" \t\r");
    const auto last = cell.find_last_not_of(" \t\r");
    cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
  }
  if (!line.empty() && line.back() == ',') cells.emplace_back();
  return cells;
}

json csv_cell_value(const std::string& cell) {
  char* end = nullptr;
  errno = 0;
  const long long number = std::strtoll(cell.c_str(), &end, 10);
  if (errno == 0 && end && *end == '\0') return json(int64_t(number));
  // A decimal such as a softmax scale ("0.125"); integers stay integers above.
  errno = 0;
  const double real = std::strtod(cell.c_str(), &end);
  if (errno == 0 && end && *end == '\0' && end != cell.c_str()) return json(real);
  return json(cell);
}

}  // namespace

const std::vector<BuiltinSuiteInfo>& builtin_suites() {
  static const std::vector<BuiltinSuiteInfo> suites{
      {"quick", "representative GEMMs and ResNet-50 convs in all three passes (the default)"},
      {"smoke", "tiny GEMMs, convolutions and memory-bound layers of every kind (seconds)"},
      {"square", "square GEMM NN, 256 to 8192 doubling (--min-size, --max-size)"},
      {"resnet50", "every distinct ResNet-50 layer in all three passes, its FC, and its batch norms, ReLUs, adds, "
                   "pools and SGD step (--batch, --image-size)"},
      {"transformer", "one BERT-base encoder layer: its GEMMs forward and both backward, and its norms, GELU, "
                      "softmax, adds, embedding, loss and AdamW step (--batch, --seq-len)"},
      {"deepbench-train", "DeepBench's public training GEMM and convolution shapes"},
      {"collectives", "all-reduce, reduce-scatter, all-gather and broadcast, fp32 and bf16, 4 KiB to 1 GiB doubling "
                      "(--min-size, --max-size in bytes; run under mpirun, docs/cluster.md)"},
  };
  return suites;
}

Suite parse_suite_json(const std::string& text, const std::string& where) {
  const json parsed = parse_json_text(text, where);
  if (!parsed.is_object()) throw InputError(fmt::format("{}: expected an object with a \"problems\" array", where));
  for (const auto& [key, value] : parsed.items()) {
    if (key != "name" && key != "description" && key != "problems") {
      throw InputError(fmt::format("{}: unknown field '{}' (expected name, description, problems)", where, key));
    }
  }
  if (!parsed.contains("problems") || !parsed.at("problems").is_array()) {
    throw InputError(fmt::format("{}: missing array field 'problems'", where));
  }
  for (const char* field : {"name", "description"}) {
    if (parsed.contains(field) && !parsed.at(field).is_string()) {
      throw InputError(fmt::format("{}: field '{}' must be a string, got {}", where, field, json_excerpt(parsed.at(field))));
    }
  }
  Suite suite;
  suite.name = parsed.value("name", std::filesystem::path(where).stem().string());
  suite.description = parsed.value("description", "");
  const json& problems = parsed.at("problems");
  for (size_t i = 0; i < problems.size(); ++i) {
    suite.problems.push_back(problem_from_json(problems.at(i), fmt::format("{}: problems[{}]", where, i)));
  }
  if (suite.problems.empty()) throw InputError(fmt::format("{}: 'problems' is empty", where));
  return suite;
}

Suite parse_suite_csv(const std::string& text, const std::string& where) {
  std::istringstream lines(text);
  std::string line;
  std::vector<std::string> header;
  Suite suite{std::filesystem::path(where).stem().string(), "", {}};
  int line_number = 0;
  while (std::getline(lines, line)) {
    ++line_number;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') continue;
    const std::vector<std::string> cells = split_csv_line(line);
    if (header.empty()) {
      header = cells;
      continue;
    }
    const std::string at = fmt::format("{}:{}", where, line_number);
    if (cells.size() > header.size()) {
      throw InputError(fmt::format("{}: {} cells but the header has {} columns", at, cells.size(), header.size()));
    }
    json object = json::object();
    for (size_t i = 0; i < cells.size(); ++i) {
      if (!cells[i].empty()) object[header[i]] = csv_cell_value(cells[i]);
    }
    suite.problems.push_back(problem_from_json(object, at));
  }
  if (suite.problems.empty()) throw InputError(fmt::format("{}: no problems (expected a header row, then one row per problem)", where));
  return suite;
}

Suite load_suite(const std::string& name_or_path, const SuiteParams& params) {
  Suite suite;
  if (name_or_path.ends_with(".json")) {
    suite = parse_suite_json(read_text_file(name_or_path), name_or_path);
  } else if (name_or_path.ends_with(".csv")) {
    suite = parse_suite_csv(read_text_file(name_or_path), name_or_path);
  } else if (name_or_path == "quick") {
    suite = quick_suite();
  } else if (name_or_path == "smoke") {
    suite = smoke_suite();
  } else if (name_or_path == "square") {
    suite = square_suite(params);
  } else if (name_or_path == "collectives") {
    suite = collectives_suite(params);
  } else if (name_or_path == "deepbench-train") {
    suite = deepbench_suite();
  } else if (name_or_path == "resnet50") {
    suite = resnet50_suite(params);
  } else if (name_or_path == "transformer") {
    suite = transformer_suite(params);
  } else {
    std::string names;
    for (const auto& info : builtin_suites()) names += (names.empty() ? "" : ", ") + info.name;
    throw InputError(fmt::format("unknown suite '{}': choose one of {}, or a .json/.csv suite file", name_or_path, names));
  }
  apply_overrides(suite, params);
  keep_kinds(suite, params.kinds);
  for (size_t i = 0; i < suite.problems.size(); ++i) {
    if (auto error = validate(suite.problems[i])) {
      throw InputError(fmt::format("suite {}: problem {} ({}): {}", suite.name, i, describe(suite.problems[i]), *error));
    }
  }
  return suite;
}

}  // namespace trainrate
