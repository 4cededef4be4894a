#include "backends/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "backends/cpu/cpu_backends.hpp"
#ifdef TRAINRATE_HAVE_MPI
#include "backends/mpi/mpi_backend.hpp"
#endif
#ifdef TRAINRATE_HAVE_NCCL
#include "backends/nccl/nccl_backend.hpp"
#endif
#ifdef TRAINRATE_HAVE_CUDA
#include "backends/cuda/cuda_backends.hpp"
#endif

namespace trainrate {

namespace {

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = std::min(text.find(',', start), text.size());
    if (comma > start) parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return parts;
}

bool is_variant(const std::string& name) { return name.find('/') != std::string::npos; }

bool runs_collectives(const Backend& backend) {
  const auto& families = backend.facts().families;
  return std::find(families.begin(), families.end(), "collective") != families.end();
}

bool matches(const std::string& pattern, const std::string& name) {
  if (pattern == "all" || pattern == name) return true;
  // "family/*" selects every variant of a family.
  if (pattern.size() > 2 && pattern.ends_with("/*")) {
    return name.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  }
  return false;
}

}  // namespace

BackendSet make_available_backends() {
  BackendSet set;
#ifdef TRAINRATE_HAVE_CUDA
  set.gpu_unavailable_reason = append_cuda_backends(set.backends);
#else
  set.gpu_unavailable_reason = "this build has no CUDA support (configured with TRAINRATE_CUDA=OFF or no toolkit)";
#endif
  set.backends.push_back(make_openblas_backend());
  set.backends.push_back(make_onednn_backend());
  set.backends.push_back(make_onednn_plain_backend());
  for (auto& backend : make_custom_cpu_backends()) set.backends.push_back(std::move(backend));
#ifdef TRAINRATE_HAVE_MPI
  set.backends.push_back(make_mpi_backend());
#endif
#ifdef TRAINRATE_HAVE_NCCL
  if (set.gpu_unavailable_reason.empty()) set.backends.push_back(make_nccl_backend());
#endif
  return set;
}

std::vector<Backend*> select_backends(const BackendSet& set, const std::string& patterns) {
  std::vector<Backend*> selected;
  for (const std::string& pattern : split_commas(patterns)) {
    bool found = false;
    for (const auto& backend : set.backends) {
      if (!matches(pattern, backend->name())) continue;
      found = true;
      if (std::find(selected.begin(), selected.end(), backend.get()) == selected.end()) {
        selected.push_back(backend.get());
      }
    }
    if (!found) {
      std::string known;
      for (const auto& backend : set.backends) known += (known.empty() ? "" : ", ") + backend->name();
      std::string hint = set.gpu_unavailable_reason.empty() ? "" : " (no GPU backends: " + set.gpu_unavailable_reason + ")";
      throw std::invalid_argument(fmt::format("unknown backend '{}'; available: {}{}", pattern, known, hint));
    }
  }
  if (selected.empty()) throw std::invalid_argument("no backend selected");
  return selected;
}

std::vector<Backend*> default_backends(const BackendSet& set) {
  const bool has_gpu = set.gpu_unavailable_reason.empty();
  std::vector<Backend*> selected;
  for (const auto& backend : set.backends) {
    const bool on_gpu = backend->device().kind() != "cpu";
    if (on_gpu == has_gpu && !is_variant(backend->name()) && !runs_collectives(*backend)) {
      selected.push_back(backend.get());
    }
  }
  return selected;
}

std::vector<Backend*> collective_backends(const BackendSet& set) {
  std::vector<Backend*> selected;
  for (const auto& backend : set.backends) {
    if (runs_collectives(*backend)) selected.push_back(backend.get());
  }
  return selected;
}

}  // namespace trainrate
