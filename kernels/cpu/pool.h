// Mean pool over the points of each jet: packed rows x [R, C] -> y [B, C], every one of the P
// points counted (a padding row with its weight, kernels/pool.h).
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster::cpu {

// y[b, c] = (sum_r weight[r] x[r, c]) / P over jet b's rows, the sum in double in row order.
template <typename T>
void mean_pool_forward(const T* x, const PackedRows& rows, const T* weight, T* y, std::int64_t channels);

// dx[r, c] += weight[r] dy[b, c] / P, in double, rounded once.
template <typename T>
void mean_pool_backward(const PackedRows& rows, const T* weight, const T* dy, T* dx, std::int64_t channels);

}  // namespace ucluster::cpu
