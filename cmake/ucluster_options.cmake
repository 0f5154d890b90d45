# Resolves the AUTO/ON/OFF options into UCLUSTER_WITH_* booleans and finds the dependencies.
# Include once from the top-level CMakeLists.txt.

function(ucluster_resolve_option name found)
  if(${name} STREQUAL "ON" AND NOT ${found})
    message(FATAL_ERROR "${name}=ON but the dependency was not found")
  endif()
  if(${name} STREQUAL "OFF")
    set(UCLUSTER_WITH_${name} OFF PARENT_SCOPE)
  elseif(${found})
    set(UCLUSTER_WITH_${name} ON PARENT_SCOPE)
  else()
    set(UCLUSTER_WITH_${name} OFF PARENT_SCOPE)
  endif()
endfunction()

# --- CUDA -------------------------------------------------------------------
set(UCLUSTER_WITH_CUDA OFF)
if(NOT UCLUSTER_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(UCLUSTER_WITH_CUDA ON)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "52")
      set(CMAKE_CUDA_ARCHITECTURES "80;90")
    endif()
    set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 does not know nvcc's C++20 flag; CUDA sources stay C++17
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  elseif(UCLUSTER_CUDA STREQUAL "ON")
    message(FATAL_ERROR "UCLUSTER_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

# --- MPI --------------------------------------------------------------------
set(UCLUSTER_WITH_MPI OFF)
if(NOT UCLUSTER_MPI STREQUAL "OFF")
  find_package(MPI COMPONENTS C QUIET)
  ucluster_resolve_option(UCLUSTER_MPI MPI_C_FOUND)
  set(UCLUSTER_WITH_MPI ${UCLUSTER_WITH_UCLUSTER_MPI})
endif()

# --- HDF5 -------------------------------------------------------------------
set(UCLUSTER_WITH_HDF5 OFF)
if(NOT UCLUSTER_HDF5 STREQUAL "OFF")
  find_package(HDF5 COMPONENTS C QUIET)
  ucluster_resolve_option(UCLUSTER_HDF5 HDF5_FOUND)
  set(UCLUSTER_WITH_HDF5 ${UCLUSTER_WITH_UCLUSTER_HDF5})
endif()

# --- BLAS and OpenMP (required: the CPU backend is the reference) -----------
# OpenBLAS built on OpenMP is preferred: its threads are the same OpenMP pool as the kernels'.
# With the pthread build, libgomp's idle threads spin while OpenBLAS's own threads compute, and
# half of a 2-core machine's time goes to spinning (measured: 48 % of a training step).
find_library(UCLUSTER_OPENBLAS_OPENMP openblas
             PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
if(UCLUSTER_OPENBLAS_OPENMP)
  set(BLAS_LIBRARIES ${UCLUSTER_OPENBLAS_OPENMP})
  set(UCLUSTER_CBLAS_HINT /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  message(WARNING "ucluster: OpenBLAS's OpenMP build (libopenblas-openmp-dev) not found; using ${BLAS_LIBRARIES}, "
                  "which is slower next to OpenMP kernels")
endif()
find_path(UCLUSTER_CBLAS_INCLUDE_DIR cblas.h
          PATHS ${UCLUSTER_CBLAS_HINT} /usr/include/${CMAKE_LIBRARY_ARCHITECTURE} /usr/include/openblas
          NO_DEFAULT_PATH REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(Threads REQUIRED)
find_package(nlohmann_json 3 QUIET)

# --- Common compile settings --------------------------------------------------
add_library(ucluster_settings INTERFACE)
target_include_directories(ucluster_settings INTERFACE ${PROJECT_SOURCE_DIR})
target_compile_options(ucluster_settings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>)
target_compile_definitions(ucluster_settings INTERFACE
  UCLUSTER_WITH_CUDA=$<BOOL:${UCLUSTER_WITH_CUDA}>
  UCLUSTER_WITH_MPI=$<BOOL:${UCLUSTER_WITH_MPI}>
  UCLUSTER_WITH_HDF5=$<BOOL:${UCLUSTER_WITH_HDF5}>)
if(UCLUSTER_SANITIZE)
  target_compile_options(ucluster_settings INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined>)
  target_link_options(ucluster_settings INTERFACE -fsanitize=address,undefined)
endif()
