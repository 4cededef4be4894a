// trainrate compare: one results file gives custom against vendor per shape and by kind; two
// files (OLD NEW) give each problem × backend of NEW against OLD, with a verdict per row, and
// --fail-on-slower turns a regression into exit status 1 for a CI gate. --old A1 A2 --new B1 B2
// pools several files a side as repetitions of one run (results/repetitions.hpp).
#include <fmt/format.h>

#include <memory>
#include <optional>

#include "cli/commands.hpp"
#include "problems/problem_json.hpp"
#include "reports/report.hpp"
#include "reports/table.hpp"
#include "results/repetitions.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

struct CompareArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> old_runs, new_runs;  // --old, --new: several files a side
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

// One side of the comparison: a file as it is, or several pooled as the repetitions of one run.
reports::ReportSource read_side(const std::vector<std::string>& paths) {
  std::vector<ResultsFile> runs;
  for (const std::string& path : paths) runs.push_back(read_results_file(path));
  if (runs.size() == 1) return {paths.front(), runs.front()};
  return {fmt::format("{}", fmt::join(paths, " + ")), pool_repetitions(runs, paths)};
}

int compare_two_runs(const CompareArgs& args) {
  const reports::ReportSource old_run = read_side(args.old_runs);
  const reports::ReportSource new_run = read_side(args.new_runs);
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

int run_compare(CompareArgs args) {
  if (!args.old_runs.empty() || !args.new_runs.empty()) {
    if (!args.inputs.empty()) throw InputError("give OLD.json NEW.json or --old ... --new ..., not both");
    if (args.old_runs.empty() || args.new_runs.empty()) throw InputError("--old and --new go together");
    return compare_two_runs(args);
  }
  if (args.inputs.size() == 2) {
    args.old_runs = {args.inputs[0]};
    args.new_runs = {args.inputs[1]};
    return compare_two_runs(args);
  }
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
  cmd->add_option("results", args->inputs, "Results JSON written by `trainrate run`: one, or OLD and NEW");
  cmd->add_option("--old", args->old_runs,
                  "Two runs: the OLD side as several files, pooled as repetitions of one run (instead of OLD NEW)");
  cmd->add_option("--new", args->new_runs, "Two runs: the NEW side as several files, pooled like --old");
  cmd->add_option("--markdown", args->markdown, "Two runs: also write the comparison as Markdown to this file");
  cmd->add_option("--csv", args->csv, "Two runs: also write one CSV line per compared pair to this file");
  cmd->add_option("--fail-on-slower", args->fail_on_slower_percent,
                  "Two runs: exit 1 when any row is SLOWER by more than PCT percent")
      ->check(between(0, 100));
  cmd->add_flag("--any-suite", args->any_suite, "Two runs: compare files of different suites (pairs what matches)");
  cmd->footer(fmt::format("Verdicts (two runs): {}.\nA side with one repetition cannot show run-to-run variation: "
                          "measure both with `trainrate run --repetitions {}`, or give --old and --new {} files "
                          "each.\nExit status: 0 compared, 1 a row SLOWER by more than --fail-on-slower, 2 bad input.",
                          reports::describe_rule({}), reports::kRecommendedRepetitions,
                          reports::kRecommendedRepetitions));
  return [args] { return run_compare(*args); };
}

}  // namespace trainrate::cli
