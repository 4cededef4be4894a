// What a device says about itself at one moment (a GPU, through NVML): enough to tell a
// measurement slowed by heat or by the board's power limit from one slowed by the code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trainrate {

struct DeviceState {
  std::optional<double> sm_clock_mhz;
  std::optional<double> temperature_c;
  std::optional<double> power_w;
  // Active clock slowdowns the code did not cause, by the names of kSlowdowns.
  std::vector<std::string> slowdowns;
  bool operator==(const DeviceState&) const = default;
};

struct Slowdown {
  uint64_t nvml_bit;  // NVML's clocks-event (formerly throttle) reason bit
  std::string_view name;
  // Heat and hardware slowdowns pass with a rest, so a measurement under one is taken again. The
  // power cap does not: a busy chip holds its limit, which is the rate a training job gets too, so
  // a capped measurement is kept and flagged.
  bool passes_with_rest;
};

inline constexpr Slowdown kSlowdowns[] = {
    {0x04, "sw-power-cap", false}, {0x08, "hw-slowdown", true},     {0x20, "sw-thermal", true},
    {0x40, "hw-thermal", true},    {0x80, "hw-power-brake", true},
};

// The names of the slowdowns set in an NVML clocks-event reason mask (idle, application clocks,
// sync boost and display clocks are not slowdowns of a busy chip and are left out).
std::vector<std::string> slowdown_names(uint64_t nvml_reasons);
bool passes_with_rest(std::string_view slowdown);

}  // namespace trainrate
