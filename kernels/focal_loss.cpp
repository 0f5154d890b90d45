#include "kernels/focal_loss.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/focal_loss.h"
#include "kernels/cuda/focal_loss.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {
void check_focal(const char* op, const Tensor& logits, const Tensor& target, double gamma, double alpha) {
  check_rank(op, "logits", logits, 2);
  UCLUSTER_CHECK(logits.dim(0) >= 1 && logits.dim(1) >= 1, op, ": logits ", logits.describe(),
                 " must hold at least one jet and one class");
  check_defined(op, "target", target);
  UCLUSTER_CHECK(target.dtype() == DType::I32 && target.shape() == Shape{logits.dim(0)}, op, ": target ",
                 target.describe(), " does not match logits ", logits.describe(), " (int32 [", logits.dim(0),
                 "] expected)");
  check_same_device(op, logits, target);
  check_focal_parameters(op, gamma, alpha);
}

// The backward without the target check (the tape calls it after a checked forward).
void backward_unchecked(Context& ctx, const Tensor& logits, const Tensor& target, double gamma, double alpha,
                        const Tensor& dloss, const Tensor& dlogits) {
  const std::int64_t batch = logits.dim(0), classes = logits.dim(1);
  switch (logits.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("focal_loss backward", logits.dtype(), [&]<typename T>() {
        cpu::focal_loss_backward<T>(logits.data<T>(), target.data<std::int32_t>(), dloss.data<T>(),
                                    dlogits.data<T>(), batch, classes, gamma, alpha);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "focal_loss backward", logits,
          cuda::focal_loss_backward(ctx, logits.data<float>(), target.data<std::int32_t>(), dloss.data<float>(),
                                    dlogits.data<float>(), batch, classes, gamma, alpha));
  }
}
}  // namespace

void check_focal_parameters(const char* op, double gamma, double alpha) {
  UCLUSTER_CHECK(std::isfinite(gamma) && gamma >= 0.0, op, ": gamma must be finite and >= 0, got ", gamma);
  UCLUSTER_CHECK(std::isfinite(alpha), op, ": alpha must be finite, got ", alpha);
}

// On CUDA this copies the targets to the host (one sync).
void check_focal_targets(Context& ctx, const char* op, const Tensor& target, std::int64_t classes, const char* what) {
  const std::vector<std::int32_t> t = ctx.to_vector<std::int32_t>(target);
  for (std::size_t i = 0; i < t.size(); ++i)
    UCLUSTER_CHECK(t[i] >= 0 && t[i] < classes, op, ": target of ", what, " ", i, " is ", t[i], ", outside [0, ",
                   classes, ")");
}

void focal_loss_forward(Context& ctx, const Tensor& logits, const Tensor& target, double gamma, double alpha,
                        const Tensor& loss) {
  const char* op = "focal_loss";
  check_focal(op, logits, target, gamma, alpha);
  check_shape(op, "loss", loss, Shape{1});
  check_dtype(op, "loss", loss, logits.dtype());
  check_same_device(op, logits, loss);
  const std::int64_t batch = logits.dim(0), classes = logits.dim(1);
  check_focal_targets(ctx, op, target, classes, "jet");
  switch (logits.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, logits.dtype(), [&]<typename T>() {
        cpu::focal_loss_forward<T>(logits.data<T>(), target.data<std::int32_t>(), loss.data<T>(), batch, classes,
                                   gamma, alpha);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, logits,
                                cuda::focal_loss_forward(ctx, logits.data<float>(), target.data<std::int32_t>(),
                                                         loss.data<float>(), batch, classes, gamma, alpha));
  }
}

void focal_loss_backward(Context& ctx, const Tensor& logits, const Tensor& target, double gamma, double alpha,
                         const Tensor& dloss, const Tensor& dlogits) {
  const char* op = "focal_loss backward";
  check_focal(op, logits, target, gamma, alpha);
  check_shape(op, "loss gradient", dloss, Shape{1});
  check_dtype(op, "loss gradient", dloss, logits.dtype());
  check_same_device(op, logits, dloss);
  check_shape(op, "logits gradient", dlogits, logits.shape());
  check_dtype(op, "logits gradient", dlogits, logits.dtype());
  check_same_device(op, logits, dlogits);
  check_focal_targets(ctx, op, target, logits.dim(1), "jet");
  backward_unchecked(ctx, logits, target, gamma, alpha, dloss, dlogits);
}

Var focal_loss(Tape& tape, const Var& logits, const Tensor& target, double gamma, double alpha) {
  Context& ctx = tape.ctx();
  Tensor loss = ctx.empty({1}, logits->value.dtype(), logits->value.device());
  focal_loss_forward(ctx, logits->value, target, gamma, alpha, loss);
  Var out = tape.output(loss, {&logits});
  if (out->requires_grad)
    tape.record("focal_loss", [&tape, logits, target, gamma, alpha, out] {
      backward_unchecked(tape.ctx(), logits->value, target, gamma, alpha, tape.grad(out), tape.grad(logits));
    });
  return out;
}

}  // namespace ucluster
