// Element-wise linear combinations of same-shaped tensors, e.g. the total objective
// total = beta * L_km + L_focal (spec 3.3) as add_scaled(L_km, L_focal, beta, 1).
// alpha and beta are applied in the tensors' precision (cast from double).
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// out = alpha a + beta b; a, b and out have the same shape, dtype and device.
void add_scaled_forward(Context& ctx, const Tensor& a, const Tensor& b, double alpha, double beta,
                        const Tensor& out);
// da += alpha dout, db += beta dout; undefined outputs are skipped.
void add_scaled_backward(Context& ctx, const Tensor& dout, double alpha, double beta, const Tensor& da,
                         const Tensor& db);

// out = alpha a.
void scale_forward(Context& ctx, const Tensor& a, double alpha, const Tensor& out);
// da += alpha dout.
void scale_backward(Context& ctx, const Tensor& dout, double alpha, const Tensor& da);

// Differentiable forms.
Var add_scaled(Tape& tape, const Var& a, const Var& b, double alpha, double beta);
Var scale(Tape& tape, const Var& a, double alpha);

}  // namespace ucluster
