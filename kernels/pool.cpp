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

namespace {
// The forward (y = mean over the points of x) or the backward (dx += dy / N): both read or write
// points [B, N, C] (x, dx) and pooled [B, C] (y, dy).
void mean_pool_pass(Context& ctx, const char* op, bool backward, const Tensor& points, const Tensor& pooled) {
  const auto [B, N, C] = backward ? check_pool(op, "input gradient", points, "output gradient", pooled)
                                  : check_pool(op, "input", points, "output", pooled);
  switch (points.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, points.dtype(), [&]<typename T>() {
        if (backward)
          cpu::mean_pool_backward<T>(pooled.data<T>(), points.data<T>(), B, N, C);
        else
          cpu::mean_pool_forward<T>(points.data<T>(), pooled.data<T>(), B, N, C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, points,
          backward ? cuda::mean_pool_backward(ctx, pooled.data<float>(), points.data<float>(), B, N, C)
                   : cuda::mean_pool_forward(ctx, points.data<float>(), pooled.data<float>(), B, N, C));
  }
}
}  // namespace

void mean_pool_forward(Context& ctx, const Tensor& x, const Tensor& y) {
  mean_pool_pass(ctx, "mean_pool", false, x, y);
}

void mean_pool_backward(Context& ctx, const Tensor& dy, const Tensor& dx) {
  mean_pool_pass(ctx, "mean_pool backward", true, dx, dy);
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
