// trainrate merge: one results file per node in, a fleet report out; the exit status says whether
// any device was flagged, so the command can gate a cluster health check.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "reports/fleet.hpp"
#include "reports/google_benchmark.hpp"

namespace trainrate::cli {

namespace {

struct MergeArgs {
  std::vector<std::string> inputs;
  std::string output;
  reports::FleetOptions options;
};

int run_merge(const MergeArgs& args) {
  std::vector<reports::FleetNode> nodes;
  for (const std::string& path : args.inputs) nodes.push_back({path, reports::read_results_or_benchmark_file(path)});
  const reports::FleetReport fleet = reports::build_fleet(nodes, args.options);
  for (const std::string& line : fleet.differences) {
    fmt::print(stderr, "trainrate merge: warning: files differ in {}\n", line);
  }
  reports::write_fleet(fleet, args.output);
  int64_t flagged = 0;
  for (const reports::FleetDevice& d : fleet.devices) {
    if (!d.flagged) continue;
    ++flagged;
    fmt::print(stderr, "merge: flagged {} {} ({}): {}{}\n", d.host, d.device_id, d.device_name, d.verdict,
               d.score ? fmt::format(", median z {:+.2f}", *d.score) : "");
  }
  fmt::print("merge: {} device{} from {} file{}, {} flagged; wrote {}/fleet.md, fleet.csv, fleet.html\n",
             fleet.devices.size(), fleet.devices.size() == 1 ? "" : "s", nodes.size(), nodes.size() == 1 ? "" : "s",
             flagged, args.output);
  return fleet.any_flagged() ? kExitFailure : kExitOk;
}

}  // namespace

Action add_merge_command(CLI::App& app) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* cmd = app.add_subcommand("merge", "Merge per-node results into a fleet report and flag slow devices");
  cmd->add_option("results", args->inputs, "One results JSON per node (trainrate run or trainrate-bench output)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Directory for fleet.md, fleet.csv and fleet.html")->required();
  cmd->add_option("--threshold", args->options.threshold,
                  "Flag a device whose median robust z-score over the problems is below -THRESHOLD")
      ->capture_default_str()
      ->check(greater_than(0));
  cmd->add_option("--min-spread", args->options.min_relative_spread,
                  "Floor of the MAD as a fraction of the median, so run-to-run noise never flags a device")
      ->capture_default_str()
      ->check(between(0, 1));
  cmd->add_option("--min-peers", args->options.min_peers, "Devices of one model needed before any is scored")
      ->capture_default_str()
      ->check(between(3, 1000000));
  cmd->footer("Exit status: 0 no device flagged, 1 a device flagged (slow, INVALID or FAILED results), 2 bad input.");
  return [args] { return run_merge(*args); };
}

}  // namespace trainrate::cli
