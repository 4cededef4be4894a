#include "problems/collective.hpp"

#include <stdexcept>

namespace trainrate {

double collective_input_value(int64_t rank, int64_t index) { return double(rank + 1) + double(index % 13); }

std::vector<float> collective_input(const CollectiveProblem& problem, int64_t rank) {
  std::vector<float> values(size_t(operand_elements(problem).input0));
  for (size_t i = 0; i < values.size(); ++i) values[i] = float(collective_input_value(rank, int64_t(i)));
  return values;
}

double collective_expected_value(const CollectiveProblem& problem, int64_t rank, int64_t index) {
  const double n = double(problem.ranks);
  const double rank_sum = n * (n + 1) / 2;  // Σ (r + 1) over the ranks
  const int64_t block = problem.elements() / problem.ranks;
  switch (problem.op) {
    case CollectiveOp::all_reduce: return rank_sum + n * double(index % 13);
    case CollectiveOp::reduce_scatter: return rank_sum + n * double((rank * block + index) % 13);
    case CollectiveOp::all_gather: return collective_input_value(index / block, index % block);
    case CollectiveOp::broadcast: return collective_input_value(0, index);
  }
  throw std::logic_error("unknown collective");
}

double bus_bandwidth_factor(CollectiveOp op, int64_t ranks) {
  if (ranks < 1) throw std::invalid_argument("ranks must be >= 1");
  const double n = double(ranks);
  switch (op) {
    case CollectiveOp::all_reduce: return 2 * (n - 1) / n;
    case CollectiveOp::reduce_scatter:
    case CollectiveOp::all_gather: return (n - 1) / n;
    case CollectiveOp::broadcast: return 1;
  }
  throw std::logic_error("unknown collective");
}

}  // namespace trainrate
