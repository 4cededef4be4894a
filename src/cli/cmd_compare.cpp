// trainrate compare: one results file gives custom against vendor per shape and by kind; two
// files (OLD NEW) give each problem × backend of NEW against OLD, with a verdict per row, and
// --fail-on-slower turns a regression into exit status 1 for a CI gate.
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "problems/problem_json.hpp"
#include "reports/report.hpp"
#include "reports/table.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct CompareArgs {
  std::vector<std::string> inputs;
  std::string markdown, csv;
  std::optional<double> fail_on_slower_percent;
  bool any_suite = false;
};

int compare_custom_with_vendor(const std::string& path) {
  const ResultsFile file = read_results_file(path);
  const auto rows = custom_vendor_ratios(file);
  fmt::print("{}", ratio_table(rows, summarize_ratios(rows)));
  return kExitOk;
}

int compare_two_runs(const CompareArgs& args) {
  const reports::ReportSource old_run{args.inputs[0], read_results_file(args.inputs[0])};
  const reports::ReportSource new_run{args.inputs[1], read_results_file(args.inputs[1])};
  const reports::RunComparison comparison = reports::compare_runs(old_run, new_run, {}, args.any_suite);
  fmt::print("{}", reports::run_comparison_console(comparison));
  if (!args.markdown.empty()) write_file_atomically(args.markdown, reports::run_comparison_markdown(comparison));
  if (!args.csv.empty()) write_file_atomically(args.csv, reports::run_comparison_csv(comparison));
  if (!args.fail_on_slower_percent) return kExitOk;
  const auto slower = reports::slower_by_more_than(comparison, *args.fail_on_slower_percent);
  for (const reports::RunCompareRow& row : slower) {
    fmt::print(stderr, "compare: {} {} is {:.1f}% slower (NEW/OLD {:.3f}), more than --fail-on-slower {:g}\n",
               describe(row.problem), row.backend, 100 * (1 - row.judgement.ratio), row.judgement.ratio,
               *args.fail_on_slower_percent);
  }
  return slower.empty() ? kExitOk : kExitFailure;
}

int run_compare(const CompareArgs& args) {
  if (args.inputs.size() == 2) return compare_two_runs(args);
  if (args.inputs.size() != 1) {
    throw InputError(fmt::format("give one results file (custom against vendor) or two, OLD and NEW; got {}",
                                 args.inputs.size()));
  }
  if (!args.markdown.empty() || !args.csv.empty() || args.fail_on_slower_percent || args.any_suite) {
    throw InputError("--markdown, --csv, --fail-on-slower and --any-suite compare two runs: give OLD.json NEW.json");
  }
  return compare_custom_with_vendor(args.inputs[0]);
}

}  // namespace

Action add_compare_command(CLI::App& app) {
  auto args = std::make_shared<CompareArgs>();
  auto* cmd = app.add_subcommand(
      "compare", "One results file: per-shape custom/vendor rate ratio and geomean. Two (OLD NEW): NEW against OLD "
                 "per problem and backend, with a significance test and a verdict");
  cmd->add_option("results", args->inputs, "Results JSON written by `trainrate run`: one, or OLD and NEW")
      ->required();
  cmd->add_option("--markdown", args->markdown, "Two runs: also write the comparison as Markdown to this file");
  cmd->add_option("--csv", args->csv, "Two runs: also write one CSV line per compared pair to this file");
  cmd->add_option("--fail-on-slower", args->fail_on_slower_percent,
                  "Two runs: exit 1 when any row is SLOWER by more than PCT percent")
      ->check(between(0, 100));
  cmd->add_flag("--any-suite", args->any_suite, "Two runs: compare files of different suites (pairs what matches)");
  cmd->footer("Verdicts (two runs): " + reports::describe_rule({}) +
              ".\nExit status: 0 compared, 1 a row SLOWER by more than --fail-on-slower, 2 bad input.");
  return [args] { return run_compare(*args); };
}

}  // namespace trainrate::cli
