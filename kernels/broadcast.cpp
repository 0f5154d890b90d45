#include "kernels/broadcast.h"

#include "kernels/cpu/broadcast.h"
#include "kernels/cuda/broadcast.h"
#include "kernels/dispatch.h"
#include "kernels/packed_rows.h"

namespace ucluster {

namespace {
// rows_what [R, C] on the rows of `rows` and jets_what [B, C].
void check_broadcast(const char* op, const char* jets_what, const Tensor& per_jet, const JetRows& rows,
                     const char* rows_what, const Tensor& per_row) {
  check_rank(op, jets_what, per_jet, 2);
  check_defined(op, rows_what, per_row);
  check_jet_rows(op, per_row, rows);
  UCLUSTER_CHECK(per_jet.dim(0) == rows.jets, op, ": ", jets_what, " ", per_jet.describe(), " does not have the ",
                 rows.jets, " jets of the layout");
  UCLUSTER_CHECK(per_row.shape() == (Shape{rows.rows, per_jet.dim(1)}), op, ": ", rows_what, " ",
                 per_row.describe(), " does not match ", per_jet.describe(), " on ", rows.rows, " rows");
  check_dtype(op, rows_what, per_row, per_jet.dtype());
  check_same_device(op, per_jet, per_row);
}
}  // namespace

void broadcast_rows_forward(Context& ctx, const Tensor& x, const JetRows& rows, const Tensor& y) {
  const char* op = "broadcast_rows";
  check_broadcast(op, "input", x, rows, "output", y);
  if (rows.rows == 0) return;
  const std::int64_t C = x.dim(1);
  const PackedRows packed = packed_rows(rows);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::broadcast_rows_forward<T>(x.data<T>(), packed, y.data<T>(), C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, x, cuda::broadcast_rows_forward(ctx, x.data<float>(), packed, y.data<float>(), C));
  }
}

void broadcast_rows_backward(Context& ctx, const JetRows& rows, const Tensor& dy, const Tensor& dx) {
  const char* op = "broadcast_rows backward";
  check_broadcast(op, "input gradient", dx, rows, "output gradient", dy);
  if (rows.rows == 0) return;
  const std::int64_t C = dx.dim(1);
  const PackedRows packed = packed_rows(rows);
  switch (dx.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, dx.dtype(), [&]<typename T>() {
        cpu::broadcast_rows_backward<T>(packed, dy.data<T>(), dx.data<T>(), C);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, dx,
                                cuda::broadcast_rows_backward(ctx, packed, dy.data<float>(), dx.data<float>(), C));
  }
}

Var broadcast_rows(Tape& tape, const Var& x, const JetRows& rows) {
  Context& ctx = tape.ctx();
  check_rank("broadcast_rows", "input", x->value, 2);
  Tensor y = ctx.empty({rows.rows, x->value.dim(1)}, x->value.dtype(), x->value.device());
  broadcast_rows_forward(ctx, x->value, rows, y);
  Var out = tape.output(y, {&x});
  if (out->requires_grad)
    tape.record("broadcast_rows", [&tape, x, rows, out] {
      broadcast_rows_backward(tape.ctx(), rows, tape.grad(out), tape.grad(x));
    });
  return out;
}

}  // namespace ucluster
