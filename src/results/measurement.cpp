#include "results/measurement.hpp"

namespace trainrate {

std::string_view to_string(CacheMode mode) { return mode == CacheMode::cold ? "cold" : "hot"; }

}  // namespace trainrate
