#include "kernels/dense.h"

#include "kernels/cpu/dense.h"
#include "kernels/cuda/dense.h"
#include "kernels/dispatch.h"
#include "kernels/elementwise.h"

namespace ucluster {

namespace {
void check_dense(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  check_rank("dense", "weight", w, 2);
  check_defined("dense", "input", x);
  UCLUSTER_CHECK(x.rank() >= 1 && x.shape().last() == w.dim(0), "dense: input ", x.describe(),
                 " does not match weight ", w.describe(), " (input channels ", x.shape().last(), " vs ", w.dim(0),
                 ")");
  check_dtype("dense", "weight", w, x.dtype());
  check_same_device("dense", x, w);
  if (bias.defined()) {
    check_shape("dense", "bias", bias, Shape{w.dim(1)});
    check_dtype("dense", "bias", bias, x.dtype());
  }
  check_shape("dense", "output", y, x.shape().with_last(w.dim(1)));
}

}  // namespace

void dense_forward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& y) {
  check_dense(x, w, bias, y);
  const std::int64_t rows = x.shape().rows(), cin = w.dim(0), cout = w.dim(1);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("dense", x.dtype(), [&]<typename T>() {
        cpu::dense_forward<T>(x.data<T>(), w.data<T>(), ptr_or_null<T>(bias), y.data<T>(), rows, cin, cout);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL("dense", x,
                                cuda::dense_forward(ctx, x.data<float>(), w.data<float>(), ptr_or_null<float>(bias),
                                                    y.data<float>(), rows, cin, cout));
  }
}

void dense_backward(Context& ctx, const Tensor& x, const Tensor& w, const Tensor& dy, const Tensor& dx,
                    const Tensor& dw, const Tensor& dbias) {
  check_shape("dense backward", "output gradient", dy, x.shape().with_last(w.dim(1)));
  if (dx.defined()) check_shape("dense backward", "input gradient", dx, x.shape());
  if (dw.defined()) check_shape("dense backward", "weight gradient", dw, w.shape());
  if (dbias.defined()) check_shape("dense backward", "bias gradient", dbias, Shape{w.dim(1)});
  const std::int64_t rows = x.shape().rows(), cin = w.dim(0), cout = w.dim(1);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("dense backward", x.dtype(), [&]<typename T>() {
        cpu::dense_backward<T>(x.data<T>(), w.data<T>(), dy.data<T>(), ptr_or_null<T>(dx), ptr_or_null<T>(dw),
                               ptr_or_null<T>(dbias), rows, cin, cout);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          "dense backward", x,
          cuda::dense_backward(ctx, x.data<float>(), w.data<float>(), dy.data<float>(), ptr_or_null<float>(dx),
                               ptr_or_null<float>(dw), ptr_or_null<float>(dbias), rows, cin, cout));
  }
}

void bias_add_forward(Context& ctx, const Tensor& x, const Tensor& bias, const Tensor& y) {
  check_defined("bias_add", "input", x);
  check_shape("bias_add", "bias", bias, Shape{x.shape().last()});
  check_dtype("bias_add", "bias", bias, x.dtype());
  check_shape("bias_add", "output", y, x.shape());
  check_same_device("bias_add", x, bias);
  const std::int64_t rows = x.shape().rows(), c = x.shape().last();
  ctx.copy(y, x);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("bias_add", x.dtype(),
                            [&]<typename T>() { cpu::add_bias<T>(y.data<T>(), bias.data<T>(), rows, c); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL("bias_add", x, cuda::add_bias(ctx, y.data<float>(), bias.data<float>(), rows, c));
  }
}

void bias_add_backward(Context& ctx, const Tensor& dy, const Tensor& dx, const Tensor& dbias) {
  const std::int64_t rows = dy.shape().rows(), c = dy.shape().last();
  if (dx.defined()) {
    check_shape("bias_add backward", "input gradient", dx, dy.shape());
    scale_backward(ctx, dy, 1.0, dx);  // dx += dy
  }
  if (!dbias.defined()) return;
  check_shape("bias_add backward", "bias gradient", dbias, Shape{c});
  switch (dy.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float("bias_add backward", dy.dtype(),
                            [&]<typename T>() { cpu::bias_grad<T>(dy.data<T>(), dbias.data<T>(), rows, c); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL("bias_add backward", dy,
                                cuda::bias_grad(ctx, dy.data<float>(), dbias.data<float>(), rows, c));
  }
}

Var bias_add(Tape& tape, const Var& x, const Var& bias) {
  Tensor y = tape.ctx().empty_like(x->value);
  bias_add_forward(tape.ctx(), x->value, bias->value, y);
  Var out = tape.output(y, {&x, &bias});
  if (out->requires_grad)
    tape.record("bias_add", [&tape, x, bias, out] {
      bias_add_backward(tape.ctx(), tape.grad(out), tape.grad_if_needed(x), tape.grad_if_needed(bias));
    });
  return out;
}

Var dense(Tape& tape, const Var& x, const Var& w, const Var& bias) {
  Context& ctx = tape.ctx();
  const Tensor b = bias ? bias->value : Tensor();
  Tensor y = ctx.empty(x->value.shape().with_last(w->value.dim(1)), x->value.dtype(), x->value.device());
  dense_forward(ctx, x->value, w->value, b, y);
  Var out = tape.output(y, {&x, &w, &bias});
  if (out->requires_grad) {
    tape.record("dense", [&tape, x, w, bias, out] {
      const Tensor& dy = tape.grad(out);
      dense_backward(tape.ctx(), x->value, w->value, dy, tape.grad_if_needed(x), tape.grad_if_needed(w),
                     tape.grad_if_needed(bias));
    });
  }
  return out;
}

}  // namespace ucluster
