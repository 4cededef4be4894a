// trainrate baseline: results files from many nodes in, a fleet baseline per device model out,
// which `trainrate screen` checks single nodes against (docs/cluster.md).
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "reports/baseline.hpp"
#include "reports/google_benchmark.hpp"
#include "results/results_json.hpp"
#include "run/environment.hpp"

namespace trainrate::cli {

namespace {

struct BaselineArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string previous;
  reports::FleetOptions options;
};

int run_baseline(const BaselineArgs& args) {
  std::vector<reports::FleetNode> nodes;
  for (const std::string& path : args.inputs) nodes.push_back({path, reports::read_results_or_benchmark_file(path)});
  std::optional<reports::Baseline> previous;
  if (!args.previous.empty()) previous = reports::read_baseline_file(args.previous);
  for (const std::string& line : reports::setting_differences(nodes)) {
    fmt::print(stderr, "trainrate baseline: warning: files differ in {}\n", line);
  }
  reports::Baseline baseline = reports::build_baseline(nodes, previous, args.options);
  baseline.created_utc = utc_timestamp();
  baseline.tool_version = TRAINRATE_VERSION;
  write_file_atomically(args.output, reports::to_json(baseline).dump(2) + "\n");
  fmt::print("{}baseline written to {}\n", reports::render_baseline_summary(baseline), args.output);
  return kExitOk;
}

}  // namespace

Action add_baseline_command(CLI::App& app) {
  auto args = std::make_shared<BaselineArgs>();
  CLI::App* cmd = app.add_subcommand(
      "baseline", "Build a fleet baseline per device model from many nodes' results, leaving outlier nodes out");
  cmd->add_option("results", args->inputs, "One results JSON per node (trainrate run or trainrate-bench output)")
      ->required();
  cmd->add_option("-o,--output", args->output, "Baseline JSON to write")->required();
  cmd->add_option("--previous", args->previous,
                  "An earlier baseline to fold in: its nodes count as measured, unless measured again here");
  cmd->add_option("--threshold", args->options.threshold,
                  "Leave out a node whose relative speed has a robust z-score beyond ±THRESHOLD")
      ->capture_default_str()
      ->check(greater_than(0));
  cmd->add_option("--min-spread", args->options.min_relative_spread,
                  "Floor of the MAD of relative speeds, as a fraction of their median")
      ->capture_default_str()
      ->check(between(0, 1));
  cmd->add_option("--min-nodes", args->options.min_peers, "Nodes of one model needed before outliers are looked for")
      ->capture_default_str()
      ->check(between(3, 1000000));
  cmd->footer("Exit status: 0 written, 1 could not write, 2 bad input. Format: docs/cluster.md.");
  return [args] { return run_baseline(*args); };
}

}  // namespace trainrate::cli
