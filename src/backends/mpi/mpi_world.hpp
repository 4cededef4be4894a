// MPI_COMM_WORLD as the collective backends (mpi, nccl) see it: started on first use (so a build
// with MPI runs GEMMs without a launcher), finalized at exit, errors as exceptions.
#pragma once

#include <mpi.h>

#include <string>
#include <vector>

#include "devices/device.hpp"

namespace trainrate {

// Throws std::runtime_error naming the call and MPI's error text unless status is MPI_SUCCESS.
void check_mpi(int status, const char* call);

class MpiWorld {
 public:
  static MpiWorld& instance();
  ProcessGroup group() const { return group_; }
  int64_t local_rank() const { return local_rank_; }  // among the ranks on this host (GPU choice)
  const std::string& library() const { return library_; }
  const std::vector<std::string>& hosts() const { return hosts_; }  // each rank's host name

 private:
  MpiWorld();
  ~MpiWorld();
  void gather_hosts();

  ProcessGroup group_;
  int64_t local_rank_ = 0;
  std::string library_;
  std::vector<std::string> hosts_;
};

// The slowest rank's time for a sample (MPI_MAX over the ranks, as nccl-tests reports).
double slowest_rank_ms(double local_ms);
int64_t sum_over_world(int64_t value);
// Every rank's values (counts may differ), in rank order, on every rank.
std::vector<std::vector<double>> gather_over_world(const std::vector<double>& values);
// ranks, nodes, rank_hosts and library, for a collective device's DeviceInfo.
void add_world_properties(DeviceInfo& info);

}  // namespace trainrate
