// CUDA entry points of the kNN family (float32). Same contract as cpu/knn.h: one thread block per
// jet, the jet's points in shared memory, no N x N distance tensor in device memory.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void knn_coordinates(Context& ctx, const float* x, const PackedRows& rows, std::int32_t* idx, std::int64_t features,
                     std::int64_t k);
void knn_features(Context& ctx, const float* h, const PackedRows& rows, std::int32_t* idx, std::int64_t channels,
                  std::int64_t k);

}  // namespace ucluster::cuda
