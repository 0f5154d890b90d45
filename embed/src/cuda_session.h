// A CUDA session (cuda_session.cpp, built when UCLUSTER_WITH_CUDA): the model's parameters on the
// device, pinned host staging buffers, and one CUDA graph (copy in, kernel of cuda_forward.cu, copy
// out) replayed on the caller's stream for every batch. Plain C++: api.cpp includes it in every build.
#pragma once

#include <memory>

#include "embed/src/forward.h"
#include "embed/src/session.h"
#include "ucluster/ucluster.h"

namespace ucluster::embed {

#if defined(UCLUSTER_EMBED_CUDA) && UCLUSTER_EMBED_CUDA
constexpr bool kHaveCudaSessions = true;
// Allocates everything and captures the graph; throws DeviceError (no device, no driver, a CUDA
// error), with the CUDA error string in the message.
std::unique_ptr<SessionBase> make_cuda_session(const Network& network, const ucluster_session_options& options);
#else
constexpr bool kHaveCudaSessions = false;
inline std::unique_ptr<SessionBase> make_cuda_session(const Network&, const ucluster_session_options&) {
  return nullptr;  // not reached: the API refuses CUDA sessions in this build (UCLUSTER_ERROR_UNSUPPORTED)
}
#endif

}  // namespace ucluster::embed
