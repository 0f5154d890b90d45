// k-nearest-neighbour graphs of UCluster (spec 2.2), one jet at a time.
//
// Distances use TF's Gram form in the input precision, in TF's order of operations
// (tf_util.pairwise_distance / pairwise_distanceR):
//   D_ij = ((|x_i|^2 + (-2 * <x_i, x_j>)) + |x_j|^2) [+ corr_ij + pen_i + pen_j]
// with every sum taken sequentially over the channels (no fused multiply-add). Rows are ordered as
// TF's top_k on -D: ascending distance, ties to the lower index; self included. Packed rows:
// kernels/knn.h (a jet's padding row fills as many places as its padded points would).
#pragma once

#include <cstdint>

#include "kernels/packed_rows.h"

namespace ucluster::cpu {

// Padding penalty of kNN #1 added for each of i, j whose flag (feature 2) is exactly 0 (spec 2.2).
constexpr double kKnnPaddingPenalty = 1000.0;

// kNN #1: x is [R, F] with F >= 3; coordinates are features 0 and 1, the padding flag is
// feature 2. idx is [R, k] int32, absolute rows. Requires 1 <= k <= slots (checked by the caller).
template <typename T>
void knn_coordinates(const T* x, const PackedRows& rows, std::int32_t* idx, std::int64_t features, std::int64_t k);

// kNN #2: h is [R, C]; squared Euclidean distance over all C channels, no mask.
template <typename T>
void knn_features(const T* h, const PackedRows& rows, std::int32_t* idx, std::int64_t channels, std::int64_t k);

}  // namespace ucluster::cpu
