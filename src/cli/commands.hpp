// The trainrate subcommands. Each add_*_command registers its options on `app` and returns
// the action main() runs when that subcommand is chosen; the action returns the exit status.
//
// Exit statuses: 0 success, 1 a runtime failure (or a flagged device for merge), 2 bad input
// (usage, unreadable or malformed files), 130/143 interrupted by SIGINT/SIGTERM.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace trainrate::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitBadInput = 2;

using Action = std::function<int()>;

Action add_devices_command(CLI::App& app);
Action add_run_command(CLI::App& app);
Action add_compare_command(CLI::App& app);
Action add_predict_command(CLI::App& app);
Action add_replay_command(CLI::App& app);
Action add_report_command(CLI::App& app);
Action add_merge_command(CLI::App& app);

}  // namespace trainrate::cli
