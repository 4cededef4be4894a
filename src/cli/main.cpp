// trainrate: measure the real rate R of training kernels, and turn it into predictions.
#include <fmt/format.h>

#include <map>

#include "backends/cpu/cpu_backends.hpp"
#include "cli/commands.hpp"
#include "problems/problem_json.hpp"

int main(int argc, char** argv) {
  trainrate::use_openblas_kernels_for_this_cpu(argv);
  CLI::App app{"trainrate: measure the real FLOP/s of the kernels that dominate deep-learning training,\n"
               "vendor libraries against hand-written kernels, and predict training time from it."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(TRAINRATE_VERSION));
  using namespace trainrate::cli;
  const std::map<std::string, Action> actions{
      {"devices", add_devices_command(app)}, {"run", add_run_command(app)},
      {"compare", add_compare_command(app)}, {"predict", add_predict_command(app)},
      {"replay", add_replay_command(app)},   {"report", add_report_command(app)},
      {"merge", add_merge_command(app)},     {"baseline", add_baseline_command(app)},
      {"screen", add_screen_command(app)},   {"export", add_export_command(app)},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help and --version are "errors" that exit 0. Usage errors read like every other error and
    // exit with our "bad input" status (CLI11's own codes are 106 and the like).
    if (e.get_exit_code() == 0) return app.exit(e);
    const auto subcommands = app.get_subcommands();
    const std::string command = subcommands.empty() ? "trainrate" : "trainrate " + subcommands.front()->get_name();
    fmt::print(stderr, "{}: error: {}\n", command, e.what());
    return kExitBadInput;
  }
  for (const auto& [name, action] : actions) {
    if (!app.got_subcommand(name)) continue;
    try {
      return action();
    } catch (const trainrate::InputError& e) {
      fmt::print(stderr, "trainrate {}: error: {}\n", name, e.what());
      return kExitBadInput;
    } catch (const std::invalid_argument& e) {
      fmt::print(stderr, "trainrate {}: error: {}\n", name, e.what());
      return kExitBadInput;
    } catch (const std::exception& e) {
      fmt::print(stderr, "trainrate {}: failed: {}\n", name, e.what());
      return kExitFailure;
    }
  }
  return kExitBadInput;
}
