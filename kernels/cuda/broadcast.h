// CUDA entry points of the broadcast family (float32). Same contract as cpu/broadcast.h.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void broadcast_rows_forward(Context& ctx, const float* x, const PackedRows& rows, float* y, std::int64_t channels);
void broadcast_rows_backward(Context& ctx, const PackedRows& rows, const float* dy, float* dx, std::int64_t channels);

}  // namespace ucluster::cuda
