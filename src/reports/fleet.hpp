// Fleet report: results files from many nodes side by side, and slow devices flagged with a
// robust z-score, so `trainrate merge` can gate a cluster health check.
//
// Method (docs/cluster.md): for every problem and backend, the rates R of the devices of one model
// (same DeviceInfo::name) are compared; z = 0.6745·(R − median)/MAD (Iglewicz & Hoaglin's modified
// z-score). A device's score is the median of its z over the problems; it is flagged slow when the
// score is below −threshold. Safeguards:
//   - the MAD is floored at min_relative_spread·median (1% by default), so a very uniform fleet
//     (MAD near or at 0) does not flag a device for a difference within run-to-run noise;
//   - with fewer than min_peers devices of a model, no z is computed (a median of two says nothing
//     about which one is slow) and those devices are listed as not scored;
//   - a device with INVALID or FAILED results is flagged too (wrong numbers or crashes are a
//     health problem whatever the speed); skipped results are not errors.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/result.hpp"

namespace trainrate::reports {

struct FleetOptions {
  double threshold = 3.5;
  double min_relative_spread = 0.01;
  size_t min_peers = 3;
};

// Modified z-scores of `values` against their own median and (floored) MAD; empty when there are
// fewer than options.min_peers values.
std::vector<double> robust_z_scores(const std::vector<double>& values, const FleetOptions& options);

struct FleetNode {
  std::string path;
  ResultsFile file;
};

// One (backend, problem) pair measured somewhere in the fleet.
struct FleetColumn {
  std::string backend;
  Problem problem;
  std::string name;  // describe(problem)
};

struct FleetCell {
  ResultStatus status = ResultStatus::ok;
  double rate = 0;                    // R (work_rate_per_s) when status is ok
  std::optional<double> peer_median;  // median R of the device's model on this column
  std::optional<double> z;            // absent when not scored
  std::string reason;
};

struct FleetDevice {
  std::string source, host, device_id, device_name;
  bool complete = true;
  std::vector<std::optional<FleetCell>> cells;  // one per FleetReport::columns; empty = not run here
  std::optional<double> score;                  // median z over the scored columns
  std::optional<double> relative_rate;          // median of R / peer median over the scored columns
  int64_t scored = 0, errors = 0;
  bool slow = false, flagged = false;
  std::string verdict;  // "ok", "SLOW", "ERRORS", "SLOW, ERRORS", "not scored: ..."
};

struct FleetReport {
  FleetOptions options;
  std::vector<FleetColumn> columns;
  std::vector<FleetDevice> devices;
  std::vector<std::string> differences;  // setting_differences of the files
  std::vector<std::string> notes;
  bool any_flagged() const;
};

// Every setting that differs between the files, one line per key: the tool version, each key of
// build, libraries and options, and the CPU threads of the results. Files measured differently are
// not comparable, so merge and baseline warn with these lines:
// "libraries.cudnn: '9.10.0' in 3 files (a.json, b.json, c.json); '9.8.0' in 1 file (d.json)".
std::vector<std::string> setting_differences(const std::vector<FleetNode>& nodes);

// Throws InputError when no node is given or a host/device pair appears in two files.
FleetReport build_fleet(const std::vector<FleetNode>& nodes, const FleetOptions& options);

std::string render_fleet_markdown(const FleetReport& fleet);
std::string render_fleet_csv(const FleetReport& fleet);
std::string render_fleet_html(const FleetReport& fleet);
// Writes fleet.md, fleet.csv and fleet.html into `directory` (created if needed).
void write_fleet(const FleetReport& fleet, const std::filesystem::path& directory);

}  // namespace trainrate::reports
