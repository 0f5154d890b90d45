// The attention part of the GAP layer (spec 2.3, table 2.4 rows 7, 8, 16, 17):
//   alpha_ij = softmax over j of LeakyReLU_slope(a_i + c_ij)   (attention_softmax)
//   o_i      = sum_j alpha_ij y_ij + b_out                     (attention_aggregate; the ReLU is separate)
//   g_i      = max over j of y_ij, element-wise                (neighbour_max)
// Shapes: a [B, N] (self coefficient; [B, N, 1] accepted, as a dense A->1 produces it), c [B, N, k]
// ([B, N, k, 1] accepted), alpha [B, N, k], y [B, N, k, A], bias [A], o and g [B, N, A].
// UCluster's slope is kAttentionLeakySlope = 0.2 (kernels/activation.h).
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// alpha = softmax_j(LeakyReLU_slope(a + c)), stabilised by subtracting the row maximum.
void attention_softmax_forward(Context& ctx, const Tensor& a, const Tensor& c, const Tensor& alpha, double slope);
// Accumulates da += sum_j dz_ij, dc += dz (dz = LeakyReLU' * softmax' applied to dalpha); alpha is the
// forward's output. da or dc may be undefined.
void attention_softmax_backward(Context& ctx, const Tensor& a, const Tensor& c, const Tensor& alpha,
                                const Tensor& dalpha, const Tensor& da, const Tensor& dc, double slope);
Var attention_softmax(Tape& tape, const Var& a, const Var& c, double slope);

// o[b,i,:] = sum_j alpha[b,i,j] y[b,i,j,:] + bias; bias may be undefined.
void attention_aggregate_forward(Context& ctx, const Tensor& alpha, const Tensor& y, const Tensor& bias,
                                 const Tensor& o);
// Accumulates dalpha += do . y, dy += alpha do, dbias += sum over points of do; undefined outputs
// are skipped.
void attention_aggregate_backward(Context& ctx, const Tensor& alpha, const Tensor& y, const Tensor& dout,
                                  const Tensor& dalpha, const Tensor& dy, const Tensor& dbias);
// bias may be nullptr.
Var attention_aggregate(Tape& tape, const Var& alpha, const Var& y, const Var& bias);

// g[b,i,:] = max_j y[b,i,j,:].
void neighbour_max_forward(Context& ctx, const Tensor& y, const Tensor& g);
// Accumulates dy += dg / n_ties on every element equal to the max (g is the forward's output): the
// gradient is split equally among exactly tied maxima, as TF's reduce_max (spec 8 #16).
void neighbour_max_backward(Context& ctx, const Tensor& y, const Tensor& g, const Tensor& dg, const Tensor& dy);
Var neighbour_max(Tape& tape, const Var& y);

}  // namespace ucluster
