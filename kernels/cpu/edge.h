// Edge features of the GAP layer (spec 2.3): e_ij = h_i - h_{n_j(i)}, central minus neighbour.
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster::cpu {

// Position (flat element offset) of the first entry of idx outside [0, n), or -1 if all are valid.
std::int64_t first_bad_index(const std::int32_t* idx, std::int64_t count, std::int64_t n);

// x [R, C], idx [R, k] (valid absolute rows), e [R, k, C]: e[i,j,:] = x[i,:] - x[idx[i,j],:].
template <typename T>
void edge_diff_forward(const T* x, const std::int32_t* idx, T* e, std::int64_t rows, std::int64_t k,
                       std::int64_t channels);

// Accumulates dx[i,:] += sum_j de[i,j,:] - sum_{(i',j): idx[i',j] == i} de[i',j,:]. The second sum
// is a segmented sum over per-jet inverse neighbour lists built in edge order (i', j) ascending:
// deterministic, no atomics. Neighbours lie in their row's jet.
template <typename T>
void edge_diff_backward(const PackedRows& rows, const std::int32_t* idx, const T* de, T* dx, std::int64_t k,
                        std::int64_t channels);

}  // namespace ucluster::cpu
