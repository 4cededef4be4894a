// trainrate report: results files (or trainrate-bench Google Benchmark JSON) and optional
// predictions in, report.md + report.html + results.csv out.
#include <fmt/format.h>

#include <memory>

#include "cli/commands.hpp"
#include "problems/problem_json.hpp"
#include "reports/google_benchmark.hpp"
#include "reports/report.hpp"

namespace trainrate::cli {

namespace {

struct ReportArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> predictions;
  std::string output;
  bool compare_runs = false;
};

int run_report(const ReportArgs& args) {
  reports::ReportInput input;
  for (const std::string& path : args.inputs) {
    input.sources.push_back({path, reports::read_results_or_benchmark_file(path)});
  }
  if (args.compare_runs) {
    if (input.sources.size() != 2) {
      throw InputError(fmt::format("--compare-runs needs exactly two results files, OLD and NEW; got {}",
                                   input.sources.size()));
    }
    input.run_comparison = reports::compare_runs(input.sources[0], input.sources[1]);
  }
  for (const std::string& path : args.predictions) {
    for (auto& prediction : reports::read_predictions_file(path)) input.predictions.push_back(std::move(prediction));
  }
  const reports::Report report = reports::build_report(std::move(input));
  reports::write_report(report, args.output);
  fmt::print("report: wrote {0}/report.md, {0}/report.html, {0}/results.csv{4} ({1} device section{2}, {3} "
             "not measured)\n",
             args.output, report.sections.size(), report.sections.size() == 1 ? "" : "s", report.not_measured.size(),
             report.run_comparison ? fmt::format(" and {}/comparison.csv", args.output) : "");
  return kExitOk;
}

}  // namespace

Action add_report_command(CLI::App& app) {
  auto args = std::make_shared<ReportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "report", "Write a speed-up report: report.md, a self-contained report.html with charts, and results.csv");
  cmd->add_option("results", args->inputs,
                  "trainrate results JSON files, or Google Benchmark JSON from trainrate-bench --benchmark_out")
      ->required();
  cmd->add_option("--predictions", args->predictions,
                  "Prediction JSON files written by trainrate predict --json (optional; one or more, after the results)");
  cmd->add_option("-o,--output", args->output, "Directory to write the report into (created if needed)")->required();
  cmd->add_flag("--compare-runs", args->compare_runs,
                "The two results files are two runs, OLD then NEW: add NEW against OLD per problem and backend "
                "(as `trainrate compare OLD NEW`) and write comparison.csv");
  cmd->footer("Exit status: 0 written, 1 could not write, 2 unreadable or malformed input.");
  return [args] { return run_report(*args); };
}

}  // namespace trainrate::cli
