// CPU body of the focal loss (spec 3.1). Targets must already be validated to lie in [0, classes).
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// loss[0] = (1/B) sum_b alpha (1 - q_b)^gamma (-ln q_b), summed over b in order (deterministic).
template <typename T>
void focal_loss_forward(const T* logits, const std::int32_t* target, T* loss, std::int64_t batch,
                        std::int64_t classes, double gamma, double alpha);

// Accumulates dlogits += dloss[0] / B * dFL_b/dlogits.
template <typename T>
void focal_loss_backward(const T* logits, const std::int32_t* target, const T* dloss, T* dlogits,
                         std::int64_t batch, std::int64_t classes, double gamma, double alpha);

}  // namespace ucluster::cpu
