# Every dependency comes from a Debian package (scripts/setup installs them).
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(CLI11 REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(benchmark REQUIRED)
# Debian ships OpenBLAS's CMake config without imported targets; find the pthread build directly.
# The suffix reaches it where no alternatives link exists (scripts/gpu-bundle's unpacked .debs).
find_library(OPENBLAS_LIBRARY NAMES openblas PATH_SUFFIXES openblas-pthread REQUIRED)
find_path(OPENBLAS_INCLUDE_DIR NAMES cblas.h PATH_SUFFIXES openblas-pthread openblas REQUIRED
          PATHS /usr/include/x86_64-linux-gnu /usr/include/aarch64-linux-gnu)
add_library(trainrate::openblas UNKNOWN IMPORTED)
set_target_properties(trainrate::openblas PROPERTIES IMPORTED_LOCATION ${OPENBLAS_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${OPENBLAS_INCLUDE_DIR})
# Debian's dnnl CMake config also demands the OpenCL SDK (for oneDNN's GPU runtime, which we do
# not use); the CPU library and its header are all we need.
find_library(DNNL_LIBRARY NAMES dnnl REQUIRED)
find_path(DNNL_INCLUDE_DIR NAMES oneapi/dnnl/dnnl.hpp REQUIRED)
add_library(trainrate::dnnl UNKNOWN IMPORTED)
set_target_properties(trainrate::dnnl PROPERTIES IMPORTED_LOCATION ${DNNL_LIBRARY}
                      INTERFACE_INCLUDE_DIRECTORIES ${DNNL_INCLUDE_DIR})
if(TRAINRATE_TESTS)
  find_package(GTest REQUIRED)
endif()
