// CUDA entry points of the edge family (float32). Same contract as cpu/edge.h.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

// True when some entry of idx [count] lies outside [0, n). Synchronises with the host.
bool any_bad_index(Context& ctx, const std::int32_t* idx, std::int64_t count, std::int64_t n);

void edge_diff_forward(Context& ctx, const float* x, const std::int32_t* idx, float* e, std::int64_t rows,
                       std::int64_t k, std::int64_t channels);
// One thread block per jet; inverse neighbour lists built in shared memory in edge order.
void edge_diff_backward(Context& ctx, const PackedRows& rows, const std::int32_t* idx, const float* de, float* dx,
                        std::int64_t k, std::int64_t channels);

}  // namespace ucluster::cuda
