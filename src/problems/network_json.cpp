// User networks from JSON. Every error names the file, the layer and the field, because the
// person reading it has the file open and wants to jump to the line.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "problems/network.hpp"
#include "problems/problem_json.hpp"

namespace trainrate {

namespace {

using nlohmann::json;

const std::set<std::string> kTopFields{"name", "tokens_per_sample", "optimizer", "other_parameters",
                                       "other_parameters_note", "layers"};
const std::set<std::string> kCommonFields{"name", "kind", "repeat", "input_grad"};
const std::set<std::string> kConvFields{"c", "h", "w", "k", "r", "s", "pad", "stride", "bias"};
const std::set<std::string> kLinearFields{"tokens", "in", "out", "bias", "tied_weights"};
const std::set<std::string> kAttentionFields{"heads", "seq_len", "head_dim"};

// "net.json: layers[2]" + "k" → "net.json: layers[2].k"; at the top level "net.json: name".
std::string field_path(const std::string& where, const std::string& field) {
  return where.find(": ") == std::string::npos ? where + ": " + field : where + "." + field;
}

void reject_unknown(const json& object, const std::set<std::string>& a, const std::set<std::string>& b,
                    const std::string& where) {
  for (const auto& [key, value] : object.items()) {
    if (!a.contains(key) && !b.contains(key)) throw InputError(fmt::format("{}: unknown field '{}'", where, key));
  }
}

// A positive integer field; `fallback` empty means required. `min` is 0 for counts that may be zero.
int64_t read_count(const json& object, const std::string& field, const std::string& where,
                   std::optional<int64_t> fallback, int64_t min = 1) {
  if (!object.contains(field)) {
    if (fallback) return *fallback;
    throw InputError(fmt::format("{}: missing required field '{}'", where, field));
  }
  const json& value = object.at(field);
  if (!value.is_number_integer()) {
    throw InputError(fmt::format("{}: expected an integer, got {}", field_path(where, field), json_excerpt(value)));
  }
  const auto number = value.get<int64_t>();
  if (number < min) throw InputError(fmt::format("{}: must be >= {} (got {})", field_path(where, field), min, number));
  return number;
}

bool read_bool(const json& object, const std::string& field, const std::string& where, bool fallback) {
  if (!object.contains(field)) return fallback;
  const json& value = object.at(field);
  if (!value.is_boolean()) throw InputError(fmt::format("{}: expected true or false, got {}", field_path(where, field), json_excerpt(value)));
  return value.get<bool>();
}

std::string read_string(const json& object, const std::string& field, const std::string& where) {
  if (!object.contains(field)) throw InputError(fmt::format("{}: missing required field '{}'", where, field));
  const json& value = object.at(field);
  if (!value.is_string() || value.get<std::string>().empty()) {
    throw InputError(fmt::format("{}: expected a non-empty string, got {}", field_path(where, field), json_excerpt(value)));
  }
  return value.get<std::string>();
}

// A memory layer is a memory problem of one sample: the problem reader checks its op and fields;
// the batch axis, dtype and passes are the lowering's.
MemoryLayer read_memory_layer(const json& object, const std::string& where) {
  json problem = json::object();
  for (const auto& [key, value] : object.items()) {
    if (kCommonFields.contains(key) || key == "residual") continue;
    if (key == "n" || key == "pass" || key == "dtype") {
      throw InputError(fmt::format("{}: '{}' is not a layer field (shapes are per sample; the batch, dtype and passes "
                                   "come from the lowering)",
                                   field_path(where, key), key));
    }
    problem[key] = value;
  }
  problem["kind"] = "memory";
  if (object.contains("op") && object.at("op").is_string()) {
    if (auto op = parse_memory_op(object.at("op").get<std::string>())) {
      const auto& fields = memory_fields(*op);
      if (std::find(fields.begin(), fields.end(), "n") != fields.end()) problem["n"] = 1;
    }
  }
  MemoryLayer layer{std::get<MemoryProblem>(problem_from_json(problem, where)), read_bool(object, "residual", where, false)};
  const MemoryOp read_op = layer.per_sample.op;
  if (read_op == MemoryOp::sgd_momentum || read_op == MemoryOp::adamw) {
    throw InputError(fmt::format("{}: the optimizer step is not a layer: set the network's \"optimizer\" "
                                 "(sgd, adamw or none)",
                                 field_path(where, "op")));
  }
  if (layer.residual && read_op != MemoryOp::add) {
    throw InputError(fmt::format("{}: only an add can be residual (got op {})", field_path(where, "residual"),
                                 to_string(read_op)));
  }
  return layer;
}

LayerShape read_shape(const json& object, const std::string& kind, const std::string& where) {
  if (kind == "conv") {
    reject_unknown(object, kCommonFields, kConvFields, where);
    ConvLayer conv;
    conv.c = read_count(object, "c", where, {});
    conv.h = read_count(object, "h", where, {});
    conv.w = read_count(object, "w", where, {});
    conv.k = read_count(object, "k", where, {});
    conv.r = read_count(object, "r", where, {});
    conv.s = read_count(object, "s", where, conv.r);
    conv.pad = read_count(object, "pad", where, 0, 0);
    conv.stride = read_count(object, "stride", where, 1);
    conv.bias = read_bool(object, "bias", where, false);
    return conv;
  }
  if (kind == "linear") {
    reject_unknown(object, kCommonFields, kLinearFields, where);
    LinearLayer linear;
    linear.tokens = read_count(object, "tokens", where, 1);
    linear.in_features = read_count(object, "in", where, {});
    linear.out_features = read_count(object, "out", where, {});
    linear.bias = read_bool(object, "bias", where, true);
    linear.tied_weights = read_bool(object, "tied_weights", where, false);
    return linear;
  }
  if (kind == "attention") {
    reject_unknown(object, kCommonFields, kAttentionFields, where);
    return AttentionLayer{read_count(object, "heads", where, {}), read_count(object, "seq_len", where, {}),
                          read_count(object, "head_dim", where, {})};
  }
  if (kind == "memory") return read_memory_layer(object, where);
  throw InputError(fmt::format("{}: '{}' is not one of conv, linear, attention, memory", field_path(where, "kind"), kind));
}

// Files without the field train with SGD, the optimizer most CNN recipes use.
Optimizer read_optimizer(const json& root, const std::string& where) {
  if (!root.contains("optimizer")) return Optimizer::sgd;
  const json& value = root.at("optimizer");
  std::optional<Optimizer> optimizer;
  if (value.is_string()) optimizer = parse_optimizer(value.get<std::string>());
  if (!optimizer) {
    throw InputError(fmt::format("{}: expected \"sgd\", \"adamw\" or \"none\", got {}", field_path(where, "optimizer"),
                                 json_excerpt(value)));
  }
  return *optimizer;
}

Layer read_layer(const json& object, const std::string& where) {
  if (!object.is_object()) throw InputError(fmt::format("{}: expected an object, got {}", where, json_excerpt(object)));
  Layer layer;
  layer.name = read_string(object, "name", where);
  layer.shape = read_shape(object, read_string(object, "kind", where), where);
  layer.repeat = read_count(object, "repeat", where, 1);
  layer.input_grad = read_bool(object, "input_grad", where, true);
  // A shape that lowers to an invalid problem (filter larger than the padded input, ...) is the
  // file's fault: say which layer, with the problem's own message.
  for (const LayerPass& pass : lower_layer(layer, 1)) {
    if (auto error = validate(pass.problem)) throw InputError(fmt::format("{}: {}", where, *error));
  }
  return layer;
}

}  // namespace

Network network_from_json_text(const std::string& text, const std::string& where, int64_t batch) {
  const json root = parse_json_text(text, where);
  if (!root.is_object()) throw InputError(fmt::format("{}: expected a JSON object at the top", where));
  reject_unknown(root, kTopFields, {}, where);
  Network net;
  net.name = read_string(root, "name", where);
  net.batch = batch;
  net.tokens_per_sample = read_count(root, "tokens_per_sample", where, 1);
  net.optimizer = read_optimizer(root, where);
  net.other_parameters = read_count(root, "other_parameters", where, 0, 0);
  if (root.contains("other_parameters_note")) net.other_parameters_note = read_string(root, "other_parameters_note", where);
  if (!root.contains("layers")) throw InputError(fmt::format("{}: missing required field 'layers'", where));
  const json& layers = root.at("layers");
  if (!layers.is_array() || layers.empty()) {
    throw InputError(fmt::format("{}: expected a non-empty array of layers", field_path(where, "layers")));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    net.layers.push_back(read_layer(layers[i], fmt::format("{}: layers[{}]", where, i)));
  }
  return net;
}

Network read_network_file(const std::filesystem::path& path, int64_t batch) {
  return network_from_json_text(read_text_file(path), path.string(), batch);
}

Network load_network(const std::string& name, const std::string& file, const NetworkSize& size) {
  if (!file.empty()) return read_network_file(file, size.batch);
  if (name.empty()) throw InputError("give --network (resnet50, vgg16, bert-base, gpt2-small) or --network-file");
  return builtin_network(name, size);
}

}  // namespace trainrate
