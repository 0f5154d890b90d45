// Pools over the points of each jet, packed rows x [R, C] -> y [B, C] (kernels/pool.h): the mean
// counts every one of the P points (a padding row with its weight), the max takes each row once.
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

// y[b, c] = x[argmax[b, c], c], argmax the first of jet b's rows holding the maximum.
template <typename T>
void max_pool_forward(const T* x, const PackedRows& rows, T* y, std::int32_t* argmax, std::int64_t channels);

// dx[argmax[b, c], c] += dy[b, c].
template <typename T>
void max_pool_backward(const std::int32_t* argmax, const T* dy, T* dx, std::int64_t jets, std::int64_t channels);

}  // namespace ucluster::cpu
