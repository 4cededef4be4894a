// Screening one node against a fleet baseline (reports/baseline.hpp): each device of the node gets
// ACCEPT or REJECT, with every rule that fired, so a new or repaired node can be gated before it
// joins a training job.
//
// Rules (docs/cluster.md), each row's ratio being its rate / the baseline's median for that row:
//   errors  any INVALID or FAILED result;
//   kind    the geomean ratio of a kind on one backend (kind_label: "gemm", "conv-fwd", ...) below
//           kind_threshold (0.90): slow across the board, though no single row is alarming;
//   floor   any single row below floor (0.75): one badly broken path.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "reports/baseline.hpp"

namespace trainrate::reports {

struct ScreenOptions {
  double kind_threshold = 0.90;
  double floor = 0.75;
};

struct ScreenRow {
  RowIdentity identity;
  ResultStatus status = ResultStatus::ok;
  double rate_per_s = 0;                  // work_rate_per_s, when ok
  std::optional<double> baseline_per_s;   // the row's baseline median, when the baseline has the row
  std::optional<double> ratio;            // rate / baseline median, for ok rows in the baseline
  std::string reason;
};

struct ScreenGroup {
  std::string kind, backend;
  int64_t rows = 0;
  double geomean_ratio = 0;
};

struct ScreenDevice {
  std::string host, device_id, device_model;
  std::vector<ScreenRow> rows;      // every result that ran (skipped ones are left out)
  std::vector<ScreenGroup> groups;  // by kind and backend, over the rows with a ratio
  std::vector<std::string> fired;   // one line per rule that fired; empty = ACCEPT
  int64_t not_in_baseline = 0;      // ok rows the baseline has no row for
  int64_t baseline_rows_missing = 0;  // baseline rows this device did not run
  bool accepted() const { return fired.empty(); }
};

struct ScreenReport {
  ScreenOptions options;
  std::string source, baseline_source;
  std::vector<ScreenDevice> devices;
  bool any_rejected() const;
};

// Throws InputError when a device's model is not in the baseline, when a device has no row in
// common with it, or when the file has no result that ran.
ScreenReport screen_node(const ResultsFile& node, const std::string& source, const Baseline& baseline,
                         const std::string& baseline_source, const ScreenOptions& options);

std::string render_screen_text(const ScreenReport& report);
std::string render_screen_markdown(const ScreenReport& report);
std::string render_screen_csv(const ScreenReport& report);
nlohmann::json screen_to_json(const ScreenReport& report);

}  // namespace trainrate::reports
