// CUDA entry point of the TF1 Adam update (float32), n contiguous elements. Same contract and same
// rounding as cpu/adam.h (no fused multiply-adds).
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void adam_update(Context& ctx, float* params, const float* grads, float* m, float* v, std::int64_t n, double lr_t,
                 double beta1, double beta2, double epsilon);

}  // namespace ucluster::cuda
