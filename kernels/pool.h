// Pools over the points of each jet (mean for the jet model, max for the event model).
//
// Mean pool over the points of each jet, packed rows [R, C] -> [B, C]: tf_util.avg_pool2d over all
// P points, padded points INCLUDED (spec 2.4 row 23, spec 8 #12: replicate, no masking): a jet's
// padding row counts P - n times (engine/jet_rows.h). Its output is the embedding z that k-means
// works on.
#pragma once

#include "engine/autograd.h"
#include "engine/jet_rows.h"

namespace ucluster {

// y[b, c] = (1/P) sum over the rows r of jet b of weight[r] x[r, c]; x is [R, C], y is [B, C].
void mean_pool_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y);
// dx[r, c] += weight[r] dy[b, c] / P for the rows r of jet b; dx is [R, C], dy is [B, C].
void mean_pool_backward(Context& ctx, const JetRows& rows, const Tensor& dy, const Tensor& dx);

// Differentiable form.
Var mean_pool(Tape& tape, const Var& x, const JetRows& rows);

// Max pool over the points of each jet, packed rows [R, C] -> [B, C]: tf_util.max_pool2d over all P
// points, padded points included (ucluster-ad-spec.md 2.2 row 14, Q12): the event model's latent z.
// A padding row is a candidate once (its P - n points are identical). argmax [B, C] int32 holds the
// absolute row of each maximum: the FIRST row in row order that attains it, which is TF's MaxPool
// choice (its gradient goes to one location, the lowest point index; a jet's real rows come before
// its padding row, as the reference's real points come before its padded ones).
void max_pool_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y, const Tensor& argmax);
// dx[argmax[b, c], c] += dy[b, c].
void max_pool_backward(Context& ctx, const Tensor& argmax, const Tensor& dy, const Tensor& dx);

Var max_pool(Tape& tape, const Var& x, const JetRows& rows);

}  // namespace ucluster
