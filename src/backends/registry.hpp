// Every backend built into this binary, and selection by name.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backends/backend.hpp"

namespace trainrate {

struct BackendSet {
  std::vector<std::unique_ptr<Backend>> backends;
  // Why no GPU backends are present (not built with CUDA, no device, driver too old); empty when they are.
  std::string gpu_unavailable_reason;
};

// Creates every backend this build and machine can run. GPU backends appear only when a usable
// GPU is present; CPU backends always.
BackendSet make_available_backends();

// Picks backends by comma-separated patterns: an exact name ("openblas"), a family with all its
// variants ("custom-cuda/*"), or "all". Throws std::invalid_argument naming an unknown pattern.
std::vector<Backend*> select_backends(const BackendSet& set, const std::string& patterns);

// The default selection: GPU backends when a GPU is present, else the CPU ones; custom ladders
// contribute only their best variant (the family name without "/variant").
// Collective backends (mpi, nccl) are left out: they run only the collectives suite.
std::vector<Backend*> default_backends(const BackendSet& set);

// The backends that run collectives here (make_available_backends adds nccl only with a GPU): mpi, nccl;
// empty when this build has neither (then `run --suite collectives` says so).
std::vector<Backend*> collective_backends(const BackendSet& set);

}  // namespace trainrate
