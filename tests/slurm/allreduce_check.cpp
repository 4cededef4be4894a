// A 2-rank MPI all-reduce for the two-node Slurm test: proves that srun --mpi=pmix wires up Open MPI
// ranks on different nodes and that a sum of a large buffer crosses the link between them.
// Each rank r fills element i with (r + 1) * (i % 8); after the sum every element must be
// (1 + 2 + ... + n) * (i % 8), small integers that float holds exactly.
//   allreduce_check EXPECTED_RANKS BUFFER_BYTES
// Prints one line per rank, "allreduce_check: rank R/N on HOST: ok", and exits 1 on a wrong sum
// or rank count.
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

bool sum_is_exact(const std::vector<float>& summed, int ranks) {
  const float rank_sum = static_cast<float>(ranks * (ranks + 1) / 2);
  for (std::size_t i = 0; i < summed.size(); ++i) {
    if (summed[i] != rank_sum * static_cast<float>(i % 8)) {
      std::fprintf(stderr, "allreduce_check: element %zu is %g, expected %g\n", i, summed[i],
                   rank_sum * static_cast<float>(i % 8));
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0;
  int ranks = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  char host[MPI_MAX_PROCESSOR_NAME] = {};
  int host_length = 0;
  MPI_Get_processor_name(host, &host_length);

  const int expected_ranks = argc > 1 ? std::atoi(argv[1]) : 2;
  const long buffer_bytes = argc > 2 ? std::atol(argv[2]) : 4L << 20;
  if (ranks != expected_ranks || buffer_bytes < static_cast<long>(sizeof(float))) {
    std::fprintf(stderr, "allreduce_check: rank %d: %d ranks, expected %d (buffer %ld bytes)\n", rank,
                 ranks, expected_ranks, buffer_bytes);
    MPI_Finalize();
    return 1;
  }
  std::vector<float> values(static_cast<std::size_t>(buffer_bytes) / sizeof(float));
  for (std::size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<float>(rank + 1) * static_cast<float>(i % 8);
  }
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_FLOAT, MPI_SUM,
                MPI_COMM_WORLD);
  const bool ok = sum_is_exact(values, ranks);
  // Every rank's verdict, so rank 0 alone cannot report success for a partner that failed.
  int all_ok = ok ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  std::printf("allreduce_check: rank %d/%d on %s: %s\n", rank, ranks, std::string(host, host_length).c_str(),
              ok ? "ok" : "WRONG SUM");
  MPI_Finalize();
  return all_ok == 1 ? 0 : 1;
}
