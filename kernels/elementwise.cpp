#include "kernels/elementwise.h"

#include "kernels/cpu/elementwise.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/dispatch.h"

namespace ucluster {

namespace {
void check_like(const char* op, const char* what, const Tensor& t, const Tensor& ref) {
  check_defined(op, what, t);
  UCLUSTER_CHECK(t.shape() == ref.shape(), op, ": ", what, " ", t.describe(), " does not match ", ref.describe());
  check_dtype(op, what, t, ref.dtype());
  check_same_device(op, ref, t);
}

// out = alpha a + beta b (b undefined: out = alpha a), after the checks.
void combine(Context& ctx, const char* op, const Tensor& a, const Tensor& b, double alpha, double beta,
             const Tensor& out) {
  const std::int64_t n = a.numel();
  switch (a.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, a.dtype(), [&]<typename T>() {
        cpu::add_scaled<T>(a.data<T>(), ptr_or_null<T>(b), out.data<T>(), n, T(alpha), T(beta));
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, a,
                                cuda::add_scaled(ctx, a.data<float>(), ptr_or_null<float>(b), out.data<float>(), n,
                                                 float(alpha), float(beta)));
  }
}

// dst += alpha src, after the checks.
void accumulate(Context& ctx, const char* op, const Tensor& src, double alpha, const Tensor& dst) {
  const std::int64_t n = src.numel();
  switch (src.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(
          op, src.dtype(), [&]<typename T>() { cpu::accumulate_scaled<T>(src.data<T>(), dst.data<T>(), n, T(alpha)); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, src,
                                cuda::accumulate_scaled(ctx, src.data<float>(), dst.data<float>(), n, float(alpha)));
  }
}
}  // namespace

void add_scaled_forward(Context& ctx, const Tensor& a, const Tensor& b, double alpha, double beta,
                        const Tensor& out) {
  const char* op = "add_scaled";
  check_defined(op, "first input", a);
  check_like(op, "second input", b, a);
  check_like(op, "output", out, a);
  combine(ctx, op, a, b, alpha, beta, out);
}

void add_scaled_backward(Context& ctx, const Tensor& dout, double alpha, double beta, const Tensor& da,
                         const Tensor& db) {
  const char* op = "add_scaled backward";
  check_defined(op, "output gradient", dout);
  if (da.defined()) {
    check_like(op, "first input gradient", da, dout);
    accumulate(ctx, op, dout, alpha, da);
  }
  if (db.defined()) {
    check_like(op, "second input gradient", db, dout);
    accumulate(ctx, op, dout, beta, db);
  }
}

void scale_forward(Context& ctx, const Tensor& a, double alpha, const Tensor& out) {
  const char* op = "scale";
  check_defined(op, "input", a);
  check_like(op, "output", out, a);
  combine(ctx, op, a, Tensor(), alpha, 0.0, out);
}

void scale_backward(Context& ctx, const Tensor& dout, double alpha, const Tensor& da) {
  const char* op = "scale backward";
  check_defined(op, "output gradient", dout);
  check_like(op, "input gradient", da, dout);
  accumulate(ctx, op, dout, alpha, da);
}

Var add_scaled(Tape& tape, const Var& a, const Var& b, double alpha, double beta) {
  UCLUSTER_CHECK(a && b, "add_scaled: both inputs must be given");
  Tensor y = tape.ctx().empty_like(a->value);
  add_scaled_forward(tape.ctx(), a->value, b->value, alpha, beta, y);
  Var out = tape.output(y, {&a, &b});
  if (out->requires_grad)
    tape.record("add_scaled", [&tape, a, b, out, alpha, beta] {
      add_scaled_backward(tape.ctx(), tape.grad(out), alpha, beta, tape.grad_if_needed(a), tape.grad_if_needed(b));
    });
  return out;
}

Var scale(Tape& tape, const Var& a, double alpha) {
  UCLUSTER_CHECK(a, "scale: input must be given");
  Tensor y = tape.ctx().empty_like(a->value);
  scale_forward(tape.ctx(), a->value, alpha, y);
  Var out = tape.output(y, {&a});
  if (out->requires_grad)
    tape.record("scale", [&tape, a, out, alpha] { scale_backward(tape.ctx(), tape.grad(out), alpha, tape.grad(a)); });
  return out;
}

}  // namespace ucluster
