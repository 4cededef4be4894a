#include "backends/mpi/mpi_backend.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <chrono>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/gemm.hpp"
#include "backends/collective_buffers.hpp"
#include "backends/mpi/mpi_world.hpp"
#include "problems/collective.hpp"

namespace trainrate {

namespace {

// Each sample is the slowest rank's: a collective is done when its last rank is (nccl-tests does
// the same). The barrier lines the ranks up so none is timed waiting for a late starter.
class MpiTimer final : public Timer {
 public:
  void start() override {
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    start_ = std::chrono::steady_clock::now();
  }
  double stop_ms() override {
    return slowest_rank_ms(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

class MpiDevice final : public Device {
 public:
  std::string_view kind() const override { return "mpi"; }
  const DeviceInfo& info() override {
    if (info_.id.empty()) {
      const MpiWorld& world = MpiWorld::instance();
      info_.id = "mpi";
      info_.kind = "mpi";
      info_.name = fmt::format("{} ranks on {} nodes ({})", world.group().ranks, world.group().nodes, world.library());
      add_world_properties(info_);
    }
    return info_;
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<MpiTimer>(); }
  MeasureDefaults measure_defaults() const override { return {false, 0.01}; }
  // Collectives are timed hot (the CLI refuses --cold for them): a flush on one rank's caches says
  // nothing about the network, and its time differs by rank, which would split the ranks' stopping.
  void flush_caches() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  ProcessGroup process_group() override { return MpiWorld::instance().group(); }
  int64_t sum_over_group(int64_t value) override { return sum_over_world(value); }
  std::vector<std::vector<double>> gather_over_group(const std::vector<double>& values) override {
    return gather_over_world(values);
  }

 private:
  DeviceInfo info_;
};

// MPI has no bf16 type: bf16 moves as 16-bit integers and sums through this operation, in fp32
// with one rounding per addition, as NCCL's bf16 sum does.
void bf16_sum(void* in, void* inout, int* count, MPI_Datatype*) {
  const auto* a = static_cast<const uint16_t*>(in);
  auto* b = static_cast<uint16_t*>(inout);
  const auto widen = [](uint16_t bits) {
    const uint32_t wide = uint32_t(bits) << 16;  // bf16 is the upper half of an fp32
    float value;
    std::memcpy(&value, &wide, sizeof value);
    return value;
  };
  for (int i = 0; i < *count; ++i) b[i] = kernels::cpu::to_bf16(widen(a[i]) + widen(b[i]));
}

MPI_Op bf16_sum_op() {
  static const MPI_Op op = [] {
    MPI_Op created;
    check_mpi(MPI_Op_create(&bf16_sum, 1, &created), "MPI_Op_create");
    return created;
  }();
  return op;
}

// A rank's buffers in the problem's storage type: the send buffer filled from the closed form, the
// receive buffer with that too, so broadcast's non-root ranks visibly start from their own values.
class MpiPrepared final : public PreparedProblem {
 public:
  MpiPrepared(const CollectiveProblem& problem, int64_t rank) : problem_(problem) {
    const OperandSizes sizes = operand_elements(problem);
    const std::vector<float> input = collective_input(problem, rank);
    send_ = stored_values(input, problem.dtype);
    // All-gather receives more than it sends: the rest of its buffer starts as zeros.
    recv_ = stored_values(std::vector<float>(input.begin(), input.begin() + std::min(sizes.input0, sizes.output)),
                          problem.dtype);
    recv_.resize(size_t(sizes.output) * size_t(storage_bytes(problem.dtype)));
  }

  void run() override {
    const bool bf16 = problem_.dtype == Dtype::bf16;
    const MPI_Datatype type = bf16 ? MPI_UINT16_T : MPI_FLOAT;
    const MPI_Op sum = bf16 ? bf16_sum_op() : MPI_SUM;
    const int block = int(problem_.elements() / problem_.ranks);
    const int count = int(problem_.elements());
    switch (problem_.op) {
      case CollectiveOp::all_reduce:
        check_mpi(MPI_Allreduce(send_.data(), recv_.data(), count, type, sum, MPI_COMM_WORLD), "MPI_Allreduce");
        break;
      case CollectiveOp::reduce_scatter:
        check_mpi(MPI_Reduce_scatter_block(send_.data(), recv_.data(), block, type, sum, MPI_COMM_WORLD),
                  "MPI_Reduce_scatter_block");
        break;
      case CollectiveOp::all_gather:
        check_mpi(MPI_Allgather(send_.data(), block, type, recv_.data(), block, type, MPI_COMM_WORLD), "MPI_Allgather");
        break;
      case CollectiveOp::broadcast:
        check_mpi(MPI_Bcast(recv_.data(), count, type, 0, MPI_COMM_WORLD), "MPI_Bcast");
        break;
    }
  }

  std::vector<float> output() override { return widened_values(recv_, problem_.dtype); }

  std::string algorithm() const override {
    switch (problem_.op) {
      case CollectiveOp::all_reduce: return "MPI_Allreduce";
      case CollectiveOp::reduce_scatter: return "MPI_Reduce_scatter_block";
      case CollectiveOp::all_gather: return "MPI_Allgather";
      case CollectiveOp::broadcast: return "MPI_Bcast";
    }
    return {};
  }

 private:
  CollectiveProblem problem_;
  std::vector<char> send_, recv_;
};

class MpiBackend final : public Backend {
 public:
  MpiBackend()
      : Backend(BackendFacts{"mpi", BackendRole::vendor, "mpi", {}, {"collective"}, {Dtype::fp32, Dtype::bf16}}) {}
  Device& device() const override { return device_; }
  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs&) override {
    return std::make_unique<MpiPrepared>(std::get<CollectiveProblem>(problem), device_.process_group().rank);
  }

 protected:
  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    const auto& c = std::get<CollectiveProblem>(problem);
    const int64_t ranks = device_.process_group().ranks;
    if (c.ranks != ranks) return fmt::format("the problem is for {} ranks but {} are running", c.ranks, ranks);
    return std::nullopt;
  }

 private:
  mutable MpiDevice device_;
};

}  // namespace

std::unique_ptr<Backend> make_mpi_backend() { return std::make_unique<MpiBackend>(); }

}  // namespace trainrate
