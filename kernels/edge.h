// Edge features of the GAP layer (spec 2.3, table 2.4 rows 3 and 14): for every point i and each of
// its k neighbours n_j(i), e_ij = x_i - x_{n_j(i)} (central minus neighbour).
#pragma once

#include "engine/autograd.h"
#include "engine/jet_rows.h"

namespace ucluster {

// x [R, C] (float, the packed rows of engine/jet_rows.h), idx int32 [R, k] with ABSOLUTE row
// indices in [0, R) (kernels/knn.h), e [R, k, C]: e[i,j,:] = x[i,:] - x[idx[i,j], :]. Out-of-range
// indices throw ucluster::Error (on CUDA this costs one device-to-host synchronisation). Inside a
// CUDA-graph capture on the context's stream the indices are not checked: they come from the kNN
// ops, and the check's synchronisation would break the capture (cuda_runtime::is_capturing).
void edge_diff_forward(Context& ctx, const Tensor& x, const Tensor& idx, const Tensor& e);
// Accumulates dx [R, C] += sum_j de[i,j,:] - sum over (i', j) with idx[i',j] == i of de[i',j,:], as
// a deterministic segmented sum (no atomics), jet by jet: every row's neighbours must lie in its
// own jet of `rows`, as the kNN ops' do. idx must be the forward's indices.
void edge_diff_backward(Context& ctx, const JetRows& rows, const Tensor& idx, const Tensor& de, const Tensor& dx);

// Differentiable form; idx is a constant (kNN indices carry no gradient).
Var edge_diff(Tape& tape, const Var& x, const Tensor& idx, const JetRows& rows);

}  // namespace ucluster
