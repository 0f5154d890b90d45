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
void range_push(const char*) {}
void range_pop() {}

}  // namespace ucluster::cuda_runtime
