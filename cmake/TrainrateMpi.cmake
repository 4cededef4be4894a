# Decide whether the collective backends are built. Sets TRAINRATE_HAVE_MPI (and, with CUDA,
# TRAINRATE_HAVE_NCCL).
#   OFF  never; ON  required (configure fails without MPI); AUTO  when MPI is found.
# A machine without MPI still builds everything else; the collectives suite then has no backend.
set(TRAINRATE_MPI AUTO CACHE STRING "Build the MPI collective backend: AUTO, ON or OFF")
set_property(CACHE TRAINRATE_MPI PROPERTY STRINGS AUTO ON OFF)
set(TRAINRATE_HAVE_MPI OFF)
if(NOT TRAINRATE_MPI STREQUAL "OFF")
  # The C API from C++, without the deprecated C++ bindings (project languages are CXX only).
  set(MPI_CXX_SKIP_MPICXX ON CACHE BOOL "")
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(TRAINRATE_HAVE_MPI ON)
    message(STATUS "trainrate: MPI backend ON (MPI ${MPI_CXX_VERSION})")
  elseif(TRAINRATE_MPI STREQUAL "ON")
    message(FATAL_ERROR "TRAINRATE_MPI=ON but no MPI was found (Debian: apt-get install libopenmpi-dev openmpi-bin)")
  else()
    message(STATUS "trainrate: MPI backend OFF (no MPI found: apt-get install libopenmpi-dev openmpi-bin)")
  endif()
endif()

# NCCL rides on MPI (which starts the ranks and passes NCCL's unique id) and on the CUDA path. It
# ships with the CUDA toolkit (include/nccl.h, lib64/libnccl.so) or in pip's nvidia-nccl wheels.
set(TRAINRATE_HAVE_NCCL OFF)
if(TRAINRATE_HAVE_MPI AND TRAINRATE_HAVE_CUDA)
  set(TRAINRATE_NCCL_ROOT "" CACHE PATH "NCCL prefix (include/, lib/), e.g. site-packages/nvidia/nccl")
  find_library(NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR
               HINTS ${TRAINRATE_NCCL_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  find_path(NCCL_INCLUDE_DIR NAMES nccl.h HINTS ${TRAINRATE_NCCL_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS}
            /usr/local/cuda/include)
  if(NCCL_LIBRARY AND NCCL_INCLUDE_DIR)
    set(TRAINRATE_HAVE_NCCL ON)
    add_library(trainrate::nccl UNKNOWN IMPORTED)
    set_target_properties(trainrate::nccl PROPERTIES IMPORTED_LOCATION ${NCCL_LIBRARY}
                          INTERFACE_INCLUDE_DIRECTORIES ${NCCL_INCLUDE_DIR})
    message(STATUS "trainrate: NCCL backend ON (${NCCL_LIBRARY})")
  else()
    message(STATUS "trainrate: NCCL backend OFF (nccl.h or libnccl not found; set TRAINRATE_NCCL_ROOT)")
  endif()
endif()
