#include "backends/nccl/nccl_backend.hpp"

#include <cuda_runtime.h>
#include <fmt/format.h>
#include <nccl.h>

#include <chrono>
#include <stdexcept>
#include <vector>

#include "backends/collective_buffers.hpp"
#include "backends/mpi/mpi_world.hpp"
#include "kernels/cuda/check.hpp"
#include "problems/collective.hpp"

namespace trainrate {

namespace {

void check_nccl(ncclResult_t status, const char* call) {
  if (status == ncclSuccess) return;
  throw std::runtime_error(fmt::format("{} failed: {} ({})", call, ncclGetErrorString(status), ncclGetLastError(nullptr)));
}

// This rank's GPU (local rank modulo the GPUs visible), its stream and the NCCL communicator over
// every rank, created on first use.
class NcclWorld {
 public:
  static NcclWorld& instance() {
    static NcclWorld world;
    return world;
  }
  ncclComm_t comm() const { return comm_; }
  cudaStream_t stream() const { return stream_; }
  int gpu() const { return gpu_; }

 private:
  NcclWorld() {
    const MpiWorld& mpi = MpiWorld::instance();
    int gpus = 0;
    TRAINRATE_CUDA_CHECK(cudaGetDeviceCount(&gpus));
    if (gpus < 1) throw std::runtime_error("nccl: no GPU visible to this rank");
    gpu_ = int(mpi.local_rank() % gpus);
    TRAINRATE_CUDA_CHECK(cudaSetDevice(gpu_));
    TRAINRATE_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    ncclUniqueId id;
    if (mpi.group().rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    check_mpi(MPI_Bcast(&id, sizeof id, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    check_nccl(ncclCommInitRank(&comm_, int(mpi.group().ranks), id, int(mpi.group().rank)), "ncclCommInitRank");
  }
  ~NcclWorld() {
    ncclCommDestroy(comm_);
    cudaStreamDestroy(stream_);
  }

  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  int gpu_ = 0;
};

// The slowest rank's time, as for mpi; each rank waits for its own stream before reporting.
class NcclTimer final : public Timer {
 public:
  void start() override {
    check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
    start_ = std::chrono::steady_clock::now();
  }
  double stop_ms() override {
    TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(NcclWorld::instance().stream()));
    return slowest_rank_ms(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_).count());
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

class NcclDevice final : public Device {
 public:
  std::string_view kind() const override { return "nccl"; }
  const DeviceInfo& info() override {
    if (info_.id.empty()) {
      const NcclWorld& world = NcclWorld::instance();
      cudaDeviceProp prop{};
      TRAINRATE_CUDA_CHECK(cudaGetDeviceProperties(&prop, world.gpu()));
      int version = 0;
      check_nccl(ncclGetVersion(&version), "ncclGetVersion");
      info_.id = "nccl";
      info_.kind = "nccl";
      info_.name = fmt::format("{} ranks, one {} each (NCCL {})", MpiWorld::instance().group().ranks, prop.name, version);
      add_world_properties(info_);
      info_.properties["nccl_version"] = std::to_string(version);
    }
    return info_;
  }
  std::unique_ptr<Timer> make_timer() override { return std::make_unique<NcclTimer>(); }
  MeasureDefaults measure_defaults() const override { return {false, 0.005}; }
  void flush_caches() override { check_mpi(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }
  std::optional<int64_t> free_device_memory_bytes() override {
    size_t free_bytes = 0, total_bytes = 0;
    TRAINRATE_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    return int64_t(free_bytes);
  }
  ProcessGroup process_group() override { return MpiWorld::instance().group(); }
  int64_t sum_over_group(int64_t value) override { return sum_over_world(value); }
  std::vector<std::vector<double>> gather_over_group(const std::vector<double>& values) override {
    return gather_over_world(values);
  }

 private:
  DeviceInfo info_;
};

ncclDataType_t nccl_type(Dtype dtype) { return dtype == Dtype::bf16 ? ncclBfloat16 : ncclFloat32; }

class NcclPrepared final : public PreparedProblem {
 public:
  NcclPrepared(const CollectiveProblem& problem, int64_t rank) : problem_(problem) {
    const OperandSizes sizes = operand_elements(problem);
    const std::vector<float> input = collective_input(problem, rank);
    const std::vector<char> send = stored_values(input, problem.dtype);
    const std::vector<char> recv = stored_values(
        std::vector<float>(input.begin(), input.begin() + std::min(sizes.input0, sizes.output)), problem.dtype);
    recv_bytes_ = size_t(sizes.output) * size_t(storage_bytes(problem.dtype));
    TRAINRATE_CUDA_CHECK(cudaMalloc(&send_, send.size()));
    TRAINRATE_CUDA_CHECK(cudaMalloc(&recv_, recv_bytes_));
    TRAINRATE_CUDA_CHECK(cudaMemcpy(send_, send.data(), send.size(), cudaMemcpyHostToDevice));
    TRAINRATE_CUDA_CHECK(cudaMemcpy(recv_, recv.data(), recv.size(), cudaMemcpyHostToDevice));
  }
  ~NcclPrepared() override {
    cudaFree(send_);
    cudaFree(recv_);
  }

  void run() override {
    const NcclWorld& world = NcclWorld::instance();
    const ncclDataType_t type = nccl_type(problem_.dtype);
    const size_t block = size_t(problem_.elements() / problem_.ranks);
    const size_t count = size_t(problem_.elements());
    switch (problem_.op) {
      case CollectiveOp::all_reduce:
        check_nccl(ncclAllReduce(send_, recv_, count, type, ncclSum, world.comm(), world.stream()), "ncclAllReduce");
        break;
      case CollectiveOp::reduce_scatter:
        check_nccl(ncclReduceScatter(send_, recv_, block, type, ncclSum, world.comm(), world.stream()),
                   "ncclReduceScatter");
        break;
      case CollectiveOp::all_gather:
        check_nccl(ncclAllGather(send_, recv_, block, type, world.comm(), world.stream()), "ncclAllGather");
        break;
      case CollectiveOp::broadcast:
        check_nccl(ncclBroadcast(recv_, recv_, count, type, 0, world.comm(), world.stream()), "ncclBroadcast");
        break;
    }
  }

  std::vector<float> output() override {
    TRAINRATE_CUDA_CHECK(cudaStreamSynchronize(NcclWorld::instance().stream()));
    std::vector<char> bytes(recv_bytes_);
    TRAINRATE_CUDA_CHECK(cudaMemcpy(bytes.data(), recv_, recv_bytes_, cudaMemcpyDeviceToHost));
    return widened_values(bytes, problem_.dtype);
  }

  std::string algorithm() const override { return fmt::format("nccl {}", to_string(problem_.op)); }

 private:
  CollectiveProblem problem_;
  void* send_ = nullptr;
  void* recv_ = nullptr;
  size_t recv_bytes_ = 0;
};

class NcclBackend final : public Backend {
 public:
  NcclBackend()
      : Backend(BackendFacts{"nccl", BackendRole::vendor, "nccl", {}, {"collective"},
                             {Dtype::fp32, Dtype::bf16}}) {}
  Device& device() const override { return device_; }
  std::unique_ptr<PreparedProblem> prepare(const Problem& problem, const HostInputs&) override {
    return std::make_unique<NcclPrepared>(std::get<CollectiveProblem>(problem), device_.process_group().rank);
  }

 protected:
  std::optional<std::string> reason_beyond_facts(const Problem& problem) const override {
    const auto& c = std::get<CollectiveProblem>(problem);
    const int64_t ranks = device_.process_group().ranks;
    if (c.ranks != ranks) return fmt::format("the problem is for {} ranks but {} are running", c.ranks, ranks);
    return std::nullopt;
  }

 private:
  mutable NcclDevice device_;
};

}  // namespace

std::unique_ptr<Backend> make_nccl_backend() { return std::make_unique<NcclBackend>(); }

}  // namespace trainrate
