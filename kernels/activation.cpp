#include "kernels/activation.h"

#include "kernels/cpu/activation.h"
#include "kernels/cuda/activation.h"
#include "kernels/dispatch.h"

namespace ucluster {

void leaky_relu_forward(Context& ctx, const Tensor& x, const Tensor& y, double slope) {
  check_shape("leaky_relu", "output", y, x.shape());
  check_dtype("leaky_relu", "output", y, x.dtype());
  check_same_device("leaky_relu", x, y);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("leaky_relu", x.dtype(), [&]<typename T>() {
        cpu::leaky_relu_forward<T>(x.data<T>(), y.data<T>(), x.numel(), T(slope));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "leaky_relu", x, cuda::leaky_relu_forward(ctx, x.data<float>(), y.data<float>(), x.numel(), float(slope)));
  }
}

void leaky_relu_backward(Context& ctx, const Tensor& x, const Tensor& dy, const Tensor& dx, double slope) {
  check_shape("leaky_relu backward", "output gradient", dy, x.shape());
  check_shape("leaky_relu backward", "input gradient", dx, x.shape());
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("leaky_relu backward", x.dtype(), [&]<typename T>() {
        cpu::leaky_relu_backward<T>(x.data<T>(), dy.data<T>(), dx.data<T>(), x.numel(), T(slope));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "leaky_relu backward", x,
          cuda::leaky_relu_backward(ctx, x.data<float>(), dy.data<float>(), dx.data<float>(), x.numel(), float(slope)));
  }
}

Var leaky_relu(Tape& tape, const Var& x, double slope) {
  Tensor y = tape.ctx().empty_like(x->value);
  leaky_relu_forward(tape.ctx(), x->value, y, slope);
  Var out = tape.output(y, {&x});
  if (out->requires_grad)
    tape.record("leaky_relu", [&tape, x, out, slope] {
      leaky_relu_backward(tape.ctx(), x->value, tape.grad(out), tape.grad(x), slope);
    });
  return out;
}

Var relu(Tape& tape, const Var& x) { return leaky_relu(tape, x, 0.0); }

}  // namespace ucluster
