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

// CUDA graphs. Handles are opaque: a graph is a cudaGraph_t, an executable graph a
// cudaGraphExec_t, an event a cudaEvent_t. Every call throws ucluster::Error naming the failed CUDA
// call; the destroy calls never throw (they run in destructors).
//
// Starts capturing the work queued on the state's stream into a graph (nothing runs until the
// graph is launched). Capture mode cudaStreamCaptureModeRelaxed: under Global or ThreadLocal the
// capturing thread may not make "unsafe" calls, and cudaMalloc is one of them, yet a captured op may
// allocate through the caching allocator when its cache misses. A cudaMalloc made during capture is
// a real, persistent allocation, not a graph node; that is what a graph owning its memory wants.
// Global would additionally forbid such calls in every other thread of the process (a data loader,
// a second trainer) while we capture, which is not ours to restrict.
void begin_capture(const State* state);
// Ends the capture and returns the graph; throws (and leaves nothing behind) when the capture was
// invalidated, e.g. by a host synchronisation inside it.
void* end_capture(const State* state);
// Ends a capture after an error, discarding whatever was captured; never throws. No-op when the
// stream is not capturing.
void abort_capture(const State* state) noexcept;
// cudaStreamIsCapturing on the state's stream; false for a null state (a CPU context).
bool is_capturing(const State* state);
// Number of nodes (kernels, copies, memsets, ...) in a captured graph.
std::size_t graph_node_count(void* graph);
void* instantiate_graph(void* graph);
void launch_graph(void* exec, const State* state);
void destroy_graph(void* graph) noexcept;
void destroy_graph_exec(void* exec) noexcept;

// An event for ordering two streams (created with cudaEventDisableTiming).
void* create_event();
void destroy_event(void* event) noexcept;
// Work queued on waiter's stream after this call starts only once all work queued on waited's
// stream before it has finished (records `event` on waited's stream, then cudaStreamWaitEvent).
// Neither host thread blocks. The event may be reused at once: a wait binds to the record before it.
void stream_wait(const State* waiter, const State* waited, void* event);

// NVTX ranges (no-ops without CUDA, and nearly free when no profiler is attached).
void range_push(const char* name);
void range_pop();

}  // namespace ucluster::cuda_runtime
