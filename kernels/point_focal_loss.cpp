#include "kernels/point_focal_loss.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/point_focal_loss.h"
#include "kernels/cuda/point_focal_loss.h"
#include "kernels/dispatch.h"
#include "kernels/focal_loss.h"
#include "kernels/packed_rows.h"

namespace ucluster {

PointFocalReduction resolve_point_focal_reduction(const std::string& name) {
  if (name == "per_point") return PointFocalReduction::PerPoint;
  UCLUSTER_CHECK(name == "max_points", "the per-point focal loss reduction must be \"per_point\" or \"max_points\", got \"",
                 name, "\"");
  return PointFocalReduction::MaxOverPoints;
}

const char* point_focal_reduction_name(PointFocalReduction reduction) {
  return reduction == PointFocalReduction::PerPoint ? "per_point" : "max_points";
}

namespace {
void check_point_focal(const char* op, const Tensor& logits, const Tensor& target, const JetRows& rows, double gamma,
                       double alpha) {
  check_rank(op, "logits", logits, 2);
  check_jet_rows(op, logits, rows);
  UCLUSTER_CHECK(rows.jets >= 1 && logits.dim(1) >= 1, op, ": logits ", logits.describe(),
                 " must hold at least one jet and one class");
  check_dtype(op, "row weights", rows.weight, logits.dtype());
  check_defined(op, "target", target);
  UCLUSTER_CHECK(target.dtype() == DType::I32 && target.shape() == Shape{logits.dim(0)}, op, ": target ",
                 target.describe(), " does not match logits ", logits.describe(), " (int32 [", logits.dim(0),
                 "] expected)");
  check_same_device(op, logits, target);
  check_focal_parameters(op, gamma, alpha);
}

// The scratch of one call (kernels/cpu/point_focal_loss.h), on the logits' device.
struct Scratch {
  Tensor fl, class_max, tie_weight;
  Scratch(Context& ctx, const Tensor& logits, const JetRows& rows, bool max_over_points)
      : fl(ctx.empty({rows.rows}, DType::F64, logits.device())),
        class_max(ctx.empty({max_over_points ? rows.jets * logits.dim(1) : 1}, DType::F64, logits.device())),
        tie_weight(ctx.empty({max_over_points ? rows.jets * logits.dim(1) : 1}, DType::F64, logits.device())) {}
};

cpu::PointFocalArgs args_of(const Tensor& logits, double gamma, double alpha, PointFocalReduction reduction) {
  return {logits.dim(1), gamma, alpha, reduction == PointFocalReduction::MaxOverPoints};
}

void backward_unchecked(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows, double gamma,
                        double alpha, PointFocalReduction reduction, const Tensor& dloss, const Tensor& dlogits) {
  const char* op = "point_focal_loss backward";
  const cpu::PointFocalArgs a = args_of(logits, gamma, alpha, reduction);
  // The per-row FL and the per-jet maxima are recomputed (MaxOverPoints only; PerPoint needs neither).
  Scratch s(ctx, logits, rows, a.max_over_points);
  const PackedRows packed = packed_rows(rows);
  switch (logits.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, logits.dtype(), [&]<typename T>() {
        cpu::point_focal_loss_backward<T>(logits.data<T>(), target.data<std::int32_t>(), packed, rows.weight.data<T>(),
                                          a, dloss.data<T>(), s.fl.data<double>(), s.class_max.data<double>(),
                                          s.tie_weight.data<double>(), dlogits.data<T>());
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, logits,
          cuda::point_focal_loss_backward(ctx, logits.data<float>(), target.data<std::int32_t>(), packed,
                                          rows.weight.data<float>(), a, dloss.data<float>(), s.fl.data<double>(),
                                          s.class_max.data<double>(), s.tie_weight.data<double>(),
                                          dlogits.data<float>()));
  }
}
}  // namespace

void point_focal_loss_forward(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows,
                              double gamma, double alpha, PointFocalReduction reduction, const Tensor& loss) {
  const char* op = "point_focal_loss";
  check_point_focal(op, logits, target, rows, gamma, alpha);
  check_shape(op, "loss", loss, Shape{1});
  check_dtype(op, "loss", loss, logits.dtype());
  check_same_device(op, logits, loss);
  check_focal_targets(ctx, op, target, logits.dim(1), "row");
  const cpu::PointFocalArgs a = args_of(logits, gamma, alpha, reduction);
  Scratch s(ctx, logits, rows, a.max_over_points);
  const PackedRows packed = packed_rows(rows);
  switch (logits.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, logits.dtype(), [&]<typename T>() {
        cpu::point_focal_loss_forward<T>(logits.data<T>(), target.data<std::int32_t>(), packed, rows.weight.data<T>(),
                                         a, s.fl.data<double>(), s.class_max.data<double>(),
                                         s.tie_weight.data<double>(), loss.data<T>());
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, logits,
          cuda::point_focal_loss_forward(ctx, logits.data<float>(), target.data<std::int32_t>(), packed,
                                         rows.weight.data<float>(), a, s.fl.data<double>(), s.class_max.data<double>(),
                                         s.tie_weight.data<double>(), loss.data<float>()));
  }
}

void point_focal_loss_backward(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows,
                               double gamma, double alpha, PointFocalReduction reduction, const Tensor& dloss,
                               const Tensor& dlogits) {
  const char* op = "point_focal_loss backward";
  check_point_focal(op, logits, target, rows, gamma, alpha);
  check_shape(op, "loss gradient", dloss, Shape{1});
  check_dtype(op, "loss gradient", dloss, logits.dtype());
  check_same_device(op, logits, dloss);
  check_shape(op, "logits gradient", dlogits, logits.shape());
  check_dtype(op, "logits gradient", dlogits, logits.dtype());
  check_same_device(op, logits, dlogits);
  check_focal_targets(ctx, op, target, logits.dim(1), "row");
  backward_unchecked(ctx, logits, target, rows, gamma, alpha, reduction, dloss, dlogits);
}

Var point_focal_loss(Tape& tape, const Var& logits, const Tensor& target, const JetRows& rows, double gamma,
                     double alpha, PointFocalReduction reduction) {
  Context& ctx = tape.ctx();
  Tensor loss = ctx.empty({1}, logits->value.dtype(), logits->value.device());
  point_focal_loss_forward(ctx, logits->value, target, rows, gamma, alpha, reduction, loss);
  Var out = tape.output(loss, {&logits});
  if (out->requires_grad)
    tape.record("point_focal_loss", [&tape, logits, target, rows, gamma, alpha, reduction, out] {
      backward_unchecked(tape.ctx(), logits->value, target, rows, gamma, alpha, reduction, tape.grad(out),
                         tape.grad(logits));
    });
  return out;
}

}  // namespace ucluster
