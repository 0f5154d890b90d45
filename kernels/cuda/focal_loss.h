// CUDA entry points of the focal-loss family (float32 data, double arithmetic inside). Same contract
// as cpu/focal_loss.h; the targets must already be validated. loss and dloss are device pointers.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void focal_loss_forward(Context& ctx, const float* logits, const std::int32_t* target, float* loss,
                        std::int64_t batch, std::int64_t classes, double gamma, double alpha);
void focal_loss_backward(Context& ctx, const float* logits, const std::int32_t* target, const float* dloss,
                         float* dlogits, std::int64_t batch, std::int64_t classes, double gamma, double alpha);

}  // namespace ucluster::cuda
