// CUDA entry points of the pool family (float32). Same contract as cpu/pool.h.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void mean_pool_forward(Context& ctx, const float* x, const PackedRows& rows, const float* weight, float* y,
                       std::int64_t channels);
void mean_pool_backward(Context& ctx, const PackedRows& rows, const float* weight, const float* dy, float* dx,
                        std::int64_t channels);

void max_pool_forward(Context& ctx, const float* x, const PackedRows& rows, float* y, std::int32_t* argmax,
                      std::int64_t channels);
void max_pool_backward(Context& ctx, const std::int32_t* argmax, const float* dy, float* dx, std::int64_t jets,
                       std::int64_t channels);

}  // namespace ucluster::cuda
