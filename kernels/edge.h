// Edge features of the GAP layer (spec 2.3, table 2.4 rows 3 and 14): for every point i and each of
// its k neighbours n_j(i), e_ij = x_i - x_{n_j(i)} (central minus neighbour).
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// x [B, N, C] (float), idx int32 [B, N, k] with entries in [0, N), e [B, N, k, C]:
// e[b,i,j,:] = x[b,i,:] - x[b, idx[b,i,j], :]. Out-of-range indices throw ucluster::Error (on
// CUDA this costs one device-to-host synchronisation). Inside a CUDA-graph capture on the
// context's stream the indices are not checked: they come from the kNN ops, and the check's
// synchronisation would break the capture (cuda_runtime::is_capturing).
void edge_diff_forward(Context& ctx, const Tensor& x, const Tensor& idx, const Tensor& e);
// Accumulates dx [B, N, C] += sum_j de[b,i,j,:] - sum over (i', j) with idx[b,i',j] == i of
// de[b,i',j,:], as a deterministic segmented sum (no atomics). idx must be the forward's indices.
void edge_diff_backward(Context& ctx, const Tensor& idx, const Tensor& de, const Tensor& dx);

// Differentiable form; idx is a constant (kNN indices carry no gradient).
Var edge_diff(Tape& tape, const Var& x, const Tensor& idx);

}  // namespace ucluster
