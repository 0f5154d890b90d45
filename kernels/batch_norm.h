// Batch normalisation over the channel (last) axis of x [..., C]; every leading axis is a "row"
// (conv layers: B*N or B*N*k rows, fc layers: B rows), spec 2.1 / 8 #12 (padding rows included).
//
// Training mode normalises with the batch mean and the BIASED batch variance and also returns
// them (the inputs of the moving-average update, and golden-comparable); inference mode uses the
// moving statistics, which are constants for backprop. gamma, beta and all statistics are [C].
#pragma once

#include "engine/autograd.h"

namespace ucluster {

// tf_util.batch_norm_template's epsilon (spec 2.1).
constexpr double kBatchNormEpsilon = 1e-3;

// Training-mode forward. Writes y (shape of x), batch_mean, batch_var (biased) and
// inv_std = 1/sqrt(batch_var + eps), all [C]; inv_std is what the backward needs besides x, gamma
// and batch_mean. x needs rank >= 2 and at least one row.
void batch_norm_train_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                              const Tensor& y, const Tensor& batch_mean, const Tensor& batch_var,
                              const Tensor& inv_std);
// Full training-mode gradient (through the batch statistics). Accumulates into dx, dgamma, dbeta;
// undefined outputs are skipped.
void batch_norm_train_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& batch_mean,
                               const Tensor& inv_std, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                               const Tensor& dbeta);

// Inference-mode forward: y = gamma (x - moving_mean) / sqrt(moving_var + eps) + beta.
void batch_norm_inference_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& moving_mean, const Tensor& moving_var, double eps, const Tensor& y);
// Inference-mode gradient (statistics constant). Accumulates; undefined outputs are skipped.
void batch_norm_inference_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& moving_mean,
                                   const Tensor& moving_var, double eps, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dgamma, const Tensor& dbeta);

// Moving-average update in place, TF's assign_moving_average form (spec 2.1, golden README 5):
//   shadow -= (1 - decay) * (shadow - value)   for (moving_mean, batch_mean) and (moving_var, batch_var).
// decay in [0, 1] is given per call (the bn_decay schedule, spec 4.3).
void batch_norm_update_moving(Context& ctx, const Tensor& moving_mean, const Tensor& moving_var,
                              const Tensor& batch_mean, const Tensor& batch_var, double decay);

struct BatchNormResult {
  Var y;
  Tensor batch_mean;  // [C]
  Tensor batch_var;   // [C], biased
};

// Differentiable forms; gamma and beta must be non-null.
BatchNormResult batch_norm_train(Tape& tape, const Var& x, const Var& gamma, const Var& beta,
                                 double eps = kBatchNormEpsilon);
Var batch_norm_inference(Tape& tape, const Var& x, const Var& gamma, const Var& beta, const Tensor& moving_mean,
                         const Tensor& moving_var, double eps = kBatchNormEpsilon);

}  // namespace ucluster
