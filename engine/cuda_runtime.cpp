// CUDA seam for builds with the CUDA backend (host code against the CUDA runtime API).
#include "engine/cuda_runtime.h"

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>

#include "engine/error.h"

namespace ucluster::cuda_runtime {

namespace {
void check(cudaError_t err, const char* what) {
  UCLUSTER_CHECK(err == cudaSuccess, "CUDA error in ", what, ": ", cudaGetErrorString(err));
}

void* device_alloc(std::size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky out-of-memory error; the caller reports it
    return nullptr;
  }
  return p;
}
void device_free(void* p) { cudaFree(p); }

cudaStream_t stream_of(const State* state) {
  return state ? static_cast<cudaStream_t>(state->stream) : nullptr;
}
}  // namespace

bool compiled_in() { return true; }

int device_count(std::string* why_not) {
  int n = 0;
  cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    if (why_not) *why_not = cudaGetErrorString(err);
    return 0;
  }
  if (n == 0 && why_not) *why_not = "no CUDA device found";
  return n;
}

std::unique_ptr<State, void (*)(State*)> create_state(int device) {
  check(cudaSetDevice(device), "cudaSetDevice");
  auto* state = new State;
  state->device = device;
  cudaDeviceProp prop{};
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  state->device_name = prop.name;
  cudaStream_t stream = nullptr;
  check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "cudaStreamCreate");
  state->stream = stream;
  cublasHandle_t handle = nullptr;
  UCLUSTER_CHECK(cublasCreate(&handle) == CUBLAS_STATUS_SUCCESS, "cublasCreate failed on cuda:", device);
  cublasSetStream(handle, stream);
  // Full FP32 GEMMs: TF32 would change the kNN sets of the second graph (golden README).
  cublasSetMathMode(handle, CUBLAS_PEDANTIC_MATH);
  state->cublas = handle;
  return {state, [](State* s) {
            if (s->cublas) cublasDestroy(static_cast<cublasHandle_t>(s->cublas));
            if (s->stream) cudaStreamDestroy(static_cast<cudaStream_t>(s->stream));
            delete s;
          }};
}

std::shared_ptr<Allocator> make_device_allocator(int device) {
  return std::make_shared<CachingAllocator>(Device::cuda(device), device_alloc, device_free);
}

void copy(void* dst, const void* src, std::size_t bytes, bool dst_on_device, bool src_on_device,
          const State* state) {
  cudaMemcpyKind kind = dst_on_device ? (src_on_device ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                      : (src_on_device ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
  check(cudaMemcpyAsync(dst, src, bytes, kind, stream_of(state)), "cudaMemcpyAsync");
  if (!dst_on_device) check(cudaStreamSynchronize(stream_of(state)), "cudaStreamSynchronize");
}

void memset_zero(void* dst, std::size_t bytes, const State* state) {
  check(cudaMemsetAsync(dst, 0, bytes, stream_of(state)), "cudaMemsetAsync");
}

void range_push(const char* name) { nvtxRangePushA(name); }
void range_pop() { nvtxRangePop(); }

void synchronize(const State* state) { check(cudaStreamSynchronize(stream_of(state)), "cudaStreamSynchronize"); }

}  // namespace ucluster::cuda_runtime
