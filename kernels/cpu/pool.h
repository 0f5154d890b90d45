// Mean pool over the points axis: x [B, N, C] -> y [B, C], every one of the N points counted.
#pragma once

#include <cstdint>

namespace ucluster::cpu {

// y[b, c] = (sum_n x[b, n, c]) / N, the sum in double in point order. N must be > 0.
template <typename T>
void mean_pool_forward(const T* x, T* y, std::int64_t batch, std::int64_t points, std::int64_t channels);

// dx[b, n, c] += dy[b, c] / N.
template <typename T>
void mean_pool_backward(const T* dy, T* dx, std::int64_t batch, std::int64_t points, std::int64_t channels);

}  // namespace ucluster::cpu
