# Resolves the AUTO/ON/OFF options into UCLUSTER_WITH_* booleans and finds the dependencies.
# Include once from the top-level CMakeLists.txt.

# An optional dependency found with find_package(<package> COMPONENTS C): UCLUSTER_WITH_<option>
# is ON when UCLUSTER_<option> is not OFF and <found> is true; UCLUSTER_<option>=ON without the
# package is an error. A macro: the package's variables stay visible to the caller.
macro(ucluster_optional_package option package found)
  set(UCLUSTER_WITH_${option} OFF)
  if(NOT UCLUSTER_${option} STREQUAL "OFF")
    find_package(${package} COMPONENTS C QUIET)
    if(${found})
      set(UCLUSTER_WITH_${option} ON)
    elseif(UCLUSTER_${option} STREQUAL "ON")
      message(FATAL_ERROR "UCLUSTER_${option}=ON but the dependency was not found")
    endif()
  endif()
endmacro()

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

# --- MPI and HDF5 ------------------------------------------------------------
ucluster_optional_package(MPI MPI MPI_C_FOUND)
ucluster_optional_package(HDF5 HDF5 HDF5_FOUND)

# --- FastJet (required with HDF5: prepare-data --task lhco clusters LHCO events) ---------------
# Searched under FASTJET_ROOT, then fastjet-config's prefix, then the default paths. Only the
# library that clusters (ucluster_lhco) links it. Builds without HDF5 (tools/gpu-pack, gpu-check)
# have no data tools and do not need it.
if(UCLUSTER_WITH_HDF5)
  find_program(UCLUSTER_FASTJET_CONFIG fastjet-config HINTS ${FASTJET_ROOT}/bin)
  set(_ucluster_fastjet_prefix "")
  if(UCLUSTER_FASTJET_CONFIG)
    execute_process(COMMAND ${UCLUSTER_FASTJET_CONFIG} --prefix OUTPUT_VARIABLE _ucluster_fastjet_prefix
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  endif()
  find_path(UCLUSTER_FASTJET_INCLUDE_DIR fastjet/ClusterSequence.hh
            HINTS ${FASTJET_ROOT}/include ${_ucluster_fastjet_prefix}/include)
  find_library(UCLUSTER_FASTJET_LIBRARY fastjet HINTS ${FASTJET_ROOT}/lib ${_ucluster_fastjet_prefix}/lib)
  if(NOT UCLUSTER_FASTJET_INCLUDE_DIR OR NOT UCLUSTER_FASTJET_LIBRARY)
    message(FATAL_ERROR "FastJet was not found (fastjet/ClusterSequence.hh: ${UCLUSTER_FASTJET_INCLUDE_DIR}, "
                        "libfastjet: ${UCLUSTER_FASTJET_LIBRARY}). It is required to build the data tools "
                        "(prepare-data --task lhco clusters the LHCO events with it). Run tools/install-deps "
                        "(Debian 12: apt-get install libfastjet-dev), or point FASTJET_ROOT at a FastJet 3 "
                        "installation, or configure with -DUCLUSTER_HDF5=OFF (no data tools).")
  endif()
  add_library(ucluster_fastjet INTERFACE IMPORTED)
  target_include_directories(ucluster_fastjet INTERFACE ${UCLUSTER_FASTJET_INCLUDE_DIR})
  target_link_libraries(ucluster_fastjet INTERFACE ${UCLUSTER_FASTJET_LIBRARY})
  message(STATUS "ucluster: FastJet ${UCLUSTER_FASTJET_LIBRARY}")
endif()

# --- BLAS and OpenMP (required: the CPU backend is the reference) -----------
# OpenBLAS built on OpenMP is preferred: its threads are the same OpenMP pool as the kernels'.
# With the pthread build, libgomp's idle threads spin while OpenBLAS's own threads compute (measured:
# 48 % of a training step spinning on 2 cores); kernels/cpu/gemm.cpp then sets OpenBLAS to one
# thread and splits each GEMM over the OpenMP team itself, which removes that cliff.
find_library(UCLUSTER_OPENBLAS_OPENMP openblas
             PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp NO_DEFAULT_PATH)
if(UCLUSTER_OPENBLAS_OPENMP)
  set(BLAS_LIBRARIES ${UCLUSTER_OPENBLAS_OPENMP})
  set(UCLUSTER_CBLAS_HINT /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp)
else()
  set(BLA_VENDOR OpenBLAS)
  find_package(BLAS REQUIRED)
  message(STATUS "ucluster: OpenBLAS's OpenMP build not found; using ${BLAS_LIBRARIES}. The engine runs it "
                 "single-threaded and splits GEMMs over its own OpenMP threads (kernels/cpu/gemm.cpp). For one "
                 "thread pool shared by BLAS and the kernels: apt-get install libopenblas-openmp-dev (README, "
                 "Build options)")
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
