// CUDA entry points of the activation family. Same contract as cpu/activation.h.
#pragma once

#include <cstdint>

namespace ucluster {
class Context;
}

namespace ucluster::cuda {

void leaky_relu_forward(Context& ctx, const float* x, float* y, std::int64_t n, float slope);
void leaky_relu_backward(Context& ctx, const float* x, const float* dy, float* dx, std::int64_t n, float slope);

}  // namespace ucluster::cuda
