# Decide whether the GPU path is built. Sets TRAINRATE_HAVE_CUDA.
#   OFF  never; ON  required (configure fails without nvcc, cuBLAS and cuDNN); AUTO  when all are found.
set(TRAINRATE_HAVE_CUDA OFF)
if(NOT TRAINRATE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  find_package(CUDAToolkit QUIET)
  # Vendor libraries may also come from pip's nvidia-* wheels (scripts/gpu-check finds them):
  # prefixes with include/ and lib/ that ship only versioned names (libcudnn.so.9), hence the
  # extra NAMES. The toolkit's cuBLAS wins; the root only fills in a toolkit without one.
  set(TRAINRATE_CUDNN_ROOT "" CACHE PATH "cuDNN prefix (include/, lib/), e.g. site-packages/nvidia/cudnn")
  set(TRAINRATE_CUBLAS_ROOT "" CACHE PATH "cuBLAS prefix (include/, lib/), e.g. site-packages/nvidia/cu13")
  if(CUDAToolkit_FOUND AND NOT TARGET CUDA::cublas AND TRAINRATE_CUBLAS_ROOT)
    foreach(lib cublas cublasLt)
      find_library(TRAINRATE_${lib}_LIBRARY NAMES ${lib} lib${lib}.so.${CUDAToolkit_VERSION_MAJOR} NAMES_PER_DIR
                   HINTS ${TRAINRATE_CUBLAS_ROOT}/lib NO_DEFAULT_PATH)
      if(TRAINRATE_${lib}_LIBRARY)
        add_library(CUDA::${lib} UNKNOWN IMPORTED)
        set_target_properties(CUDA::${lib} PROPERTIES IMPORTED_LOCATION ${TRAINRATE_${lib}_LIBRARY}
                              INTERFACE_INCLUDE_DIRECTORIES "${CUDAToolkit_INCLUDE_DIRS};${TRAINRATE_CUBLAS_ROOT}/include")
      endif()
    endforeach()
  endif()
  find_library(CUDNN_LIBRARY NAMES cudnn libcudnn.so.9 NAMES_PER_DIR
               HINTS ${TRAINRATE_CUDNN_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  find_path(CUDNN_INCLUDE_DIR NAMES cudnn.h HINTS ${TRAINRATE_CUDNN_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS}
            /usr/local/cuda/include)
  if(CMAKE_CUDA_COMPILER AND CUDAToolkit_FOUND AND TARGET CUDA::cublas AND CUDNN_LIBRARY AND CUDNN_INCLUDE_DIR)
    set(TRAINRATE_HAVE_CUDA ON)
  elseif(TRAINRATE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "TRAINRATE_CUDA=ON but nvcc, cuBLAS or cuDNN was not found "
                        "(compiler: '${CMAKE_CUDA_COMPILER}', cudnn: '${CUDNN_LIBRARY}')")
  endif()
endif()

if(TRAINRATE_HAVE_CUDA)
  # Default architectures follow what the toolkit can target: CUDA 13 dropped Volta (sm_70).
  # The compiler's version is only known after enable_language(CUDA), whose test compile already
  # needs valid architectures, so ask nvcc directly.
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE nvcc_version_text)
  string(REGEX MATCH "release ([0-9]+\\.[0-9]+)" _ "${nvcc_version_text}")
  set(TRAINRATE_NVCC_VERSION "${CMAKE_MATCH_1}")
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    if(TRAINRATE_NVCC_VERSION VERSION_GREATER_EQUAL 13.0)
      set(CMAKE_CUDA_ARCHITECTURES 75 80 86 89 90 100 120)
    else()
      set(CMAKE_CUDA_ARCHITECTURES 70 75 80 86 89 90)
    endif()
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 20)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  add_library(trainrate::cudnn UNKNOWN IMPORTED)
  set_target_properties(trainrate::cudnn PROPERTIES IMPORTED_LOCATION ${CUDNN_LIBRARY}
                        INTERFACE_INCLUDE_DIRECTORIES ${CUDNN_INCLUDE_DIR})
  message(STATUS "trainrate: CUDA path ON (nvcc ${TRAINRATE_NVCC_VERSION}, archs ${CMAKE_CUDA_ARCHITECTURES})")
else()
  message(STATUS "trainrate: CUDA path OFF (TRAINRATE_CUDA=${TRAINRATE_CUDA}); CPU backends only")
endif()
