// Broadcast of one row per jet to the jet's packed rows: [B, C] -> [R, C]. The event model tiles
// its latent z and its expanded globals to every point (ucluster-ad-spec.md 2.2 rows 11 and 15,
// TF's tf.tile over the P points). A padding row stands for P - n identical points, and the
// gradient on any packed row is already the sum over the points it stands for (engine/jet_rows.h),
// so the backward sums the jet's rows unweighted.
#pragma once

#include "engine/autograd.h"
#include "engine/jet_rows.h"

namespace ucluster {

// y[r, c] = x[row_jet[r], c]; x is [B, C], y is [R, C].
void broadcast_rows_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y);
// dx[b, c] += sum over the rows r of jet b of dy[r, c] (in row order).
void broadcast_rows_backward(Context& ctx, const JetRows& rows, const Tensor& dy, const Tensor& dx);

// Differentiable form.
Var broadcast_rows(Tape& tape, const Var& x, const JetRows& rows);

}  // namespace ucluster
