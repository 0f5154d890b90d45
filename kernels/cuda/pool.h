// CUDA entry points of the pool family (float32). Same contract as cpu/pool.h.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void mean_pool_forward(Context& ctx, const float* x, float* y, std::int64_t batch, std::int64_t points,
                       std::int64_t channels);
void mean_pool_backward(Context& ctx, const float* dy, float* dx, std::int64_t batch, std::int64_t points,
                        std::int64_t channels);

}  // namespace ucluster::cuda
