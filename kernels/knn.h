// k-nearest-neighbour graphs of UCluster (spec 2.2, 8 #9-#11).
//
// Output: int32 indices [B, N, k] on the input's device, in TF top_k order (ascending distance,
// ties -> lower index), self included. Distances are TF's Gram form in the input's precision
// (float32 for the engine): D_ij = (|x_i|^2 + (-2 x_i.x_j)) + |x_j|^2, sums in channel order, no
// fused multiply-add; the CPU and CUDA bodies produce the same bits. The indices are constants for
// backpropagation: these ops have no backward and nothing is recorded on a tape.
#pragma once

#include <cstdint>

#include "engine/autograd.h"

namespace ucluster {

// kNN #1: x [B, N, F >= 3]; coordinates are features 0, 1 (delta-eta, delta-phi), feature 2 the
// padding flag. D_ij additionally gets TF's phi-wrap correction (threshold 2 pi, a no-op on
// jet-relative phi; spec 8 #10) and +1000 for each of i, j whose feature 2 == 0 (spec 8 #11).
// idx must be int32 [B, N, k]; 1 <= k <= N.
void knn_coordinates_forward(Context& ctx, const Tensor& x, std::int64_t k, const Tensor& idx);
// kNN #2: h [B, N, C], squared distance over all C channels, no padding mask.
void knn_features_forward(Context& ctx, const Tensor& h, std::int64_t k, const Tensor& idx);

// Allocating forms: return a new int32 [B, N, k] tensor on the input's device.
Tensor knn_coordinates(Context& ctx, const Tensor& x, std::int64_t k);
Tensor knn_features(Context& ctx, const Tensor& h, std::int64_t k);

// Forms for the model code, which holds Vars: the value is used, no gradient flows (spec 2.2).
Tensor knn_coordinates(Tape& tape, const Var& x, std::int64_t k);
Tensor knn_features(Tape& tape, const Var& h, std::int64_t k);

}  // namespace ucluster
