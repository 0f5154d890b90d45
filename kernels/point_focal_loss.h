// Focal loss of the event model's per-point mass-bin head (ucluster-ad-spec.md 2.3): logits
// [R, C] on packed rows, one integer target per row (a padding row's target is the padding class
// 0), gamma and alpha as in the jet model's focal loss (kernels/focal_loss.h):
//   FL_r = alpha (1 - q)^gamma (-ln q),  q = softmax(l_r)[t_r] + 1e-9.
// Two reductions to a one-element loss:
//   PerPoint       the intended form, the default: the mean over all B P points,
//                  sum_r weight_r FL_r / (B P) (a padding row counts P - n times).
//   MaxOverPoints  the original's reduce_max over the POINTS axis (spec Q11, kept for parity):
//                  for each jet and class the largest FL of the jet's points of that class (0 for
//                  an absent class), summed and divided by C B. TF splits the gradient of a max
//                  equally among tied points; tied rows here share it in proportion to the points
//                  they stand for (all of a jet's padded points tie: its padding row takes their
//                  whole share).
// Computed in double internally for float32 inputs; deterministic (fixed summation orders).
#pragma once

#include <string>

#include "engine/autograd.h"
#include "engine/jet_rows.h"
#include "kernels/focal_loss_constants.h"

namespace ucluster {

enum class PointFocalReduction { PerPoint, MaxOverPoints };

// "per_point" or "max_points" (the configuration's names).
PointFocalReduction resolve_point_focal_reduction(const std::string& name);
const char* point_focal_reduction_name(PointFocalReduction reduction);

// loss [1] of logits' dtype; target int32 [R] in [0, C) (checked, naming the row).
void point_focal_loss_forward(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows,
                              double gamma, double alpha, PointFocalReduction reduction, const Tensor& loss);
// dlogits += dloss[0] * dL/dlogits.
void point_focal_loss_backward(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows,
                               double gamma, double alpha, PointFocalReduction reduction, const Tensor& dloss,
                               const Tensor& dlogits);

// Differentiable form; the targets are constants.
Var point_focal_loss(Tape& tape, const Var& logits, const Tensor& target, const JetRows& rows, double gamma,
                     double alpha, PointFocalReduction reduction);

}  // namespace ucluster
