// The trainrate subcommands. Each add_*_command registers its options on `app` and returns
// the action main() runs when that subcommand is chosen; the action returns the exit status.
//
// Exit statuses: 0 success, 1 a runtime failure (or a flagged device for merge, a REJECT for
// screen), 2 bad input (usage, unreadable or malformed files), 130/143 interrupted by SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace trainrate::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

using Action = std::function<int()>;

// Range checks for numeric options. A failure reads "must be at least 1, got 0", which main()
// prints as "trainrate <command>: error: --batch: must be at least 1, got 0".
CLI::Validator at_least(double min);
CLI::Validator greater_than(double bound);
CLI::Validator between(double min, double max);

Action add_devices_command(CLI::App& app);
Action add_run_command(CLI::App& app);
Action add_compare_command(CLI::App& app);
Action add_predict_command(CLI::App& app);
Action add_replay_command(CLI::App& app);
Action add_report_command(CLI::App& app);
Action add_merge_command(CLI::App& app);
Action add_baseline_command(CLI::App& app);
Action add_screen_command(CLI::App& app);
Action add_export_command(CLI::App& app);

}  // namespace trainrate::cli
