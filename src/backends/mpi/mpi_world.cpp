#include "backends/mpi/mpi_world.hpp"

#include <fmt/format.h>

#include <set>
#include <stdexcept>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace trainrate {

namespace {

// Open MPI's start and finish allocate what it never frees (its components are unloaded before the
// leak check, so suppressions by library name cannot match): not this program's leaks to report.
struct OpenMpiLeaksIgnored {
#if defined(__SANITIZE_ADDRESS__)
  __lsan::ScopedDisabler disabler;
#endif
};

}  // namespace

void check_mpi(int status, const char* call) {
  if (status == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(status, text, &length);
  throw std::runtime_error(fmt::format("{} failed: {}", call, std::string(text, size_t(length))));
}

MpiWorld& MpiWorld::instance() {
  static MpiWorld world;
  return world;
}

// Funneled: OpenMP threads elsewhere never call MPI.
MpiWorld::MpiWorld() {
  int provided = 0;
  [[maybe_unused]] const OpenMpiLeaksIgnored ignored;
  check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as status codes (check_mpi throws), not as an abort of every rank.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  group_.rank = rank;
  group_.ranks = size;
  char version[MPI_MAX_LIBRARY_VERSION_STRING];
  int length = 0;
  MPI_Get_library_version(version, &length);
  library_ = std::string(version, size_t(length));
  library_ = library_.substr(0, library_.find_first_of(",\n"));
  gather_hosts();
  MPI_Comm local;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &local), "MPI_Comm_split_type");
  int local_rank = 0;
  MPI_Comm_rank(local, &local_rank);
  local_rank_ = local_rank;
  MPI_Comm_free(&local);
}

MpiWorld::~MpiWorld() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  [[maybe_unused]] const OpenMpiLeaksIgnored ignored;
  if (!finalized) MPI_Finalize();
}

void MpiWorld::gather_hosts() {
  char name[MPI_MAX_PROCESSOR_NAME] = {};
  int length = 0;
  MPI_Get_processor_name(name, &length);
  std::vector<char> all(size_t(MPI_MAX_PROCESSOR_NAME) * size_t(group_.ranks));
  check_mpi(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                          MPI_COMM_WORLD),
            "MPI_Allgather");
  for (int64_t r = 0; r < group_.ranks; ++r) hosts_.emplace_back(&all[size_t(r) * MPI_MAX_PROCESSOR_NAME]);
  group_.nodes = int64_t(std::set<std::string>(hosts_.begin(), hosts_.end()).size());
}

double slowest_rank_ms(double local_ms) {
  double slowest_ms = 0;
  check_mpi(MPI_Allreduce(&local_ms, &slowest_ms, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
  return slowest_ms;
}

int64_t sum_over_world(int64_t value) {
  int64_t sum = 0;
  check_mpi(MPI_Allreduce(&value, &sum, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
  return sum;
}

std::vector<std::vector<double>> gather_over_world(const std::vector<double>& values) {
  const size_t ranks = size_t(MpiWorld::instance().group().ranks);
  const int count = int(values.size());
  std::vector<int> counts(ranks), offsets(ranks);
  check_mpi(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD), "MPI_Allgather");
  for (size_t r = 1; r < ranks; ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  std::vector<double> all(size_t(offsets.back() + counts.back()));
  check_mpi(MPI_Allgatherv(values.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE,
                           MPI_COMM_WORLD),
            "MPI_Allgatherv");
  std::vector<std::vector<double>> per_rank;
  for (size_t r = 0; r < ranks; ++r) {
    const auto first = all.begin() + offsets[r];
    per_rank.emplace_back(first, first + counts[r]);
  }
  return per_rank;
}

void add_world_properties(DeviceInfo& info) {
  const MpiWorld& world = MpiWorld::instance();
  info.properties["ranks"] = std::to_string(world.group().ranks);
  info.properties["nodes"] = std::to_string(world.group().nodes);
  info.properties["library"] = world.library();
  std::string hosts;
  for (const std::string& host : world.hosts()) hosts += (hosts.empty() ? "" : ",") + host;
  info.properties["rank_hosts"] = hosts;
}


}  // namespace trainrate
