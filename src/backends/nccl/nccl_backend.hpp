// Collectives between GPUs over NCCL, one rank per GPU under mpirun or srun: MPI starts the ranks and
// hands NCCL its unique id; NCCL moves the data between the GPUs. Built when CUDA, MPI and NCCL
// (from the CUDA toolkit, or pip's nvidia-nccl via TRAINRATE_NCCL_ROOT) are all found.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace trainrate {

std::unique_ptr<Backend> make_nccl_backend();

}  // namespace trainrate
