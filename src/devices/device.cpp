#include "devices/device.hpp"

namespace trainrate {

std::optional<double> Peaks::flops_per_s(Dtype dtype) const {
  if (auto it = datasheet_flops_per_s.find(dtype); it != datasheet_flops_per_s.end()) return it->second;
  if (auto it = measured_flops_per_s.find(dtype); it != measured_flops_per_s.end()) return it->second;
  return std::nullopt;
}

std::optional<double> Peaks::bytes_per_s() const {
  return datasheet_bytes_per_s ? datasheet_bytes_per_s : measured_bytes_per_s;
}

}  // namespace trainrate
