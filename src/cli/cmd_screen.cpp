// trainrate screen: one node's results against a fleet baseline; ACCEPT or REJECT per device with
// the rules that fired, and exit 1 on any REJECT so it can gate a node joining a training job.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "reports/google_benchmark.hpp"
#include "reports/metrics.hpp"
#include "reports/screen.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct ScreenArgs {
  std::string input, baseline, markdown, csv, json, metrics;
  reports::ScreenOptions options;
};

int run_screen(const ScreenArgs& args) {
  const ResultsFile node = reports::read_results_or_benchmark_file(args.input);
  const reports::Baseline baseline = reports::read_baseline_file(args.baseline);
  const reports::ScreenReport report = reports::screen_node(node, args.input, baseline, args.baseline, args.options);
  fmt::print("{}", reports::render_screen_text(report));
  if (!args.markdown.empty()) write_file_atomically(args.markdown, reports::render_screen_markdown(report));
  if (!args.csv.empty()) write_file_atomically(args.csv, reports::render_screen_csv(report));
  if (!args.json.empty()) write_file_atomically(args.json, reports::screen_to_json(report).dump(2) + "\n");
  if (!args.metrics.empty()) {
    write_file_atomically(args.metrics,
                          reports::render_metrics({{args.input, node}}, &report, reports::MetricsFormat::prometheus));
  }
  return report.any_rejected() ? kExitFailure : kExitOk;
}

}  // namespace

Action add_screen_command(CLI::App& app) {
  auto args = std::make_shared<ScreenArgs>();
  CLI::App* cmd = app.add_subcommand("screen", "Screen one node's results against a fleet baseline: ACCEPT or REJECT");
  cmd->add_option("results", args->input, "The node's results JSON")->required();
  cmd->add_option("--baseline", args->baseline, "Baseline JSON written by trainrate baseline")->required();
  cmd->add_option("--kind-threshold", args->options.kind_threshold,
                  "REJECT when a kind's geomean on a backend is below this fraction of the baseline")
      ->capture_default_str()
      ->check(between(0, 10));
  cmd->add_option("--floor", args->options.floor, "REJECT when any single row is below this fraction of the baseline")
      ->capture_default_str()
      ->check(between(0, 10));
  cmd->add_option("--markdown", args->markdown, "Also write the verdicts and every row as Markdown");
  cmd->add_option("--csv", args->csv, "Also write one CSV line per row");
  cmd->add_option("--json", args->json, "Also write the verdicts and rows as JSON");
  cmd->add_option("--metrics", args->metrics,
                  "Also write the results and the verdict as Prometheus metrics (for node_exporter's textfile collector)");
  cmd->footer("Exit status: 0 every device ACCEPTed, 1 a device REJECTed, 2 bad input (another device model, "
              "a malformed baseline, no rows in common).");
  return [args] { return run_screen(*args); };
}

}  // namespace trainrate::cli
