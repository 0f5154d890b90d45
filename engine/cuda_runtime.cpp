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

void begin_capture(const State* state) {
  UCLUSTER_CHECK(state != nullptr, "begin_capture: no CUDA stream (CPU context)");
  // Relaxed: see cuda_runtime.h (a cache miss of the caching allocator may cudaMalloc mid-capture).
  check(cudaStreamBeginCapture(stream_of(state), cudaStreamCaptureModeRelaxed), "cudaStreamBeginCapture");
}

void* end_capture(const State* state) {
  UCLUSTER_CHECK(state != nullptr, "end_capture: no CUDA stream (CPU context)");
  cudaGraph_t graph = nullptr;
  const cudaError_t err = cudaStreamEndCapture(stream_of(state), &graph);
  if (err != cudaSuccess) {
    if (graph != nullptr) cudaGraphDestroy(graph);
    cudaGetLastError();  // capture errors are not sticky; clear the last-error slot before reporting
    fail("CUDA error in cudaStreamEndCapture: ", cudaGetErrorString(err),
         " (was something in the captured work synchronising with the host?)");
  }
  UCLUSTER_CHECK(graph != nullptr, "cudaStreamEndCapture returned no graph");
  return graph;
}

void abort_capture(const State* state) noexcept {
  if (state == nullptr) return;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream_of(state), &status) == cudaSuccess && status != cudaStreamCaptureStatusNone) {
    cudaGraph_t graph = nullptr;
    cudaStreamEndCapture(stream_of(state), &graph);
    if (graph != nullptr) cudaGraphDestroy(graph);
  }
  cudaGetLastError();
}

bool is_capturing(const State* state) {
  if (state == nullptr) return false;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  check(cudaStreamIsCapturing(stream_of(state), &status), "cudaStreamIsCapturing");
  // An invalidated capture is still a capture sequence: it must be ended, not synchronised on.
  return status != cudaStreamCaptureStatusNone;
}

std::size_t graph_node_count(void* graph) {
  UCLUSTER_CHECK(graph != nullptr, "graph_node_count: null graph");
  std::size_t count = 0;
  check(cudaGraphGetNodes(static_cast<cudaGraph_t>(graph), nullptr, &count), "cudaGraphGetNodes");
  return count;
}

void* instantiate_graph(void* graph) {
  UCLUSTER_CHECK(graph != nullptr, "instantiate_graph: null graph");
  cudaGraphExec_t exec = nullptr;
  // AutoFreeOnLaunch: should a library (cuBLAS's workspace) have allocated stream-ordered memory
  // during capture without freeing it inside the graph, a relaunch frees it first instead of failing.
  // Without such memory-allocation nodes the flag changes nothing.
  check(cudaGraphInstantiate(&exec, static_cast<cudaGraph_t>(graph), cudaGraphInstantiateFlagAutoFreeOnLaunch),
        "cudaGraphInstantiate");
  return exec;
}

void launch_graph(void* exec, const State* state) {
  UCLUSTER_CHECK(exec != nullptr && state != nullptr, "launch_graph: null executable graph or CPU context");
  check(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), stream_of(state)), "cudaGraphLaunch");
}

void destroy_graph(void* graph) noexcept {
  if (graph != nullptr) cudaGraphDestroy(static_cast<cudaGraph_t>(graph));
}

void destroy_graph_exec(void* exec) noexcept {
  if (exec != nullptr) cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec));
}

void* create_event() {
  cudaEvent_t event = nullptr;
  check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreateWithFlags");
  return event;
}

void destroy_event(void* event) noexcept {
  if (event != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(event));
}

void stream_wait(const State* waiter, const State* waited, void* event) {
  UCLUSTER_CHECK(waiter != nullptr && waited != nullptr && event != nullptr,
                 "stream_wait: both states must be CUDA contexts and the event must exist");
  const auto ev = static_cast<cudaEvent_t>(event);
  check(cudaEventRecord(ev, stream_of(waited)), "cudaEventRecord");
  check(cudaStreamWaitEvent(stream_of(waiter), ev, 0), "cudaStreamWaitEvent");
}

void range_push(const char* name) { nvtxRangePushA(name); }
void range_pop() { nvtxRangePop(); }

void synchronize(const State* state) { check(cudaStreamSynchronize(stream_of(state)), "cudaStreamSynchronize"); }

}  // namespace ucluster::cuda_runtime
