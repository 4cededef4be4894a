#include "problems/problem_json.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <limits>
#include <map>
#include <set>

namespace trainrate {

namespace {

using nlohmann::json;

const std::set<std::string> kGemmFields{"kind", "m", "n", "k", "op_a", "op_b", "dtype", "batch"};
const std::set<std::string> kConvFields{"kind", "n", "c", "h", "w", "k", "r", "s", "pad_h", "pad_w", "stride_h",
                                        "stride_w", "dilation_h", "dilation_w", "pad", "stride", "dilation",
                                        "layout", "pass", "dtype"};

const std::set<std::string> kMemoryCommonFields{"kind", "op", "pass", "dtype"};
const std::set<std::string> kCollectiveFields{"kind", "op", "bytes", "ranks", "dtype"};

void reject_unknown_fields(const json& object, const std::set<std::string>& known, const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      throw InputError(fmt::format("{}: unknown field '{}'", where, key));
    }
  }
}

int64_t read_int(const json& object, const std::string& field, const std::string& where,
                 std::optional<int64_t> fallback) {
  if (!object.contains(field)) {
    if (fallback) return *fallback;
    throw InputError(fmt::format("{}: missing required field '{}'", where, field));
  }
  const json& value = object.at(field);
  if (!value.is_number_integer()) {
    throw InputError(fmt::format("{}.{}: expected an integer, got {}", where, field, json_excerpt(value)));
  }
  if (value.is_number_unsigned() && value.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
    throw InputError(fmt::format("{}.{}: {} is too large", where, field, json_excerpt(value)));
  }
  return value.get<int64_t>();
}

template <typename Enum>
Enum read_enum(const json& object, const std::string& field, const std::string& where, Enum fallback,
               std::optional<Enum> (*parse)(std::string_view), std::string_view choices) {
  if (!object.contains(field)) return fallback;
  const json& value = object.at(field);
  if (!value.is_string()) {
    throw InputError(fmt::format("{}.{}: expected a string ({}), got {}", where, field, choices, json_excerpt(value)));
  }
  const auto parsed = parse(value.get<std::string>());
  if (!parsed) {
    throw InputError(fmt::format("{}.{}: '{}' is not one of {}", where, field, value.get<std::string>(), choices));
  }
  return *parsed;
}

Dtype read_dtype(const json& object, const std::string& where) {
  return read_enum(object, "dtype", where, Dtype::fp32, &parse_dtype, "fp32, tf32, fp16, bf16");
}

GemmProblem gemm_from_json(const json& object, const std::string& where) {
  reject_unknown_fields(object, kGemmFields, where);
  GemmProblem g;
  g.m = read_int(object, "m", where, std::nullopt);
  g.n = read_int(object, "n", where, std::nullopt);
  g.k = read_int(object, "k", where, std::nullopt);
  g.batch = read_int(object, "batch", where, 1);
  g.op_a = read_enum(object, "op_a", where, Op::N, &parse_op, "N, T");
  g.op_b = read_enum(object, "op_b", where, Op::N, &parse_op, "N, T");
  g.dtype = read_dtype(object, where);
  return g;
}

ConvProblem conv_from_json(const json& object, const std::string& where) {
  reject_unknown_fields(object, kConvFields, where);
  ConvProblem c;
  c.n = read_int(object, "n", where, std::nullopt);
  c.c = read_int(object, "c", where, std::nullopt);
  c.h = read_int(object, "h", where, std::nullopt);
  c.w = read_int(object, "w", where, std::nullopt);
  c.k = read_int(object, "k", where, std::nullopt);
  c.r = read_int(object, "r", where, std::nullopt);
  c.s = read_int(object, "s", where, c.r);
  // "pad", "stride", "dilation" set both directions; the _h/_w forms override one.
  const int64_t pad = read_int(object, "pad", where, 0);
  const int64_t stride = read_int(object, "stride", where, 1);
  const int64_t dilation = read_int(object, "dilation", where, 1);
  c.pad_h = read_int(object, "pad_h", where, pad);
  c.pad_w = read_int(object, "pad_w", where, pad);
  c.stride_h = read_int(object, "stride_h", where, stride);
  c.stride_w = read_int(object, "stride_w", where, stride);
  c.dilation_h = read_int(object, "dilation_h", where, dilation);
  c.dilation_w = read_int(object, "dilation_w", where, dilation);
  c.layout = read_enum(object, "layout", where, Layout::NCHW, &parse_layout, "NCHW, NHWC");
  c.pass = read_enum(object, "pass", where, ConvPass::forward, &parse_pass,
                     "forward, backward_data, backward_filter");
  c.dtype = read_dtype(object, where);
  return c;
}

MemoryProblem memory_from_json(const json& object, const std::string& where) {
  MemoryProblem m;
  m.op = read_enum(object, "op", where, MemoryOp::relu, &parse_memory_op,
                   "relu, gelu, add, bias_add, batchnorm, layernorm, maxpool, avgpool, softmax, cross_entropy, "
                   "embedding, sgd_momentum, adamw");
  if (!object.contains("op")) throw InputError(fmt::format("{}: missing required field 'op'", where));
  std::set<std::string> known = kMemoryCommonFields;
  for (std::string_view field : memory_fields(m.op)) known.emplace(field);
  if (is_optimizer(m.op)) known.emplace("form");
  for (const auto& [key, value] : object.items()) {
    if (!known.contains(key)) {
      throw InputError(fmt::format("{}: unknown field '{}' for op {}", where, key, to_string(m.op)));
    }
  }
  if (object.contains("pass")) {
    const json& pass = object.at("pass");
    if (!pass.is_string() || (pass != "forward" && pass != "backward")) {
      throw InputError(fmt::format("{}.pass: expected \"forward\" or \"backward\", got {}", where, json_excerpt(pass)));
    }
    m.backward = pass == "backward";
  }
  for (std::string_view name : memory_fields(m.op)) {
    const std::string field(name);
    if (field == "scale") {
      if (!object.contains(field)) continue;
      if (!object.at(field).is_number()) {
        throw InputError(fmt::format("{}.scale: expected a number, got {}", where, json_excerpt(object.at(field))));
      }
      m.scale = object.at(field).get<double>();
      continue;
    }
    // pad and causal_seq default to 0 and stride to 1; every other shape field is required.
    const bool has_default = field == "pad" || field == "causal_seq" || field == "stride";
    const int64_t value = has_default ? read_int(object, field, where, field == "stride" ? 1 : 0)
                                      : read_int(object, field, where, std::nullopt);
    if (field == "elements") m.elements = value;
    if (field == "rows") m.rows = value;
    if (field == "cols") m.cols = value;
    if (field == "n") m.n = value;
    if (field == "c") m.c = value;
    if (field == "h") m.h = value;
    if (field == "w") m.w = value;
    if (field == "window") m.window = value;
    if (field == "stride") m.stride = value;
    if (field == "pad") m.pad = value;
    if (field == "vocab") m.vocab = value;
    if (field == "causal_seq") m.causal_seq = value;
  }
  m.form = read_enum(object, "form", where, UpdateForm::fused, &parse_update_form, "fused, torch, keras");
  m.dtype = read_dtype(object, where);
  return m;
}

// Every field but dtype is required: a results file or suite says how many ranks it expects, so a
// run with another count is refused instead of silently measuring something else.
CollectiveProblem collective_from_json(const json& object, const std::string& where) {
  reject_unknown_fields(object, kCollectiveFields, where);
  if (!object.contains("op")) throw InputError(fmt::format("{}: missing required field 'op'", where));
  CollectiveProblem c;
  c.op = read_enum(object, "op", where, c.op, &parse_collective_op, "all-reduce, reduce-scatter, all-gather, broadcast");
  c.bytes = read_int(object, "bytes", where, std::nullopt);
  c.ranks = read_int(object, "ranks", where, std::nullopt);
  c.dtype = read_dtype(object, where);
  return c;
}

json memory_to_json(const MemoryProblem& m) {
  json object{{"kind", "memory"}, {"op", std::string(to_string(m.op))},
              {"pass", m.backward ? "backward" : "forward"}, {"dtype", std::string(to_string(m.dtype))}};
  const std::map<std::string_view, json> values{
      {"elements", m.elements}, {"rows", m.rows},     {"cols", m.cols},   {"n", m.n},
      {"c", m.c},               {"h", m.h},           {"w", m.w},         {"window", m.window},
      {"stride", m.stride},     {"pad", m.pad},       {"vocab", m.vocab}, {"scale", m.scale},
      {"causal_seq", m.causal_seq}};
  for (std::string_view field : memory_fields(m.op)) object[std::string(field)] = values.at(field);
  if (m.form != UpdateForm::fused) object["form"] = std::string(to_string(m.form));
  return object;
}

}  // namespace

std::string json_excerpt(const json& value) {
  constexpr size_t kMaxChars = 80;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars - 3) + "...";
  return text;
}

json to_json(const Problem& problem) {
  if (const auto* m = std::get_if<MemoryProblem>(&problem)) return memory_to_json(*m);
  if (const auto* c = std::get_if<CollectiveProblem>(&problem)) {
    return json{{"kind", "collective"}, {"op", std::string(to_string(c->op))}, {"bytes", c->bytes},
                {"ranks", c->ranks}, {"dtype", std::string(to_string(c->dtype))}};
  }
  if (const auto* g = std::get_if<GemmProblem>(&problem)) {
    return json{{"kind", "gemm"},   {"m", g->m},
                {"n", g->n},        {"k", g->k},
                {"op_a", std::string(to_string(g->op_a))}, {"op_b", std::string(to_string(g->op_b))},
                {"dtype", std::string(to_string(g->dtype))}, {"batch", g->batch}};
  }
  const auto& c = std::get<ConvProblem>(problem);
  return json{{"kind", "conv"},
              {"n", c.n}, {"c", c.c}, {"h", c.h}, {"w", c.w}, {"k", c.k}, {"r", c.r}, {"s", c.s},
              {"pad_h", c.pad_h}, {"pad_w", c.pad_w}, {"stride_h", c.stride_h}, {"stride_w", c.stride_w},
              {"dilation_h", c.dilation_h}, {"dilation_w", c.dilation_w},
              {"layout", std::string(to_string(c.layout))}, {"pass", std::string(to_string(c.pass))},
              {"dtype", std::string(to_string(c.dtype))}};
}

Problem problem_from_json(const json& object, const std::string& where) {
  if (!object.is_object()) {
    throw InputError(fmt::format("{}: expected an object, got {}", where, json_excerpt(object)));
  }
  if (!object.contains("kind") || !object.at("kind").is_string()) {
    throw InputError(fmt::format("{}: missing field 'kind' (\"gemm\", \"conv\", \"memory\" or \"collective\")", where));
  }
  const std::string kind = object.at("kind").get<std::string>();
  Problem problem;
  if (kind == "gemm") {
    problem = gemm_from_json(object, where);
  } else if (kind == "conv") {
    problem = conv_from_json(object, where);
  } else if (kind == "memory") {
    problem = memory_from_json(object, where);
  } else if (kind == "collective") {
    problem = collective_from_json(object, where);
  } else {
    throw InputError(fmt::format("{}.kind: '{}' is not one of gemm, conv, memory, collective", where, kind));
  }
  if (auto error = validate(problem)) throw InputError(fmt::format("{}: {}", where, *error));
  return problem;
}

namespace {

// nlohmann's message without its own tag, which names nothing a user wrote.
std::string_view parser_message(const nlohmann::json::exception& e) {
  std::string_view message = e.what();
  if (const auto tag_end = message.find("] "); message.starts_with("[json.") && tag_end != message.npos) {
    message.remove_prefix(tag_end + 2);
  }
  return message;
}

}  // namespace

nlohmann::json parse_json_text(const std::string& text, const std::string& where) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(fmt::format("{}: empty, expected JSON", where));
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not valid JSON: {}", where, parser_message(e)));
  }
}

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot open ({})", path.string(), std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

nlohmann::json read_json_file(const std::filesystem::path& path, std::string_view what) {
  const std::string text = read_text_file(path);
  if (text.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw InputError(fmt::format("{}: not a {} (the file is empty)", path.string(), what));
  }
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw InputError(fmt::format("{}: not a {} (not valid JSON: {})", path.string(), what, parser_message(e)));
  }
}

}  // namespace trainrate
