// Batch normalisation over the channel (last) axis of x [..., C]; every leading axis is a "row"
// (conv layers: B*N or B*N*k rows, fc layers: B rows), spec 2.1 / 8 #12 (padding rows included).
//
// Training mode normalises with the batch mean and the BIASED batch variance and also returns
// them (the inputs of the moving-average update, and golden-comparable); inference mode uses the
// moving statistics, which are constants for backprop. gamma, beta and all statistics are [C].
#pragma once

#include "engine/autograd.h"
#include "kernels/replica_sum.h"

namespace ucluster {

// Synchronised batch norm: with a non-empty ReplicaSum `sync` (kernels/replica_sum.h:
// a sum over the replicas of a data-parallel job, in place on n doubles of the op's device), the
// training-mode statistics run over the rows of ALL replicas, so R replicas with B/R jets each
// reproduce one process with B jets (up to the rounding of the split sums):
//   forward:  local per-channel sums of x and the local row count go through ONE sync call,
//             mean = global sum / global rows; then local sums of squared deviations from that
//             global mean (two-pass biased variance, spec 2.1) through one more sync call,
//             var = global sum / global rows. batch_mean and batch_var are the global ones.
//   backward: dbeta += LOCAL sum dy and dgamma += LOCAL sum dy x_hat (the parameter gradients are
//             averaged across replicas by the later gradient all-reduce); then sum dy, sum dy x_hat
//             and the local row count go through ONE sync call and
//             dx += gamma inv_std / M (M dy - S_dy - x_hat S_dy_xhat) with the global sums and rows M.
// Exactly 2 sync calls per forward and 1 per backward, in that order, on every replica, whatever its
// row count: with sync a replica may have 0 rows (its partial sums are zeros; the replicas together
// need at least one row: on CPU that is checked after the first call, on CUDA the statistics would
// be NaN). n depends only on C, never on the rows or the backend: C + 1, C, then 2C + 1
// (cpu/batch_norm.h, cuda/batch_norm.h). batch_norm_train's backward
// step is recorded, and so makes its call, only when some input requires grad, which is the same
// on every replica. An empty sync keeps the single-process behaviour bit for bit; inference mode
// never syncs.

// Fused ReLU: every batch norm of UCluster is followed by a ReLU (spec 2.1, 2.4). With relu = true
// the forward writes y = ReLU(BN(x)) in the same pass (as leaky_relu with slope 0: 0 * v below zero,
// so NaN stays NaN), and the backward, given that output (relu_output), first takes dy through the
// ReLU (dy where y > 0, TF's gradient 0 at 0). The BN output before the ReLU is never stored: one
// tensor and two element-wise passes less per layer. Same values as batch norm then relu(), up to
// the sign of zeros.

// tf_util.batch_norm_template's epsilon (spec 2.1).
constexpr double kBatchNormEpsilon = 1e-3;

// Packed rows (engine/jet_rows.h): with a row_weight tensor [W] (W dividing the rows M of x), row r
// counts row_weight[r / (M / W)] times in the training-mode statistics: the mean and variance are
// weighted, M becomes the sum of the weights, and the backward's input gradient is the derivative
// of that weighted form (kernels/batch_norm_math.h). Undefined: every row once (the fc layers).

// Training-mode forward. Writes y (shape of x), batch_mean, batch_var (biased) and
// inv_std = 1/sqrt(batch_var + eps), all [C]; inv_std is what the backward needs besides x, gamma
// and batch_mean. x needs rank >= 2 and at least one row (without sync; see above with it).
void batch_norm_train_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                              const Tensor& y, const Tensor& batch_mean, const Tensor& batch_var,
                              const Tensor& inv_std, const ReplicaSum& sync = {}, bool relu = false,
                              const Tensor& row_weight = {});
// Full training-mode gradient (through the batch statistics). Accumulates into dx, dgamma, dbeta;
// undefined outputs are skipped (the sync call is still made).
void batch_norm_train_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& batch_mean,
                               const Tensor& inv_std, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                               const Tensor& dbeta, const ReplicaSum& sync = {}, const Tensor& relu_output = {},
                               const Tensor& row_weight = {});

// Inference-mode forward: y = gamma (x - moving_mean) / sqrt(moving_var + eps) + beta.
void batch_norm_inference_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& moving_mean, const Tensor& moving_var, double eps, const Tensor& y,
                                  bool relu = false);
// Inference-mode gradient (statistics constant). Accumulates; undefined outputs are skipped.
void batch_norm_inference_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& moving_mean,
                                   const Tensor& moving_var, double eps, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dgamma, const Tensor& dbeta, const Tensor& relu_output = {});

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

// Differentiable forms; gamma and beta must be non-null. The training form keeps its own copy of
// `sync` for the recorded backward step.
BatchNormResult batch_norm_train(Tape& tape, const Var& x, const Var& gamma, const Var& beta,
                                 double eps = kBatchNormEpsilon, const ReplicaSum& sync = {}, bool relu = false,
                                 const Tensor& row_weight = {});
Var batch_norm_inference(Tape& tape, const Var& x, const Var& gamma, const Var& beta, const Tensor& moving_mean,
                         const Tensor& moving_var, double eps = kBatchNormEpsilon, bool relu = false);

}  // namespace ucluster
