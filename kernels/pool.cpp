#include "kernels/pool.h"

#include "kernels/cpu/pool.h"
#include "kernels/cuda/pool.h"
#include "kernels/dispatch.h"
#include "kernels/packed_rows.h"

namespace ucluster {

namespace {
// points [R, C] (x, or dx in the backward) on the rows of `rows`, and pooled [B, C] (y, or dy).
void check_pool(const char* op, const char* points_what, const Tensor& points, const JetRows& rows,
                const char* pooled_what, const Tensor& pooled) {
  check_rank(op, points_what, points, 2);
  check_jet_rows(op, points, rows);
  check_dtype(op, "row weights", rows.weight, points.dtype());
  check_defined(op, pooled_what, pooled);
  UCLUSTER_CHECK(pooled.shape() == (Shape{rows.jets, points.dim(1)}), op, ": ", pooled_what, " ", pooled.describe(),
                 " does not match ", points.describe(), " of ", rows.jets, " jets (expected [", rows.jets, ",",
                 points.dim(1), "])");
  check_dtype(op, pooled_what, pooled, points.dtype());
  check_same_device(op, points, pooled);
}

// The forward (y = the weighted mean over each jet's rows of x) or the backward (dx += w dy / P):
// both read or write points [R, C] (x, dx) and pooled [B, C] (y, dy).
void mean_pool_pass(Context& ctx, const char* op, bool backward, const Tensor& points, const JetRows& rows,
                    const Tensor& pooled) {
  if (backward)
    check_pool(op, "input gradient", points, rows, "output gradient", pooled);
  else
    check_pool(op, "input", points, rows, "output", pooled);
  if (rows.jets == 0) return;
  const std::int64_t C = points.dim(1);
  const PackedRows packed = packed_rows(rows);
  switch (points.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, points.dtype(), [&]<typename T>() {
        const T* w = rows.weight.data<T>();
        if (backward)
          cpu::mean_pool_backward<T>(packed, w, pooled.data<T>(), points.data<T>(), C);
        else
          cpu::mean_pool_forward<T>(points.data<T>(), packed, w, pooled.data<T>(), C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, points,
          backward
              ? cuda::mean_pool_backward(ctx, packed, rows.weight.data<float>(), pooled.data<float>(),
                                         points.data<float>(), C)
              : cuda::mean_pool_forward(ctx, points.data<float>(), packed, rows.weight.data<float>(),
                                        pooled.data<float>(), C));
  }
}
}  // namespace

void mean_pool_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y) {
  mean_pool_pass(ctx, "mean_pool", false, x, rows, y);
}

void mean_pool_backward(Context& ctx, const JetRows& rows, const Tensor& dy, const Tensor& dx) {
  mean_pool_pass(ctx, "mean_pool backward", true, dx, rows, dy);
}

Var mean_pool(Tape& tape, const Var& x, const JetRows& rows) {
  Context& ctx = tape.ctx();
  check_rank("mean_pool", "input", x->value, 2);
  Tensor y = ctx.empty({rows.jets, x->value.dim(1)}, x->value.dtype(), x->value.device());
  mean_pool_forward(ctx, x->value, rows, y);
  Var out = tape.output(y, {&x});
  if (out->requires_grad)
    tape.record("mean_pool", [&tape, x, rows, out] {
      mean_pool_backward(tape.ctx(), rows, tape.grad(out), tape.grad(x));
    });
  return out;
}

void max_pool_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y, const Tensor& argmax) {
  const char* op = "max_pool";
  check_pool(op, "input", x, rows, "output", y);
  check_defined(op, "argmax", argmax);
  UCLUSTER_CHECK(argmax.dtype() == DType::I32 && argmax.shape() == y.shape(), op, ": argmax ", argmax.describe(),
                 " must be int32 of the output's shape ", y.describe());
  check_same_device(op, x, argmax);
  if (rows.jets == 0) return;
  const std::int64_t C = x.dim(1);
  const PackedRows packed = packed_rows(rows);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::max_pool_forward<T>(x.data<T>(), packed, y.data<T>(), argmax.data<std::int32_t>(), C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, x, cuda::max_pool_forward(ctx, x.data<float>(), packed, y.data<float>(), argmax.data<std::int32_t>(), C));
  }
}

void max_pool_backward(Context& ctx, const Tensor& argmax, const Tensor& dy, const Tensor& dx) {
  const char* op = "max_pool backward";
  check_rank(op, "output gradient", dy, 2);
  check_rank(op, "input gradient", dx, 2);
  UCLUSTER_CHECK(argmax.dtype() == DType::I32 && argmax.shape() == dy.shape(), op, ": argmax ", argmax.describe(),
                 " does not match the output gradient ", dy.describe());
  UCLUSTER_CHECK(dx.dim(1) == dy.dim(1), op, ": input gradient ", dx.describe(), " and output gradient ",
                 dy.describe(), " differ in channels");
  check_dtype(op, "input gradient", dx, dy.dtype());
  check_same_device(op, dy, dx);
  check_same_device(op, dy, argmax);
  const std::int64_t B = dy.dim(0), C = dy.dim(1);
  switch (dy.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, dy.dtype(), [&]<typename T>() {
        cpu::max_pool_backward<T>(argmax.data<std::int32_t>(), dy.data<T>(), dx.data<T>(), B, C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, dy, cuda::max_pool_backward(ctx, argmax.data<std::int32_t>(), dy.data<float>(), dx.data<float>(), B, C));
  }
}

Var max_pool(Tape& tape, const Var& x, const JetRows& rows) {
  Context& ctx = tape.ctx();
  check_rank("max_pool", "input", x->value, 2);
  Tensor y = ctx.empty({rows.jets, x->value.dim(1)}, x->value.dtype(), x->value.device());
  Tensor argmax = ctx.empty({rows.jets, x->value.dim(1)}, DType::I32, x->value.device());
  max_pool_forward(ctx, x->value, rows, y, argmax);
  Var out = tape.output(y, {&x});
  if (out->requires_grad)
    tape.record("max_pool", [&tape, x, argmax, out] {
      max_pool_backward(tape.ctx(), argmax, tape.grad(out), tape.grad(x));
    });
  return out;
}

}  // namespace ucluster
