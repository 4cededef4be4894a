#include "reports/baseline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "problems/problem_json.hpp"
#include "reports/compare.hpp"
#include "results/json_fields.hpp"

namespace trainrate::reports {

using nlohmann::json;

namespace {

// 1/0.6745: scales a MAD of normal data to its standard deviation (see fleet.hpp).
constexpr double kMadToStddev = 1.4826;

// One node (a device of one results file, or of the previous baseline) with its ok rates by row.
struct NodeRates {
  BaselineNode node;
  std::string model, kind;
  std::map<std::string, double> rate_by_key;
  std::vector<std::string> errors;  // one per INVALID/FAILED result
};

// The rows in the order they were first seen (the suite's order), with their identities.
struct RowCatalogue {
  std::vector<std::string> keys;
  std::map<std::string, RowIdentity> identities;
  void add(const RowIdentity& identity) {
    const std::string key = row_key(identity);
    if (identities.emplace(key, identity).second) keys.push_back(key);
  }
};

std::string error_text(const Result& r) {
  return fmt::format("{} {} {}{}", r.backend, describe(r.problem), to_string(r.status),
                     r.reason.empty() ? "" : ": " + r.reason);
}

std::vector<NodeRates> nodes_of_file(const FleetNode& source, RowCatalogue& rows) {
  const ResultsFile& file = source.file;
  std::vector<NodeRates> nodes;
  auto node_for = [&](const std::string& device_id) -> NodeRates& {
    for (NodeRates& n : nodes) {
      if (n.node.node == file.host + " " + device_id) return n;
    }
    NodeRates n;
    n.node = {file.host + " " + device_id, source.path, file.created_utc, std::nullopt};
    n.model = device_id;
    for (const DeviceInfo& d : file.devices) {
      if (d.id != device_id) continue;
      n.model = d.name;
      n.kind = d.kind;
    }
    return nodes.emplace_back(std::move(n));
  };
  for (const Result& r : file.results) {
    if (r.status == ResultStatus::skipped) continue;
    NodeRates& node = node_for(r.device);
    if (node.kind.empty()) node.kind = r.device_kind;
    if (r.status == ResultStatus::invalid || r.status == ResultStatus::failed) {
      node.errors.push_back(error_text(r));
    } else if (work_rate_per_s(r) > 0) {
      const RowIdentity identity = identity_of(r);
      rows.add(identity);
      node.rate_by_key[row_key(identity)] = work_rate_per_s(r);  // a re-run row replaces the earlier one
    }
  }
  return nodes;
}

std::vector<NodeRates> nodes_of_previous(const Baseline& previous, RowCatalogue& rows) {
  std::vector<NodeRates> nodes;
  for (const BaselineModel& model : previous.models) {
    for (const BaselineNode& kept : model.nodes) {
      NodeRates n{kept, model.device_model, model.device_kind, {}, {}};
      n.node.relative_speed.reset();
      for (const BaselineRow& row : model.rows) {
        const auto rate = row.rate_by_node.find(kept.node);
        if (rate == row.rate_by_node.end()) continue;
        rows.add(row.identity);
        n.rate_by_key[row_key(row.identity)] = rate->second;
      }
      nodes.push_back(std::move(n));
    }
  }
  return nodes;
}

std::map<std::string, double> row_medians(const std::vector<const NodeRates*>& nodes) {
  std::map<std::string, std::vector<double>> rates;
  for (const NodeRates* n : nodes) {
    for (const auto& [key, rate] : n->rate_by_key) rates[key].push_back(rate);
  }
  std::map<std::string, double> medians;
  for (const auto& [key, values] : rates) medians[key] = median(values);
  return medians;
}

double relative_speed(const NodeRates& node, const std::map<std::string, double>& medians) {
  std::vector<double> ratios;
  for (const auto& [key, rate] : node.rate_by_key) ratios.push_back(rate / medians.at(key));
  return geomean(ratios);
}

// Leaves out nodes with errors or no rates, then those whose relative speed is an outlier; returns the kept nodes.
std::vector<const NodeRates*> screen_outliers(std::vector<NodeRates>& members, BaselineModel& model,
                                              const FleetOptions& options, std::vector<std::string>& notes) {
  std::vector<NodeRates*> candidates;
  for (NodeRates& n : members) {
    if (!n.errors.empty()) {
      model.excluded.push_back({n.node, fmt::format("{} INVALID/FAILED result{} (first: {})", n.errors.size(),
                                                    n.errors.size() == 1 ? "" : "s", n.errors.front())});
    } else if (n.rate_by_key.empty()) {
      model.excluded.push_back({n.node, "no ok result"});
    } else {
      candidates.push_back(&n);
    }
  }
  const std::map<std::string, double> medians = row_medians({candidates.begin(), candidates.end()});
  std::vector<double> speeds;
  for (NodeRates* n : candidates) {
    n->node.relative_speed = relative_speed(*n, medians);
    speeds.push_back(*n->node.relative_speed);
  }
  const std::vector<double> z = robust_z_scores(speeds, options);
  if (z.empty() && !candidates.empty()) {
    notes.push_back(fmt::format("'{}': {} node{}; at least {} are needed to tell an outlier, so none was left out.",
                                model.device_model, candidates.size(), candidates.size() == 1 ? "" : "s",
                                options.min_peers));
  }
  std::vector<const NodeRates*> kept;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!z.empty() && std::fabs(z[i]) > options.threshold) {
      model.excluded.push_back(
          {candidates[i]->node, fmt::format("{}: geomean {:.3f} of the per-row median (robust z {:+.1f}, beyond ±{:g})",
                                            z[i] < 0 ? "slow" : "fast", speeds[i], z[i], options.threshold)});
    } else {
      kept.push_back(candidates[i]);
    }
  }
  return kept;
}

BaselineModel build_model(const std::string& name, std::vector<NodeRates>& members, const RowCatalogue& catalogue,
                          const FleetOptions& options, std::vector<std::string>& notes) {
  BaselineModel model;
  model.device_model = name;
  model.device_kind = members.front().kind;
  const std::vector<const NodeRates*> kept = screen_outliers(members, model, options, notes);
  for (const NodeRates* n : kept) model.nodes.push_back(n->node);
  for (const std::string& key : catalogue.keys) {
    BaselineRow row{catalogue.identities.at(key), {}, 0, 0};
    std::vector<double> rates;
    for (const NodeRates* n : kept) {
      if (const auto rate = n->rate_by_key.find(key); rate != n->rate_by_key.end()) {
        row.rate_by_node[n->node.node] = rate->second;
        rates.push_back(rate->second);
      }
    }
    if (rates.empty()) continue;
    row.median_per_s = median(rates);
    std::vector<double> deviations;
    for (const double r : rates) deviations.push_back(std::fabs(r - row.median_per_s));
    row.spread_per_s = kMadToStddev * median(deviations);
    model.rows.push_back(std::move(row));
  }
  if (model.rows.empty()) notes.push_back(fmt::format("'{}': every node was left out; no rows.", name));
  return model;
}

// ---- JSON ---------------------------------------------------------------------------------

json node_to_json(const BaselineNode& n) {
  return json{{"node", n.node},
              {"source", n.source},
              {"created_utc", n.created_utc},
              {"relative_speed", n.relative_speed ? json(*n.relative_speed) : json(nullptr)}};
}

BaselineNode node_from_json(const json& o, const std::string& where) {
  BaselineNode n{field<std::string>(o, "node", where), field_or<std::string>(o, "source", where, ""),
                 field_or<std::string>(o, "created_utc", where, ""), std::nullopt};
  if (o.contains("relative_speed") && !o.at("relative_speed").is_null()) {
    n.relative_speed = field<double>(o, "relative_speed", where);
  }
  return n;
}

json row_to_json(const BaselineRow& row) {
  const RowIdentity& id = row.identity;
  return json{{"problem", to_json(id.problem)},
              {"name", describe(id.problem)},
              {"kind", kind_label(id.problem)},
              {"backend", id.backend},
              {"mode", id.mode},
              {"threads", id.threads},
              {"unit", is_memory_bound(id.problem) ? "bytes/s" : "FLOP/s"},
              {"median_per_s", row.median_per_s},
              {"spread_per_s", row.spread_per_s},
              {"nodes", row.rate_by_node.size()},
              {"rate_by_node", row.rate_by_node}};
}

double positive(const json& o, const char* name, const std::string& where) {
  const double value = field<double>(o, name, where);
  if (!std::isfinite(value) || value <= 0) {
    throw InputError(fmt::format("{}.{}: must be a positive rate, got {}", where, name, json_excerpt(o.at(name))));
  }
  return value;
}

BaselineRow row_from_json(const json& o, const std::string& where) {
  BaselineRow row;
  row.identity.problem = problem_from_json(field<json>(o, "problem", where), where + ".problem");
  row.identity.backend = field<std::string>(o, "backend", where);
  row.identity.mode = field<std::string>(o, "mode", where);
  row.identity.threads = field<int>(o, "threads", where);
  row.median_per_s = positive(o, "median_per_s", where);
  row.spread_per_s = field<double>(o, "spread_per_s", where);
  if (!std::isfinite(row.spread_per_s) || row.spread_per_s < 0) {
    throw InputError(fmt::format("{}.spread_per_s: must be a rate of at least 0", where));
  }
  const json rates = field_or(o, "rate_by_node", where, json::object());
  if (!rates.is_object()) throw InputError(fmt::format("{}.rate_by_node: expected an object", where));
  for (const auto& [node, rate] : rates.items()) {
    row.rate_by_node[node] = positive(rates, node.c_str(), where + ".rate_by_node");
  }
  return row;
}

template <typename T, typename Read>
std::vector<T> array_of(const json& o, const char* name, const std::string& where, Read read) {
  const json items = field_or(o, name, where, json::array());
  if (!items.is_array()) throw InputError(fmt::format("{}.{}: expected an array", where, name));
  std::vector<T> out;
  for (size_t i = 0; i < items.size(); ++i) out.push_back(read(items.at(i), fmt::format("{}.{}[{}]", where, name, i)));
  return out;
}

BaselineModel model_from_json(const json& o, const std::string& where) {
  BaselineModel model;
  model.device_model = field<std::string>(o, "device_model", where);
  model.device_kind = field_or<std::string>(o, "device_kind", where, "");
  model.nodes = array_of<BaselineNode>(o, "nodes", where, node_from_json);
  model.excluded = array_of<ExcludedNode>(o, "excluded", where, [](const json& e, const std::string& at) {
    return ExcludedNode{node_from_json(e, at), field<std::string>(e, "reason", at)};
  });
  model.rows = array_of<BaselineRow>(o, "rows", where, row_from_json);
  std::set<std::string> keys;
  for (const BaselineRow& row : model.rows) {
    if (!keys.insert(row_key(row.identity)).second) {
      throw InputError(fmt::format("{}: row '{} {}' appears twice", where, row.identity.backend,
                                   describe(row.identity.problem)));
    }
  }
  return model;
}

}  // namespace

RowIdentity identity_of(const Result& result) {
  return RowIdentity{result.problem, result.backend, result.mode, result.threads};
}

std::string row_key(const RowIdentity& identity) {
  return fmt::format("{}|{}|{}|{}", identity.backend, identity.mode, identity.threads, to_json(identity.problem).dump());
}

const BaselineRow* BaselineModel::find(const std::string& key) const {
  for (const BaselineRow& row : rows) {
    if (row_key(row.identity) == key) return &row;
  }
  return nullptr;
}

const BaselineModel* Baseline::find(const std::string& device_model) const {
  for (const BaselineModel& model : models) {
    if (model.device_model == device_model) return &model;
  }
  return nullptr;
}

Baseline build_baseline(const std::vector<FleetNode>& nodes, const std::optional<Baseline>& previous,
                        const FleetOptions& options) {
  if (nodes.empty()) throw InputError("no results files given");
  Baseline baseline;
  baseline.options = options;
  RowCatalogue catalogue;
  std::vector<NodeRates> all;
  std::set<std::string> measured_now;
  for (const FleetNode& file : nodes) {
    for (NodeRates& n : nodes_of_file(file, catalogue)) {
      if (!measured_now.insert(n.node.node).second) {
        throw InputError(fmt::format("{}: node '{}' is given twice; give each host and device once", file.path,
                                     n.node.node));
      }
      all.push_back(std::move(n));
    }
  }
  if (previous) {
    int64_t folded = 0;
    for (NodeRates& n : nodes_of_previous(*previous, catalogue)) {
      if (measured_now.contains(n.node.node)) continue;  // measured again: the new file replaces it
      all.push_back(std::move(n));
      ++folded;
    }
    baseline.notes.push_back(
        fmt::format("Folded in {} node{} of the previous baseline.", folded, folded == 1 ? "" : "s"));
  }
  std::map<std::string, std::vector<NodeRates>> by_model;
  for (NodeRates& n : all) by_model[n.model].push_back(std::move(n));
  for (auto& [name, members] : by_model) {
    std::sort(members.begin(), members.end(),
              [](const NodeRates& a, const NodeRates& b) { return a.node.node < b.node.node; });
    baseline.models.push_back(build_model(name, members, catalogue, options, baseline.notes));
  }
  const bool any_rows = std::any_of(baseline.models.begin(), baseline.models.end(),
                                    [](const BaselineModel& m) { return !m.rows.empty(); });
  if (!any_rows) throw InputError("no node has an ok result to build a baseline from");
  return baseline;
}

json to_json(const Baseline& baseline) {
  json models = json::array();
  for (const BaselineModel& model : baseline.models) {
    json nodes = json::array(), excluded = json::array(), rows = json::array();
    for (const BaselineNode& n : model.nodes) nodes.push_back(node_to_json(n));
    for (const ExcludedNode& e : model.excluded) {
      json entry = node_to_json(e.node);
      entry["reason"] = e.reason;
      excluded.push_back(entry);
    }
    for (const BaselineRow& row : model.rows) rows.push_back(row_to_json(row));
    models.push_back(json{{"device_model", model.device_model},
                          {"device_kind", model.device_kind},
                          {"nodes", nodes},
                          {"excluded", excluded},
                          {"rows", rows}});
  }
  return json{{"schema", "trainrate-baseline"},
              {"schema_version", baseline.schema_version},
              {"created_utc", baseline.created_utc},
              {"tool_version", baseline.tool_version},
              {"outliers", {{"threshold", baseline.options.threshold},
                            {"min_relative_spread", baseline.options.min_relative_spread},
                            {"min_nodes", baseline.options.min_peers}}},
              {"models", models},
              {"notes", baseline.notes}};
}

Baseline baseline_from_json(const json& o, const std::string& where) {
  if (!o.is_object() || !o.contains("schema") || o.at("schema") != "trainrate-baseline") {
    throw InputError(fmt::format("{}: not a trainrate baseline (missing \"schema\": \"trainrate-baseline\")", where));
  }
  Baseline baseline;
  baseline.schema_version = field<int>(o, "schema_version", where);
  if (baseline.schema_version != kBaselineSchemaVersion) {
    throw InputError(fmt::format("{}: baseline schema_version {} is not supported (this build reads {})", where,
                                 baseline.schema_version, kBaselineSchemaVersion));
  }
  baseline.created_utc = field_or<std::string>(o, "created_utc", where, "");
  baseline.tool_version = field_or<std::string>(o, "tool_version", where, "");
  const json outliers = field_or(o, "outliers", where, json::object());
  baseline.options.threshold = field_or(outliers, "threshold", where + ".outliers", baseline.options.threshold);
  baseline.options.min_relative_spread =
      field_or(outliers, "min_relative_spread", where + ".outliers", baseline.options.min_relative_spread);
  baseline.options.min_peers = field_or(outliers, "min_nodes", where + ".outliers", baseline.options.min_peers);
  if (!o.contains("models")) throw InputError(fmt::format("{}: missing field 'models'", where));
  baseline.models = array_of<BaselineModel>(o, "models", where, model_from_json);
  baseline.notes = field_or(o, "notes", where, std::vector<std::string>{});
  return baseline;
}

Baseline read_baseline_file(const std::filesystem::path& path) {
  return baseline_from_json(read_json_file(path, "trainrate baseline"), path.string());
}

std::string render_baseline_summary(const Baseline& baseline) {
  std::string text;
  for (const BaselineModel& model : baseline.models) {
    text += fmt::format("{}: {} row{} from {} node{}; {} left out\n", model.device_model, model.rows.size(),
                        model.rows.size() == 1 ? "" : "s", model.nodes.size(), model.nodes.size() == 1 ? "" : "s",
                        model.excluded.size());
    for (const BaselineNode& n : model.nodes) {
      text += fmt::format("  kept      {:<32} relative speed {}\n", n.node,
                          n.relative_speed ? fmt::format("{:.3f}", *n.relative_speed) : "-");
    }
    for (const ExcludedNode& e : model.excluded) text += fmt::format("  left out  {:<32} {}\n", e.node.node, e.reason);
  }
  for (const std::string& note : baseline.notes) text += "note: " + note + "\n";
  return text;
}

}  // namespace trainrate::reports
