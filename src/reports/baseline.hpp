// Fleet baseline: per device model, the typical rate of every problem × backend (× mode, threads)
// from many healthy nodes, so one node can later be screened against it (reports/screen.hpp).
//
// Method (docs/cluster.md): nodes with INVALID or FAILED results are left out first; for the
// rest, each row's median over the nodes is taken, each node's geomean of rate / row median is
// its relative speed, and a node whose relative speed has a robust z-score (robust_z_scores, the
// same as merge's) beyond ±threshold is left out, slow or fast alike: the centre must describe the
// typical node. The rows are then summarised over the nodes kept: median (the centre) and
// 1.4826·MAD (the spread, comparable to a standard deviation). Each row keeps the rate of every
// node kept, so a later baseline can fold this one in exactly (--previous).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "reports/fleet.hpp"
#include "results/result.hpp"

namespace trainrate::reports {

constexpr int kBaselineSchemaVersion = 1;

// What a node's row is matched on: the problem (dtype and layout are part of it), backend, cache
// mode and CPU threads. Rows that differ in any of them are different rows.
struct RowIdentity {
  Problem problem;
  std::string backend;
  std::string mode;
  int threads = 0;
};
RowIdentity identity_of(const Result& result);
// A stable text form of the identity, for maps and for messages.
std::string row_key(const RowIdentity& identity);

struct BaselineRow {
  RowIdentity identity;
  std::map<std::string, double> rate_by_node;  // node ("host device") → work_rate_per_s, nodes kept only
  double median_per_s = 0;                     // the centre
  double spread_per_s = 0;                     // 1.4826 · MAD over the nodes kept
};

struct BaselineNode {
  std::string node;    // "host device"
  std::string source;  // the results file it came from
  std::string created_utc;
  std::optional<double> relative_speed;  // geomean of rate / row median
};

struct ExcludedNode {
  BaselineNode node;
  std::string reason;
};

struct BaselineModel {
  std::string device_model;  // DeviceInfo::name: nodes are compared only with the same model
  std::string device_kind;
  std::vector<BaselineNode> nodes;
  std::vector<ExcludedNode> excluded;
  std::vector<BaselineRow> rows;
  const BaselineRow* find(const std::string& key) const;
};

struct Baseline {
  int schema_version = kBaselineSchemaVersion;
  std::string created_utc;
  std::string tool_version;
  FleetOptions options;  // threshold and MAD floor of the outlier step, min_peers = nodes needed for it
  std::vector<BaselineModel> models;
  std::vector<std::string> notes;
  const BaselineModel* find(const std::string& device_model) const;
};

// Throws InputError when no node has an ok result, or a host/device pair appears in two files.
// Nodes of `previous` not measured again in `nodes` are folded in and screened like the new ones.
Baseline build_baseline(const std::vector<FleetNode>& nodes, const std::optional<Baseline>& previous,
                        const FleetOptions& options);

nlohmann::json to_json(const Baseline& baseline);
// Throws InputError naming `where` and the offending field.
Baseline baseline_from_json(const nlohmann::json& json, const std::string& where);
Baseline read_baseline_file(const std::filesystem::path& path);

// What `trainrate baseline` prints: per model, the nodes kept and left out (with why) and the rows.
std::string render_baseline_summary(const Baseline& baseline);

}  // namespace trainrate::reports
