#include "kernels/attention.h"

#include "kernels/cpu/attention.h"
#include "kernels/cuda/attention.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {

void check_float(const char* op, const char* what, const Tensor& t) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.dtype() == DType::F32 || t.dtype() == DType::F64, op, ": ", what,
                 " must be float32 or float64, got ", t.describe());
}

// Validates a [B, N] / [B, N, 1] and c [B, N, k] / [B, N, k, 1]; returns the alpha shape [B, N, k].
Shape check_coefficients(const char* op, const Tensor& a, const Tensor& c) {
  check_float(op, "neighbour coefficients", c);
  UCLUSTER_CHECK(c.rank() == 3 || (c.rank() == 4 && c.dim(3) == 1), op, ": neighbour coefficients must be [B, N, k]",
                 " or [B, N, k, 1], got ", c.describe());
  const std::int64_t batch = c.dim(0), n = c.dim(1), k = c.dim(2);
  UCLUSTER_CHECK(k >= 1, op, ": the softmax needs at least one neighbour, got ", c.describe());
  check_defined(op, "self coefficients", a);
  UCLUSTER_CHECK(a.shape() == Shape({batch, n}) || a.shape() == Shape({batch, n, 1}), op, ": self coefficients ",
                 a.describe(), " do not match neighbour coefficients ", c.describe(), " (expected [", batch, ",", n,
                 "] or [", batch, ",", n, ",1])");
  check_dtype(op, "self coefficients", a, c.dtype());
  check_same_device(op, a, c);
  return Shape{batch, n, k};
}

// Validates alpha [B, N, k] and y [B, N, k, A]; returns the output shape [B, N, A].
Shape check_aggregate(const char* op, const Tensor& alpha, const Tensor& y) {
  check_float(op, "attention weights", alpha);
  check_rank(op, "attention weights", alpha, 3);
  check_rank(op, "edge features", y, 4);
  UCLUSTER_CHECK(y.dim(0) == alpha.dim(0) && y.dim(1) == alpha.dim(1) && y.dim(2) == alpha.dim(2), op,
                 ": edge features ", y.describe(), " do not match attention weights ", alpha.describe(),
                 " (expected [B, N, k, A] with [B, N, k] = ", alpha.shape().str(), ")");
  check_dtype(op, "edge features", y, alpha.dtype());
  check_same_device(op, alpha, y);
  return Shape{y.dim(0), y.dim(1), y.dim(3)};
}

// Validates y [B, N, k >= 1, A]; returns the output shape [B, N, A].
Shape check_neighbour_max(const char* op, const Tensor& y) {
  check_float(op, "edge features", y);
  check_rank(op, "edge features", y, 4);
  UCLUSTER_CHECK(y.dim(2) >= 1, op, ": the max over neighbours needs k >= 1, got ", y.describe());
  return Shape{y.dim(0), y.dim(1), y.dim(3)};
}

void check_output(const char* op, const char* what, const Tensor& out, const Tensor& like, const Shape& shape) {
  check_shape(op, what, out, shape);
  check_dtype(op, what, out, like.dtype());
  check_same_device(op, like, out);
}

}  // namespace

void attention_softmax_forward(Context& ctx, const Tensor& a, const Tensor& c, const Tensor& alpha, double slope) {
  const char* op = "attention_softmax";
  const Shape shape = check_coefficients(op, a, c);
  check_output(op, "output", alpha, c, shape);
  const std::int64_t rows = shape[0] * shape[1], k = shape[2];
  switch (c.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, c.dtype(), [&]<typename T>() {
        cpu::attention_softmax_forward<T>(a.data<T>(), c.data<T>(), alpha.data<T>(), rows, k, T(slope));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, c,
                                cuda::attention_softmax_forward(ctx, a.data<float>(), c.data<float>(),
                                                                alpha.data<float>(), rows, k, float(slope)));
  }
}

void attention_softmax_backward(Context& ctx, const Tensor& a, const Tensor& c, const Tensor& alpha,
                                const Tensor& dalpha, const Tensor& da, const Tensor& dc, double slope) {
  const char* op = "attention_softmax backward";
  const Shape shape = check_coefficients(op, a, c);
  check_output(op, "softmax output", alpha, c, shape);
  check_output(op, "output gradient", dalpha, c, shape);
  if (da.defined()) check_output(op, "self-coefficient gradient", da, c, a.shape());
  if (dc.defined()) check_output(op, "neighbour-coefficient gradient", dc, c, c.shape());
  const std::int64_t rows = shape[0] * shape[1], k = shape[2];
  switch (c.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, c.dtype(), [&]<typename T>() {
        cpu::attention_softmax_backward<T>(a.data<T>(), c.data<T>(), alpha.data<T>(), dalpha.data<T>(),
                                           ptr_or_null<T>(da), ptr_or_null<T>(dc), rows, k, T(slope));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, c,
                                cuda::attention_softmax_backward(
                                    ctx, a.data<float>(), c.data<float>(), alpha.data<float>(), dalpha.data<float>(),
                                    ptr_or_null<float>(da), ptr_or_null<float>(dc), rows, k, float(slope)));
  }
}

Var attention_softmax(Tape& tape, const Var& a, const Var& c, double slope) {
  Context& ctx = tape.ctx();
  const Shape shape = check_coefficients("attention_softmax", a->value, c->value);
  Tensor alpha = ctx.empty(shape, c->value.dtype(), c->value.device());
  attention_softmax_forward(ctx, a->value, c->value, alpha, slope);
  Var out = tape.output(alpha, {&a, &c});
  if (out->requires_grad)
    tape.record("attention_softmax", [&tape, a, c, out, slope] {
      attention_softmax_backward(tape.ctx(), a->value, c->value, out->value, tape.grad(out), tape.grad_if_needed(a),
                                 tape.grad_if_needed(c), slope);
    });
  return out;
}

void attention_aggregate_forward(Context& ctx, const Tensor& alpha, const Tensor& y, const Tensor& bias,
                                 const Tensor& o) {
  const char* op = "attention_aggregate";
  const Shape shape = check_aggregate(op, alpha, y);
  if (bias.defined()) check_output(op, "bias", bias, y, Shape{y.dim(3)});
  check_output(op, "output", o, y, shape);
  const std::int64_t rows = shape[0] * shape[1], k = y.dim(2), channels = y.dim(3);
  switch (y.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, y.dtype(), [&]<typename T>() {
        cpu::attention_aggregate_forward<T>(alpha.data<T>(), y.data<T>(), ptr_or_null<T>(bias), o.data<T>(), rows, k,
                                            channels);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, y,
          cuda::attention_aggregate_forward(ctx, alpha.data<float>(), y.data<float>(), ptr_or_null<float>(bias),
                                            o.data<float>(), rows, k, channels));
  }
}

void attention_aggregate_backward(Context& ctx, const Tensor& alpha, const Tensor& y, const Tensor& dout,
                                  const Tensor& dalpha, const Tensor& dy, const Tensor& dbias) {
  const char* op = "attention_aggregate backward";
  const Shape shape = check_aggregate(op, alpha, y);
  check_output(op, "output gradient", dout, y, shape);
  if (dalpha.defined()) check_output(op, "attention-weight gradient", dalpha, y, alpha.shape());
  if (dy.defined()) check_output(op, "edge-feature gradient", dy, y, y.shape());
  if (dbias.defined()) check_output(op, "bias gradient", dbias, y, Shape{y.dim(3)});
  const std::int64_t rows = shape[0] * shape[1], k = y.dim(2), channels = y.dim(3);
  switch (y.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, y.dtype(), [&]<typename T>() {
        cpu::attention_aggregate_backward<T>(alpha.data<T>(), y.data<T>(), dout.data<T>(), ptr_or_null<T>(dalpha),
                                             ptr_or_null<T>(dy), ptr_or_null<T>(dbias), rows, k, channels);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, y,
          cuda::attention_aggregate_backward(ctx, alpha.data<float>(), y.data<float>(), dout.data<float>(),
                                             ptr_or_null<float>(dalpha), ptr_or_null<float>(dy),
                                             ptr_or_null<float>(dbias), rows, k, channels));
  }
}

Var attention_aggregate(Tape& tape, const Var& alpha, const Var& y, const Var& bias) {
  Context& ctx = tape.ctx();
  const Shape shape = check_aggregate("attention_aggregate", alpha->value, y->value);
  Tensor o = ctx.empty(shape, y->value.dtype(), y->value.device());
  attention_aggregate_forward(ctx, alpha->value, y->value, bias ? bias->value : Tensor(), o);
  Var out = tape.output(o, {&alpha, &y, &bias});
  if (out->requires_grad)
    tape.record("attention_aggregate", [&tape, alpha, y, bias, out] {
      attention_aggregate_backward(tape.ctx(), alpha->value, y->value, tape.grad(out), tape.grad_if_needed(alpha),
                                   tape.grad_if_needed(y), tape.grad_if_needed(bias));
    });
  return out;
}

void neighbour_max_forward(Context& ctx, const Tensor& y, const Tensor& g) {
  const char* op = "neighbour_max";
  const Shape shape = check_neighbour_max(op, y);
  check_output(op, "output", g, y, shape);
  const std::int64_t rows = shape[0] * shape[1], k = y.dim(2), channels = y.dim(3);
  switch (y.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, y.dtype(), [&]<typename T>() {
        cpu::neighbour_max_forward<T>(y.data<T>(), g.data<T>(), rows, k, channels);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, y,
                                cuda::neighbour_max_forward(ctx, y.data<float>(), g.data<float>(), rows, k, channels));
  }
}

void neighbour_max_backward(Context& ctx, const Tensor& y, const Tensor& g, const Tensor& dg, const Tensor& dy) {
  const char* op = "neighbour_max backward";
  const Shape shape = check_neighbour_max(op, y);
  check_output(op, "forward output", g, y, shape);
  check_output(op, "output gradient", dg, y, shape);
  check_output(op, "input gradient", dy, y, y.shape());
  const std::int64_t rows = shape[0] * shape[1], k = y.dim(2), channels = y.dim(3);
  switch (y.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, y.dtype(), [&]<typename T>() {
        cpu::neighbour_max_backward<T>(y.data<T>(), g.data<T>(), dg.data<T>(), dy.data<T>(), rows, k, channels);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, y,
                                cuda::neighbour_max_backward(ctx, y.data<float>(), g.data<float>(), dg.data<float>(),
                                                             dy.data<float>(), rows, k, channels));
  }
}

Var neighbour_max(Tape& tape, const Var& y) {
  Context& ctx = tape.ctx();
  const Shape shape = check_neighbour_max("neighbour_max", y->value);
  Tensor g = ctx.empty(shape, y->value.dtype(), y->value.device());
  neighbour_max_forward(ctx, y->value, g);
  Var out = tape.output(g, {&y});
  if (out->requires_grad)
    tape.record("neighbour_max", [&tape, y, out] {
      neighbour_max_backward(tape.ctx(), y->value, out->value, tape.grad(out), tape.grad(y));
    });
  return out;
}

}  // namespace ucluster
