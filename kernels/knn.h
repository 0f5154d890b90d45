// k-nearest-neighbour graphs of UCluster (spec 2.2, 8 #9-#11).
//
// Packed rows (engine/jet_rows.h): the input is [R, F] or [R, C], the rows of a JetRows layout;
// the output int32 [R, k] holds ABSOLUTE row indices, each within the row's own jet. Each row's
// list is the reference's (TF top_k order: ascending distance, ties -> lower index, self included)
// with a jet's padding row standing for its P - n padded points: the candidates of row i are the
// jet's rows sorted by (distance, row), and a padding row, whose index n is the reference's first
// padded point and so ranks after every real point of the same distance, fills as many of the k
// places as the P - n padded points would (padding-compression.md); its own list likewise. Distances are TF's Gram form in the input's precision
// (float32 for the engine): D_ij = (|x_i|^2 + (-2 x_i.x_j)) + |x_j|^2, sums in channel order, no
// fused multiply-add; the CPU and CUDA bodies produce the same bits. The indices are constants for
// backpropagation: these ops have no backward and nothing is recorded on a tape.
#pragma once

#include <cstdint>

#include "engine/autograd.h"
#include "engine/jet_rows.h"

namespace ucluster {

// kNN #1: coordinates are features 0, 1 (delta-eta, delta-phi), feature 2 the
// padding flag. D_ij additionally gets TF's phi-wrap correction (threshold 2 pi, a no-op on
// jet-relative phi; spec 8 #10) and +1000 for each of i, j whose feature 2 == 0 (spec 8 #11).
// x [R, F >= 3] (its padding row all zero, so flagged as padding), idx int32 [R, k]; 1 <= k <= P.
void knn_coordinates_forward(Context& ctx, const Tensor& x, const JetRows& rows, std::int64_t k, const Tensor& idx);
// kNN #2: h [R, C], squared distance over all C channels, no padding mask.
void knn_features_forward(Context& ctx, const Tensor& h, const JetRows& rows, std::int64_t k, const Tensor& idx);

// Allocating forms: return a new int32 [R, k] tensor on the input's device.
Tensor knn_coordinates(Context& ctx, const Tensor& x, const JetRows& rows, std::int64_t k);
Tensor knn_features(Context& ctx, const Tensor& h, const JetRows& rows, std::int64_t k);

// Forms for the model code, which holds Vars: the value is used, no gradient flows (spec 2.2).
Tensor knn_coordinates(Tape& tape, const Var& x, const JetRows& rows, std::int64_t k);
Tensor knn_features(Tape& tape, const Var& h, const JetRows& rows, std::int64_t k);

}  // namespace ucluster
