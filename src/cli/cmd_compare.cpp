// trainrate compare: custom kernels against the vendor library, per shape and by kind.
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "reports/table.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

Action add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Per-shape custom/vendor rate ratio and geomean from a results file");
  auto path = std::make_shared<std::string>();
  cmd->add_option("results", *path, "Results JSON written by `trainrate run`")->required();
  return [path] {
    const ResultsFile file = read_results_file(*path);
    const auto rows = custom_vendor_ratios(file);
    fmt::print("{}", ratio_table(rows, summarize_ratios(rows)));
    return kExitOk;
  };
}

}  // namespace trainrate::cli
