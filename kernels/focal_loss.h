// Focal loss of the mass-bin classifier (spec 3.1): logits [B, C], integer targets [B] in [0, C).
//   p = softmax(l - max l),  q = p_t + 1e-9,  FL_b = alpha (1 - q)^gamma (-ln q),  loss = mean_b FL_b
// The loss is a one-element tensor of shape [1]. "alpha" is the plain scalar weight of the spec
// (no per-class weights). Computed in double internally for float32 inputs.
#pragma once

#include "engine/autograd.h"
#include "kernels/focal_loss_constants.h"

namespace ucluster {

// loss (shape [1], dtype of logits) = mean over the batch of FL_b. target is int32 [B]; a target
// outside [0, C) throws ucluster::Error naming the jet and the value (on CUDA the targets are
// copied to the host for this check).
void focal_loss_forward(Context& ctx, const Tensor& logits, const Tensor& target, double gamma, double alpha,
                        const Tensor& loss);
// Accumulates dlogits += dloss[0] / B * dFL_b/dlogits (the analytic gradient of spec 3.1).
void focal_loss_backward(Context& ctx, const Tensor& logits, const Tensor& target, double gamma, double alpha,
                         const Tensor& dloss, const Tensor& dlogits);

// Checks shared with the per-point focal loss (kernels/point_focal_loss.h): gamma finite and >= 0,
// alpha finite; every target (int32, any device: copied to the host) a class index in [0, classes),
// a bad one named as "<what> i".
void check_focal_parameters(const char* op, double gamma, double alpha);
void check_focal_targets(Context& ctx, const char* op, const Tensor& target, std::int64_t classes, const char* what);

// Differentiable form; the targets are constants.
Var focal_loss(Tape& tape, const Var& logits, const Tensor& target, double gamma, double alpha);

}  // namespace ucluster
