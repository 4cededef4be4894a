// trainrate export: results files as Prometheus metrics, for node_exporter's textfile collector
// or any scraper (docs/cluster.md).
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "reports/google_benchmark.hpp"
#include "reports/metrics.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct ExportArgs {
  std::vector<std::string> inputs;
  std::string output;
  std::string format = "prometheus";
};

int run_export(const ExportArgs& args) {
  std::vector<reports::FleetNode> files;
  for (const std::string& path : args.inputs) files.push_back({path, reports::read_results_or_benchmark_file(path)});
  const auto format =
      args.format == "openmetrics" ? reports::MetricsFormat::openmetrics : reports::MetricsFormat::prometheus;
  const std::string text = reports::render_metrics(files, nullptr, format);
  if (args.output.empty()) {
    std::cout << text;
  } else {
    write_file_atomically(args.output, text);
  }
  return kExitOk;
}

}  // namespace

Action add_export_command(CLI::App& app) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand("export", "Write results as Prometheus metrics");
  cmd->add_option("results", args->inputs, "Results JSON files")->required();
  cmd->add_option("--format", args->format,
                  "prometheus: the text format 0.0.4 (what node_exporter's textfile collector reads); openmetrics: "
                  "the same gauges ending in '# EOF'")
      ->check(CLI::IsMember({"prometheus", "openmetrics"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", args->output,
                  "File to write, atomically (a temporary file renamed over it); default: standard output");
  cmd->footer("Exit status: 0 written, 1 could not write, 2 bad input. Metric names: docs/cluster.md.");
  return [args] { return run_export(*args); };
}

}  // namespace trainrate::cli
