// Measured rates R(problem, backend) for the models: looked up in a results file, measured on
// the spot, borrowed from the vendor backend of the problem's kind, or estimated from the nearest
// measured shape — and always labelled with where they came from.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "problems/problem.hpp"
#include "results/result.hpp"

namespace trainrate {

enum class RateOrigin {
  measured,      // an ok result for this exact problem and backend
  measured_now,  // measured during this prediction (--measure-missing)
  estimated,     // the rate of the nearest measured shape of the same kind
  missing,       // nothing to go on: left out of the totals, and said so
};
std::string_view to_string(RateOrigin origin);

// "custom-cpu" asks for the family: it matches "custom-cpu" and every "custom-cpu/<variant>".
bool backend_matches(const std::string& requested, const std::string& actual);

// Distance between two shapes for "nearest measured": Euclidean in (ln FLOPs, ln arithmetic
// intensity). Rate depends mostly on how much work there is (launch and threading overheads
// amortise with size) and on FLOPs per byte (memory- versus compute-bound). Memory-bound problems
// of one kind differ only in size: |ln bytes|.
double shape_distance(const Problem& a, const Problem& b);

class RateTable {
 public:
  RateTable() = default;
  // Keeps ok results as rates and skipped/failed/invalid ones as "cannot run". `preferred` is
  // framework or vendor_best: which view of a backend with both (BackendFacts::view) rates come from.
  explicit RateTable(const ResultsFile& results, RateView preferred = RateView::framework);

  // Rates are in the problem's unit of work (work()): FLOP/s, or bytes/s for memory-bound problems.
  void add(const std::string& backend, const Problem& problem, double rate_per_s);
  void add_unusable(const std::string& backend, const Problem& problem);
  // What the results say a backend is (Result::role, device_kind, view, framework_view_of).
  void declare(const std::string& backend, const std::string& role, const std::string& device_kind,
               RateView view = RateView::sole, const std::string& framework_view_of = {});
  void prefer(RateView view) { preferred_ = view; }
  RateView preferred() const { return preferred_; }
  struct Declared {
    std::string backend, role, device_kind;
    RateView view = RateView::sole;
    std::string framework_view_of;
  };
  // What the results say a backend is; empty when the table has never seen it.
  std::optional<Declared> declaration(const std::string& backend) const;
  // The declared framework view of a vendor-best backend; empty when the results have none.
  std::string framework_view(const std::string& backend) const;
  // The vendor backends on the same kind of device as `backend` (every declared vendor when its
  // device is unknown): where a rate is borrowed when the backend has none. A framework view is
  // not among them when its vendor-best backend is (look_up_rate reaches it from there).
  std::vector<std::string> vendors_beside(const std::string& backend) const;
  // The other, non-vendor backends on that kind of device: the last resort for an op no vendor
  // library has (the optimizer step, cross-entropy on oneDNN), as frameworks use their own kernels.
  std::vector<std::string> others_beside(const std::string& backend) const;

  // The best rate among matching backends (a family takes its best variant), if measured.
  std::optional<double> exact(const std::string& backend, const Problem& problem) const;
  // True when the backend's result for this problem says it could not run it (or ran it wrong).
  bool unusable(const std::string& backend, const Problem& problem) const;
  // Whether the backend has any rate for problems of the same kind and dtype.
  bool covers_kind(const std::string& backend, const Problem& problem) const;
  struct Nearest {
    Problem problem;
    double rate_per_s;
  };
  std::optional<Nearest> nearest(const std::string& backend, const Problem& problem) const;
  // Distinct backend names with at least one rate, in first-seen order.
  std::vector<std::string> backends() const;
  // Distinct problems with at least one rate, in first-seen order.
  std::vector<Problem> problems() const;

 private:
  struct Entry {
    std::string backend;
    Problem problem;
    double rate_per_s;
  };

  std::vector<std::string> beside(const std::string& backend, bool vendors) const;

  std::vector<Entry> rates_;
  std::vector<Entry> unusable_;
  std::vector<Declared> declared_;
  RateView preferred_ = RateView::framework;
};

struct RateLookup {
  double rate_per_s = 0;  // of work(problem): FLOP/s, or bytes/s if memory-bound; 0 when missing
  RateOrigin origin = RateOrigin::missing;
  std::string backend;          // whose rate it is: the requested backend or the vendor fallback
  std::string estimated_from;   // describe() of the nearest measured shape, for estimates
};

// Measures one problem on one backend now (its rate of work()); empty when it cannot (unsupported, wrong, failed).
using MeasureMissing = std::function<std::optional<double>(const std::string& backend, const Problem& problem)>;

// R for `problem` on `backend`, tried in this order on the backend, then on the vendor backends
// beside it when the backend cannot provide one (the best of theirs), then on the other backends
// beside it: exact result; measured now (when `measure` is set and the backend has not already
// failed it); nearest measured shape of the same kind.
// A backend with a framework view in the table tries the preferred view first: the framework view
// for the kinds it has rates of (by default), or the vendor-best backend (RateTable::prefer), the
// other standing in where the first has nothing. Measurements taken now are added to the table.
RateLookup look_up_rate(RateTable& table, const std::string& backend, const Problem& problem,
                        const MeasureMissing& measure = {});

}  // namespace trainrate
