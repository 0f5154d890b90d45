#include "kernels/batch_norm.h"

#include <cmath>

#include "kernels/cpu/batch_norm.h"
#include "kernels/cuda/batch_norm.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {

// x [..., C] with rank >= 2; returns C.
std::int64_t check_input(const char* op, const Tensor& x) {
  check_defined(op, "input", x);
  UCLUSTER_CHECK(x.rank() >= 2, op, ": input must have rank >= 2 ([rows..., C]), got ", x.describe());
  return x.shape().last();
}

// A per-channel vector [C] of x's dtype on x's device.
void check_channel_vector(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.shape() == Shape{x.shape().last()}, op, ": ", what, " ", t.describe(), " does not match input ",
                 x.describe(), " (expected [", x.shape().last(), "])");
  check_dtype(op, what, t, x.dtype());
  check_same_device(op, x, t);
}

void check_same_as_input(const char* op, const char* what, const Tensor& t, const Tensor& x) {
  check_shape(op, what, t, x.shape());
  check_dtype(op, what, t, x.dtype());
  check_same_device(op, x, t);
}

// x [..., C] and gamma and the two [C] statistics (batch mean and inv_std, or the moving mean and
// variance) that every mode takes; returns C.
std::int64_t check_statistics(const char* op, const Tensor& x, const Tensor& gamma, const char* mean_what,
                              const Tensor& mean, const char* spread_what, const Tensor& spread) {
  const std::int64_t C = check_input(op, x);
  check_channel_vector(op, "gamma", gamma, x);
  check_channel_vector(op, mean_what, mean, x);
  check_channel_vector(op, spread_what, spread, x);
  return C;
}

// The tensors of both backwards: dy and the ReLU output like x; the optional gradients.
void check_backward_tensors(const char* op, const Tensor& x, const Tensor& dy, const Tensor& relu_output,
                            const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta) {
  check_same_as_input(op, "output gradient", dy, x);
  if (relu_output.defined()) check_same_as_input(op, "ReLU output", relu_output, x);
  if (dx.defined()) check_same_as_input(op, "input gradient", dx, x);
  if (dgamma.defined()) check_channel_vector(op, "gamma gradient", dgamma, x);
  if (dbeta.defined()) check_channel_vector(op, "beta gradient", dbeta, x);
}

template <typename T>
BatchNormGradArgs<T> grad_args_of(const Tensor& dx, const Tensor& dgamma, const Tensor& dbeta,
                                  const Tensor& relu_output) {
  return {ptr_or_null<T>(dx), ptr_or_null<T>(dgamma), ptr_or_null<T>(dbeta), ptr_or_null<T>(relu_output)};
}

// The row weights of packed rows (kernels/batch_norm.h): [W] of x's dtype on its device, W dividing
// x's rows; each weight covers rows / W consecutive rows of x.
template <typename T>
RowWeights<T> row_weights_of(const char* op, const Tensor& x, const Tensor& row_weight) {
  if (!row_weight.defined()) return {};
  const std::int64_t rows = x.shape().rows(), w = row_weight.numel();
  check_rank(op, "row weights", row_weight, 1);
  check_dtype(op, "row weights", row_weight, x.dtype());
  check_same_device(op, x, row_weight);
  UCLUSTER_CHECK(w > 0 ? rows % w == 0 : rows == 0, op, ": ", row_weight.numel(), " row weights do not divide the ",
                 rows, " rows of ", x.describe());
  return {row_weight.data<T>(), w > 0 ? rows / w : 1};
}

void check_eps(const char* op, double eps) {
  UCLUSTER_CHECK(std::isfinite(eps) && eps >= 0.0, op, ": epsilon must be finite and >= 0, got ", eps);
}
}  // namespace

void batch_norm_train_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                              const Tensor& y, const Tensor& batch_mean, const Tensor& batch_var,
                              const Tensor& inv_std, const ReplicaSum& sync, bool relu, const Tensor& row_weight) {
  const char* op = "batch_norm (training)";
  const std::int64_t C = check_input(op, x);
  const std::int64_t rows = x.shape().rows();
  // With sync, the other replicas' rows count too (header): 0 local rows are allowed.
  UCLUSTER_CHECK(rows > 0 || sync, op, ": input ", x.describe(), " has no rows to take batch statistics over");
  check_eps(op, eps);
  check_channel_vector(op, "gamma", gamma, x);
  check_channel_vector(op, "beta", beta, x);
  check_same_as_input(op, "output", y, x);
  check_channel_vector(op, "batch_mean", batch_mean, x);
  check_channel_vector(op, "batch_var", batch_var, x);
  check_channel_vector(op, "inv_std", inv_std, x);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::batch_norm_train_forward<T>(x.data<T>(), gamma.data<T>(), beta.data<T>(), y.data<T>(),
                                         batch_mean.data<T>(), batch_var.data<T>(), inv_std.data<T>(), rows, C, eps,
                                         sync, relu, row_weights_of<T>(op, x, row_weight));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, x,
          cuda::batch_norm_train_forward(ctx, x.data<float>(), gamma.data<float>(), beta.data<float>(), y.data<float>(),
                                         batch_mean.data<float>(), batch_var.data<float>(), inv_std.data<float>(), rows,
                                         C, eps, sync, relu, row_weights_of<float>(op, x, row_weight)));
  }
}

void batch_norm_train_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& batch_mean,
                               const Tensor& inv_std, const Tensor& dy, const Tensor& dx, const Tensor& dgamma,
                               const Tensor& dbeta, const ReplicaSum& sync, const Tensor& relu_output,
                               const Tensor& row_weight) {
  const char* op = "batch_norm (training) backward";
  const std::int64_t C = check_statistics(op, x, gamma, "batch_mean", batch_mean, "inv_std", inv_std);
  const std::int64_t rows = x.shape().rows();
  check_backward_tensors(op, x, dy, relu_output, dx, dgamma, dbeta);
  if (rows == 0 && !sync) return;  // with sync, this replica still takes part in the sync call
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::batch_norm_train_backward<T>(x.data<T>(), gamma.data<T>(), batch_mean.data<T>(), inv_std.data<T>(),
                                          dy.data<T>(), grad_args_of<T>(dx, dgamma, dbeta, relu_output), rows, C, sync,
                                          row_weights_of<T>(op, x, row_weight));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, x,
          cuda::batch_norm_train_backward(ctx, x.data<float>(), gamma.data<float>(), batch_mean.data<float>(),
                                          inv_std.data<float>(), dy.data<float>(),
                                          grad_args_of<float>(dx, dgamma, dbeta, relu_output), rows, C, sync,
                                          row_weights_of<float>(op, x, row_weight)));
  }
}

void batch_norm_inference_forward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& beta,
                                  const Tensor& moving_mean, const Tensor& moving_var, double eps, const Tensor& y,
                                  bool relu) {
  const char* op = "batch_norm (inference)";
  const std::int64_t C = check_statistics(op, x, gamma, "moving_mean", moving_mean, "moving_var", moving_var);
  const std::int64_t rows = x.shape().rows();
  check_eps(op, eps);
  check_channel_vector(op, "beta", beta, x);
  check_same_as_input(op, "output", y, x);
  if (rows == 0) return;
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::batch_norm_inference_forward<T>(x.data<T>(), gamma.data<T>(), beta.data<T>(), moving_mean.data<T>(),
                                             moving_var.data<T>(), y.data<T>(), rows, C, eps, relu);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, x,
          cuda::batch_norm_inference_forward(ctx, x.data<float>(), gamma.data<float>(), beta.data<float>(),
                                             moving_mean.data<float>(), moving_var.data<float>(), y.data<float>(), rows,
                                             C, eps, relu));
  }
}

void batch_norm_inference_backward(Context& ctx, const Tensor& x, const Tensor& gamma, const Tensor& moving_mean,
                                   const Tensor& moving_var, double eps, const Tensor& dy, const Tensor& dx,
                                   const Tensor& dgamma, const Tensor& dbeta, const Tensor& relu_output) {
  const char* op = "batch_norm (inference) backward";
  const std::int64_t C = check_statistics(op, x, gamma, "moving_mean", moving_mean, "moving_var", moving_var);
  const std::int64_t rows = x.shape().rows();
  check_eps(op, eps);
  check_backward_tensors(op, x, dy, relu_output, dx, dgamma, dbeta);
  if (rows == 0) return;
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::batch_norm_inference_backward<T>(x.data<T>(), gamma.data<T>(), moving_mean.data<T>(), moving_var.data<T>(),
                                              dy.data<T>(), grad_args_of<T>(dx, dgamma, dbeta, relu_output), rows, C,
                                              eps);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, x,
          cuda::batch_norm_inference_backward(ctx, x.data<float>(), gamma.data<float>(), moving_mean.data<float>(),
                                              moving_var.data<float>(), dy.data<float>(),
                                              grad_args_of<float>(dx, dgamma, dbeta, relu_output), rows, C, eps));
  }
}

void batch_norm_update_moving(Context& ctx, const Tensor& moving_mean, const Tensor& moving_var,
                              const Tensor& batch_mean, const Tensor& batch_var, double decay) {
  const char* op = "batch_norm moving-average update";
  check_rank(op, "moving_mean", moving_mean, 1);
  check_channel_vector(op, "moving_var", moving_var, moving_mean);
  check_channel_vector(op, "batch_mean", batch_mean, moving_mean);
  check_channel_vector(op, "batch_var", batch_var, moving_mean);
  UCLUSTER_CHECK(decay >= 0.0 && decay <= 1.0, op, ": decay must be in [0, 1], got ", decay);
  const std::int64_t C = moving_mean.numel();
  if (C == 0) return;
  switch (moving_mean.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, moving_mean.dtype(), [&]<typename T>() {
        cpu::batch_norm_update_moving<T>(moving_mean.data<T>(), moving_var.data<T>(), batch_mean.data<T>(),
                                         batch_var.data<T>(), C, decay);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, moving_mean,
          cuda::batch_norm_update_moving(ctx, moving_mean.data<float>(), moving_var.data<float>(),
                                         batch_mean.data<float>(), batch_var.data<float>(), C, decay));
  }
}

BatchNormResult batch_norm_train(Tape& tape, const Var& x, const Var& gamma, const Var& beta, double eps,
                                 const ReplicaSum& sync, bool relu, const Tensor& row_weight) {
  UCLUSTER_CHECK(x && gamma && beta, "batch_norm (training): input, gamma and beta must all be given");
  Context& ctx = tape.ctx();
  const Tensor& xv = x->value;
  check_input("batch_norm (training)", xv);
  const Shape channels{xv.shape().last()};
  Tensor y = ctx.empty(xv.shape(), xv.dtype(), xv.device());
  BatchNormResult result;
  result.batch_mean = ctx.empty(channels, xv.dtype(), xv.device());
  result.batch_var = ctx.empty(channels, xv.dtype(), xv.device());
  Tensor inv_std = ctx.empty(channels, xv.dtype(), xv.device());
  batch_norm_train_forward(ctx, xv, gamma->value, beta->value, eps, y, result.batch_mean, result.batch_var, inv_std,
                           sync, relu, row_weight);
  result.y = tape.output(y, {&x, &gamma, &beta});
  if (result.y->requires_grad) {
    const Var out = result.y;
    const Tensor mean = result.batch_mean;
    // The closure owns a copy of sync: the caller's ReplicaSum may be gone by backward time.
    tape.record(relu ? "batch_norm_relu_train" : "batch_norm_train",
                [&tape, x, gamma, beta, out, mean, inv_std, sync, relu, row_weight] {
                  batch_norm_train_backward(tape.ctx(), x->value, gamma->value, mean, inv_std, tape.grad(out),
                                            tape.grad_if_needed(x), tape.grad_if_needed(gamma),
                                            tape.grad_if_needed(beta), sync, relu ? out->value : Tensor(), row_weight);
                });
  }
  return result;
}

Var batch_norm_inference(Tape& tape, const Var& x, const Var& gamma, const Var& beta, const Tensor& moving_mean,
                         const Tensor& moving_var, double eps, bool relu) {
  UCLUSTER_CHECK(x && gamma && beta, "batch_norm (inference): input, gamma and beta must all be given");
  Context& ctx = tape.ctx();
  Tensor y = ctx.empty(x->value.shape(), x->value.dtype(), x->value.device());
  batch_norm_inference_forward(ctx, x->value, gamma->value, beta->value, moving_mean, moving_var, eps, y, relu);
  Var out = tape.output(y, {&x, &gamma, &beta});
  if (out->requires_grad) {
    // The backward gets its own copy of the [C] statistics, so a moving-average update between
    // forward and backward cannot change the gradient.
    const Tensor mean = ctx.clone(moving_mean), var = ctx.clone(moving_var);
    tape.record(relu ? "batch_norm_relu_inference" : "batch_norm_inference",
                [&tape, x, gamma, beta, out, mean, var, eps, relu] {
                  batch_norm_inference_backward(tape.ctx(), x->value, gamma->value, mean, var, eps, tape.grad(out),
                                                tape.grad_if_needed(x), tape.grad_if_needed(gamma),
                                                tape.grad_if_needed(beta), relu ? out->value : Tensor());
                });
  }
  return out;
}

}  // namespace ucluster
