// Point-wise activations: ReLU and LeakyReLU.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// y = x > 0 ? x : slope * x  (slope 0 gives ReLU).
template <typename T>
void leaky_relu_forward(const T* x, T* y, std::int64_t n, T slope);
// dx += dy * (x > 0 ? 1 : slope). The derivative at exactly 0 is slope (0 for ReLU), as in TF.
template <typename T>
void leaky_relu_backward(const T* x, const T* dy, T* dx, std::int64_t n, T slope);

}  // namespace ucluster::cpu
