// Dense layer / 1x1 convolution with optional bias, point-wise over [..., Cin] -> [..., Cout].
// W is [Cin, Cout] (TF's conv kernel [1,1,Cin,Cout] in the same memory order), bias is [Cout].
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// y = x W + b; y must be allocated with shape x.shape().with_last(Cout). bias may be undefined.
void dense_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y);
// Accumulates dx += dy W^T, dw += x^T dy, dbias += sum dy; undefined outputs are skipped.
void dense_backward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                    const Tensor& dw, const Tensor& dbias);

// y = x + bias over the last axis ([..., C] + [C]); dx += dy, dbias += sum over rows of dy.
void bias_add_forward(Context& ctx, const Tensor& x, const Tensor& bias, const Tensor& y);
void bias_add_backward(Context& ctx, const Tensor& dy, const Tensor& dx, const Tensor& dbias);

// Differentiable forms; the dense bias may be nullptr.
Var dense(Tape& tape, const Var& x, const Var& w, const Var& bias);
Var bias_add(Tape& tape, const Var& x, const Var& bias);

}  // namespace ucluster
