// The engine's thin seam to the CUDA runtime. Implemented by cuda_runtime.cpp in CUDA builds and
// by cuda_runtime_stub.cpp otherwise, so no other engine file needs #ifdefs. Pointers to CUDA
// objects are kept opaque (void*) here; kernels/cuda/ casts them back.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "engine/allocator.h"

namespace ucluster::cuda_runtime {

// True in a binary built with the CUDA backend.
bool compiled_in();

// Number of usable CUDA devices; 0 with the reason in *why_not (no driver, no device, ...).
int device_count(std::string* why_not);

// Per-context CUDA objects: the device, one compute stream and library handles.
struct State {
  int device = 0;
  void* stream = nullptr;  // cudaStream_t
  void* cublas = nullptr;  // cublasHandle_t, bound to stream
  std::string device_name;
};

// Selects the device and creates the stream; throws ucluster::Error on failure.
std::unique_ptr<State, void (*)(State*)> create_state(int device);

// Caching device allocator on cudaMalloc/cudaFree.
std::shared_ptr<Allocator> make_device_allocator(int device);

void copy(void* dst, const void* src, std::size_t bytes, bool dst_on_device, bool src_on_device,
          const State* state);
void memset_zero(void* dst, std::size_t bytes, const State* state);
void synchronize(const State* state);

// NVTX ranges (no-ops without CUDA, and nearly free when no profiler is attached).
void range_push(const char* name);
void range_pop();

}  // namespace ucluster::cuda_runtime
