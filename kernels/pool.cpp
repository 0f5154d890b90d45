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

struct PoolDims {
  std::int64_t batch, n, channels;
};

// points [B, N, C] (x, or dx in the backward) and pooled [B, C] (y, or dy); returns B, N, C.
PoolDims check_pool(const char* op, const char* points_what, const Tensor& points, const char* pooled_what,
                    const Tensor& pooled) {
  check_points_input(op, points_what, points);
  check_defined(op, pooled_what, pooled);
  UCLUSTER_CHECK(pooled.shape() == (Shape{points.dim(0), points.dim(2)}), op, ": ", pooled_what, " ", pooled.describe(),
                 " does not match ", points.describe(), " (expected [", points.dim(0), ",", points.dim(2), "])");
  check_dtype(op, pooled_what, pooled, points.dtype());
  check_same_device(op, points, pooled);
  return {points.dim(0), points.dim(1), points.dim(2)};
}
}  // namespace

void mean_pool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  const char* op = "mean_pool";
  const auto [B, N, C] = check_pool(op, "input", x, "output", y);
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
  const auto [B, N, C] = check_pool(op, "input gradient", dx, "output gradient", dy);
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
