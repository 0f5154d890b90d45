// CUDA entry points of the deep k-means family (float32 data, double arithmetic inside). Same contract
// as cpu/kmeans_loss.h; loss and dloss are device pointers.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void kmeans_loss_forward(Context& ctx, const float* z, const float* mu, float* loss, float* dist,
                         std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha);
void kmeans_loss_backward(Context& ctx, const float* z, const float* mu, const float* dloss, float* dz, float* dmu,
                          std::int64_t batch, std::int64_t clusters, std::int64_t dim, double alpha);
void kmeans_assign(Context& ctx, const float* dist, std::int32_t* assign, std::int64_t batch,
                   std::int64_t clusters);

}  // namespace ucluster::cuda
