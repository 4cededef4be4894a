#include "models/rates.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace trainrate {

namespace {

bool same_kind(const Problem& a, const Problem& b) {
  return kind_label(a) == kind_label(b) && dtype_of(a) == dtype_of(b);
}

// The tried-in-order chain for one backend; empty when it has nothing for this problem.
std::optional<RateLookup> look_up_on(RateTable& table, const std::string& backend, const Problem& problem,
                                     const MeasureMissing& measure) {
  if (auto rate = table.exact(backend, problem)) return RateLookup{*rate, RateOrigin::measured, backend, {}};
  if (table.unusable(backend, problem)) return std::nullopt;
  if (measure) {
    if (auto rate = measure(backend, problem)) {
      table.add(backend, problem, *rate);
      return RateLookup{*rate, RateOrigin::measured_now, backend, {}};
    }
    table.add_unusable(backend, problem);  // so the vendor fallback is not tried twice on it
    return std::nullopt;
  }
  if (auto near = table.nearest(backend, problem)) {
    return RateLookup{near->rate_per_s, RateOrigin::estimated, backend, describe(near->problem)};
  }
  return std::nullopt;
}

// The backend's chain and its framework view's: the view first where the table prefers it and it
// has rates of the problem's kind, else the backend first; the other only where the first has
// nothing for this problem (no rate of the kind, or skipped, failed or INVALID there).
std::optional<RateLookup> look_up_viewed(RateTable& table, const std::string& backend, const Problem& problem,
                                         const MeasureMissing& measure) {
  const std::string view = table.framework_view(backend);
  if (view.empty()) return look_up_on(table, backend, problem, measure);
  const bool view_first = table.preferred() == RateView::framework && table.covers_kind(view, problem);
  for (const std::string& name : view_first ? std::array{view, backend} : std::array{backend, view}) {
    if (auto found = look_up_on(table, name, problem, measure)) return found;
  }
  return std::nullopt;
}

// Measured beats estimated; between equals, the faster vendor (the one a user would call).
bool better_lookup(const RateLookup& a, const RateLookup& b) {
  const bool a_estimated = a.origin == RateOrigin::estimated, b_estimated = b.origin == RateOrigin::estimated;
  if (a_estimated != b_estimated) return b_estimated;
  return a.rate_per_s > b.rate_per_s;
}

}  // namespace

std::string_view to_string(RateOrigin origin) {
  switch (origin) {
    case RateOrigin::measured: return "measured";
    case RateOrigin::measured_now: return "measured-now";
    case RateOrigin::estimated: return "estimated";
    case RateOrigin::missing: return "missing";
  }
  return "?";
}

bool backend_matches(const std::string& requested, const std::string& actual) {
  return actual == requested || actual.starts_with(requested + "/");
}

double shape_distance(const Problem& a, const Problem& b) {
  if (is_memory_bound(a) || is_memory_bound(b)) return std::abs(std::log(min_bytes(a)) - std::log(min_bytes(b)));
  const double d_flops = std::log(flops(a)) - std::log(flops(b));
  const double d_intensity = std::log(flops(a) / min_bytes(a)) - std::log(flops(b) / min_bytes(b));
  return std::hypot(d_flops, d_intensity);
}

RateTable::RateTable(const ResultsFile& results, RateView preferred) : preferred_(preferred) {
  for (const Result& r : results.results) {
    declare(r.backend, r.role, r.device_kind, r.view, r.framework_view_of);
    if (r.status == ResultStatus::ok && work_rate_per_s(r) > 0) {
      add(r.backend, r.problem, work_rate_per_s(r));
    } else if (r.status != ResultStatus::ok) {
      add_unusable(r.backend, r.problem);
    }
  }
}

void RateTable::add(const std::string& backend, const Problem& problem, double rate_per_s) {
  rates_.push_back({backend, problem, rate_per_s});
}

void RateTable::declare(const std::string& backend, const std::string& role, const std::string& device_kind,
                        RateView view, const std::string& framework_view_of) {
  if (!declaration(backend)) declared_.push_back({backend, role, device_kind, view, framework_view_of});
}

std::optional<RateTable::Declared> RateTable::declaration(const std::string& backend) const {
  for (const Declared& d : declared_) {
    if (d.backend == backend) return d;
  }
  return std::nullopt;
}

std::string RateTable::framework_view(const std::string& backend) const {
  for (const Declared& d : declared_) {
    if (d.view == RateView::framework && d.framework_view_of == backend) return d.backend;
  }
  return {};
}

std::vector<std::string> RateTable::beside(const std::string& backend, bool vendors) const {
  std::optional<std::string> kind;
  for (const Declared& d : declared_) {
    if (backend_matches(backend, d.backend) && !d.device_kind.empty()) kind = d.device_kind;
  }
  std::vector<std::string> names;
  for (const Declared& d : declared_) {
    const bool reached_through_its_vendor_best = d.view == RateView::framework && declaration(d.framework_view_of);
    const bool wanted =
        (d.role == "vendor") == vendors && !backend_matches(backend, d.backend) && !reached_through_its_vendor_best;
    if (wanted && (!kind || d.device_kind == *kind)) names.push_back(d.backend);
  }
  return names;
}

std::vector<std::string> RateTable::vendors_beside(const std::string& backend) const { return beside(backend, true); }

std::vector<std::string> RateTable::others_beside(const std::string& backend) const { return beside(backend, false); }

void RateTable::add_unusable(const std::string& backend, const Problem& problem) {
  unusable_.push_back({backend, problem, 0});
}

std::optional<double> RateTable::exact(const std::string& backend, const Problem& problem) const {
  std::optional<double> best;
  for (const Entry& e : rates_) {
    if (backend_matches(backend, e.backend) && e.problem == problem) {
      best = std::max(best.value_or(0), e.rate_per_s);
    }
  }
  return best;
}

bool RateTable::unusable(const std::string& backend, const Problem& problem) const {
  // Only when no matching row succeeded: a family with one working variant is usable.
  if (exact(backend, problem)) return false;
  return std::any_of(unusable_.begin(), unusable_.end(),
                     [&](const Entry& e) { return backend_matches(backend, e.backend) && e.problem == problem; });
}

bool RateTable::covers_kind(const std::string& backend, const Problem& problem) const {
  return std::any_of(rates_.begin(), rates_.end(), [&](const Entry& e) {
    return backend_matches(backend, e.backend) && same_kind(e.problem, problem);
  });
}

std::optional<RateTable::Nearest> RateTable::nearest(const std::string& backend, const Problem& problem) const {
  const Entry* best = nullptr;
  double best_distance = std::numeric_limits<double>::infinity();
  for (const Entry& e : rates_) {
    if (!backend_matches(backend, e.backend) || !same_kind(e.problem, problem)) continue;
    const double d = shape_distance(e.problem, problem);
    // Ties (the same shape in several variants of a family) go to the faster row, as in exact().
    if (d < best_distance || (d == best_distance && e.rate_per_s > best->rate_per_s)) {
      best = &e, best_distance = d;
    }
  }
  if (!best) return std::nullopt;
  return Nearest{best->problem, best->rate_per_s};
}

std::vector<std::string> RateTable::backends() const {
  std::vector<std::string> names;
  for (const Entry& e : rates_) {
    if (std::find(names.begin(), names.end(), e.backend) == names.end()) names.push_back(e.backend);
  }
  return names;
}

std::vector<Problem> RateTable::problems() const {
  std::vector<Problem> problems;
  for (const Entry& e : rates_) {
    if (std::find(problems.begin(), problems.end(), e.problem) == problems.end()) problems.push_back(e.problem);
  }
  return problems;
}

RateLookup look_up_rate(RateTable& table, const std::string& backend, const Problem& problem,
                        const MeasureMissing& measure) {
  if (auto found = look_up_viewed(table, backend, problem, measure)) return *found;
  for (const auto& stand_ins : {table.vendors_beside(backend), table.others_beside(backend)}) {
    std::optional<RateLookup> best;
    for (const std::string& stand_in : stand_ins) {
      auto found = look_up_viewed(table, stand_in, problem, measure);
      if (found && (!best || better_lookup(*found, *best))) best = found;
    }
    if (best) return *best;
  }
  return RateLookup{0, RateOrigin::missing, backend, {}};
}

}  // namespace trainrate
