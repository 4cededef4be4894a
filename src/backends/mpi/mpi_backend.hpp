// Collectives over MPI between CPU processes (Open MPI from Debian; run under mpirun or srun).
// Built when CMake finds MPI (TRAINRATE_MPI); MPI itself starts only when a collective first needs
// it, so a build with MPI still runs GEMMs without a launcher.
#pragma once

#include <memory>

#include "backends/backend.hpp"

namespace trainrate {

std::unique_ptr<Backend> make_mpi_backend();

}  // namespace trainrate
