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
      {"merge", add_merge_command(app)},
  };
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 prints help to stdout (exit 0) and usage errors to stderr (exit 106 etc.); we map
    // the latter onto our "bad input" status so scripts see one code for it.
    const int code = app.exit(e);
    return e.get_exit_code() == 0 ? code : kExitBadInput;
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
