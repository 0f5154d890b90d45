// CUDA seam for builds without the CUDA backend: reports that CUDA is absent.
#include "engine/cuda_runtime.h"
#include "engine/error.h"

namespace ucluster::cuda_runtime {

namespace {
[[noreturn]] void no_cuda() { fail("this ucluster binary was built without CUDA (UCLUSTER_CUDA=OFF)"); }
}  // namespace

bool compiled_in() { return false; }

int device_count(std::string* why_not) {
  if (why_not) *why_not = "this binary was built without CUDA";
  return 0;
}

std::unique_ptr<State, void (*)(State*)> create_state(int) { no_cuda(); }
std::shared_ptr<Allocator> make_device_allocator(int) { no_cuda(); }
void copy(void*, const void*, std::size_t, bool, bool, const State*) { no_cuda(); }
void memset_zero(void*, std::size_t, const State*) { no_cuda(); }
void synchronize(const State*) {}
void begin_capture(const State*) { no_cuda(); }
void* end_capture(const State*) { no_cuda(); }
void abort_capture(const State*) noexcept {}
// Nothing can be capturing in a binary without CUDA (a CPU context has a null state).
bool is_capturing(const State*) { return false; }
std::size_t graph_node_count(void*) { no_cuda(); }
void* instantiate_graph(void*) { no_cuda(); }
void launch_graph(void*, const State*) { no_cuda(); }
void destroy_graph(void*) noexcept {}
void destroy_graph_exec(void*) noexcept {}
void* create_event() { no_cuda(); }
void destroy_event(void*) noexcept {}
void stream_wait(const State*, const State*, void*) { no_cuda(); }
void range_push(const char*) {}
void range_pop() {}

}  // namespace ucluster::cuda_runtime
