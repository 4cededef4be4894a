// trainrate devices: what this machine has, and how fast each device could go.
#include <fmt/format.h>

#include <iostream>

#include "backends/registry.hpp"
#include "cli/commands.hpp"
#include "reports/table.hpp"
#include "run/environment.hpp"
#include "results/results_json.hpp"

namespace trainrate::cli {

namespace {

void print_device(const DeviceInfo& info) {
  fmt::print("{} ({}): {}\n", info.id, info.kind, info.name);
  for (const auto& [key, value] : info.properties) fmt::print("  {:<22} {}\n", key, value);
  for (const auto& [dtype, rate] : info.peaks.datasheet_flops_per_s) {
    fmt::print("  peak {:<17} {} (datasheet)\n", to_string(dtype), format_rate(rate));
  }
  for (const auto& [dtype, rate] : info.peaks.measured_flops_per_s) {
    fmt::print("  peak {:<17} {} (measured ceiling)\n", to_string(dtype), format_rate(rate));
  }
  if (info.peaks.datasheet_bytes_per_s) {
    fmt::print("  {:<22} {:.1f} GB/s (datasheet)\n", "bandwidth", *info.peaks.datasheet_bytes_per_s / 1e9);
  }
  if (info.peaks.measured_bytes_per_s) {
    fmt::print("  {:<22} {:.1f} GB/s (measured triad)\n", "bandwidth", *info.peaks.measured_bytes_per_s / 1e9);
  }
}

}  // namespace

Action add_devices_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("devices", "List the devices and backends present, with their peak rates");
  auto json_output = std::make_shared<bool>(false);
  cmd->add_flag("--json", *json_output,
                "Print as JSON: {devices: [...], backends: [names], libraries: {name: version}, gpu_unavailable_reason}");
  return [json_output] {
    const BackendSet set = make_available_backends();
    std::vector<Device*> devices;
    for (const auto& backend : set.backends) {
      if (std::find(devices.begin(), devices.end(), &backend->device()) == devices.end()) {
        devices.push_back(&backend->device());
      }
    }
    ResultsFile summary;
    for (Device* device : devices) summary.devices.push_back(device->info());
    if (*json_output) {
      nlohmann::json backends = nlohmann::json::array();
      for (const auto& backend : set.backends) backends.push_back(backend->name());
      nlohmann::json out{{"devices", to_json(summary).at("devices")},
                         {"backends", backends},
                         {"libraries", cpu_library_versions()},
                         {"gpu_unavailable_reason", set.gpu_unavailable_reason.empty()
                                                        ? nlohmann::json(nullptr)
                                                        : nlohmann::json(set.gpu_unavailable_reason)}};
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    for (const DeviceInfo& info : summary.devices) print_device(info);
    if (!set.gpu_unavailable_reason.empty()) fmt::print("GPU: none usable ({})\n", set.gpu_unavailable_reason);
    fmt::print("backends:");
    for (const auto& backend : set.backends) fmt::print(" {}", backend->name());
    fmt::print("\n");
    // The vendor libraries' builds, so a surprising ratio can be traced to the vendor's kernels.
    for (const auto& [library, version] : cpu_library_versions()) fmt::print("{}: {}\n", library, version);
    return kExitOk;
  };
}

}  // namespace trainrate::cli
