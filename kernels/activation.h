// ReLU and LeakyReLU. The backward is expressed through the input x (derivative 0, or the slope,
// at x <= 0, matching TF's ReLU gradient of 0 at exactly 0).
#pragma once

#include "engine/autograd.h"

namespace ucluster {

constexpr double kAttentionLeakySlope = 0.2;  // LeakyReLU slope of the GAP attention (spec 2.3)

void leaky_relu_forward(Context& ctx, const Tensor& x, const Tensor& y, double slope);
void leaky_relu_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dx, double slope);

Var relu(Tape& tape, const Var& x);
Var leaky_relu(Tape& tape, const Var& x, double slope);

}  // namespace ucluster
