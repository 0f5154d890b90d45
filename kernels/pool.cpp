#include "kernels/pool.h"

#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {
void check_points_input(const char* op, const char* what, const Tensor& x) {
  check_rank(op, what, x, 3);
  UCLUSTER_CHECK(x.dim(1) > 0, op, ": ", what, " ", x.describe(), " has no points to average over");
}

void check_pooled(const char* op, const char* what, const Tensor& y, const Tensor& x) {
  check_defined(op, what, y);
  UCLUSTER_CHECK(y.shape() == (Shape{x.dim(0), x.dim(2)}), op, ": ", what, " ", y.describe(), " does not match ",
                 x.describe(), " (expected [", x.dim(0), ",", x.dim(2), "])");
  check_dtype(op, what, y, x.dtype());
  check_same_device(op, x, y);
}
}  // namespace

void mean_pool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const char* op = "mean_pool";
  check_points_input(op, "input", x);
  check_pooled(op, "output", y, x);
  const std::int64_t B = x.dim(0), N = x.dim(1), C = x.dim(2);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(),
                            [&]<typename T>() { cpu::mean_pool_forward<T>(x.data<T>(), y.data<T>(), B, N, C); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, x, cuda::mean_pool_forward(ctx, x.data<float>(), y.data<float>(), B, N, C));
  }
}

void mean_pool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  const char* op = "mean_pool backward";
  check_points_input(op, "input gradient", dx);
  check_pooled(op, "output gradient", dy, dx);
  const std::int64_t B = dx.dim(0), N = dx.dim(1), C = dx.dim(2);
  switch (dx.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, dx.dtype(),
                            [&]<typename T>() { cpu::mean_pool_backward<T>(dy.data<T>(), dx.data<T>(), B, N, C); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, dx, cuda::mean_pool_backward(ctx, dy.data<float>(), dx.data<float>(), B, N, C));
  }
}

Var mean_pool(Tape& tape, const Var& x) {
  Context& ctx = tape.ctx();
  check_points_input("mean_pool", "input", x->value);
  Tensor y = ctx.empty({x->value.dim(0), x->value.dim(2)}, x->value.dtype(), x->value.device());
  mean_pool_forward(ctx, x->value, y);
  Var out = tape.output(y, {&x});
  if (out->requires_grad)
    tape.record("mean_pool", [&tape, x, out] { mean_pool_backward(tape.ctx(), tape.grad(out), tape.grad(x)); });
  return out;
}

}  // namespace ucluster
