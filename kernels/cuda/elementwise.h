// CUDA entry points of the elementwise family (float32). Same contract as cpu/elementwise.h.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void add_scaled(Context& ctx, const float* a, const float* b, float* out, std::int64_t n, float alpha, float beta);
void accumulate_scaled(Context& ctx, const float* x, float* y, std::int64_t n, float alpha);

}  // namespace ucluster::cuda
