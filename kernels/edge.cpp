#include "kernels/edge.h"

#include "engine/cuda_runtime.h"

#include "kernels/cpu/edge.h"
#include "kernels/cuda/edge.h"
#include "kernels/dispatch.h"
#include "kernels/packed_rows.h"

namespace ucluster {

namespace {

// Checks idx against the points tensor [R, C] (x in the forward, dx in the backward).
void check_indices(const char* op, const Tensor& points, const Tensor& idx) {
  check_rank(op, "points", points, 2);
  check_defined(op, "indices", idx);
  check_dtype(op, "indices", idx, DType::I32);
  UCLUSTER_CHECK(idx.rank() == 2 && idx.dim(0) == points.dim(0), op, ": indices ", idx.describe(),
                 " do not match points ", points.describe(), " (expected int32 [R, k] with R = ", points.dim(0), ")");
  check_same_device(op, points, idx);
}

struct EdgeDims {
  std::int64_t rows, k, channels;
};

// Checks points [R, C], idx and the edge tensor [R, k, C] (e, or de in the backward) against each
// other.
EdgeDims check_edge_diff(const char* op, const char* edges_what, const Tensor& points, const Tensor& idx,
                         const Tensor& edges) {
  check_indices(op, points, idx);
  const EdgeDims d{points.dim(0), idx.dim(1), points.dim(1)};
  check_shape(op, edges_what, edges, Shape{d.rows, d.k, d.channels});
  check_dtype(op, edges_what, edges, points.dtype());
  check_same_device(op, points, edges);
  return d;
}

// Every index of idx in [0, n); points: the float tensor of the op (x or dx).
void check_index_range(Context& ctx, const char* op, const Tensor& points, const Tensor& idx, std::int64_t n) {
  switch (idx.device().kind) {
    case DeviceKind::CPU: {
      const std::int64_t bad = cpu::first_bad_index(idx.data<std::int32_t>(), idx.numel(), n);
      if (bad >= 0) {
        const std::int64_t k = idx.dim(1);
        fail(op, ": neighbour index ", idx.data<std::int32_t>()[bad], " at [", bad / k, ",", bad % k, "] of ",
             idx.describe(), " is out of range for R = ", n, " rows");
      }
      return;
    }
    case DeviceKind::CUDA: {
      // Reading the flag back is a host synchronisation, which would invalidate a CUDA-graph
      // capture; inside one the indices are not checked (they come from the kNN ops).
      if (cuda_runtime::is_capturing(ctx.cuda())) return;
      bool bad = false;
      UCLUSTER_CUDA_CALL(op, points, bad = cuda::any_bad_index(ctx, idx.data<std::int32_t>(), idx.numel(), n));
      UCLUSTER_CHECK(!bad, op, ": indices ", idx.describe(), " hold a value outside [0, ", n, ")");
      return;
    }
  }
}

}  // namespace

void edge_diff_forward(Context& ctx, const Tensor& x, const Tensor& idx, const Tensor& e) {
  const char* op = "edge_diff";
  const auto [rows, k, channels] = check_edge_diff(op, "output", x, idx, e);
  check_index_range(ctx, op, x, idx, rows);
  switch (x.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, x.dtype(), [&]<typename T>() {
        cpu::edge_diff_forward<T>(x.data<T>(), idx.data<std::int32_t>(), e.data<T>(), rows, k, channels);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, x,
                                cuda::edge_diff_forward(ctx, x.data<float>(), idx.data<std::int32_t>(), e.data<float>(),
                                                        rows, k, channels));
  }
}

void edge_diff_backward(Context& ctx, const JetRows& rows, const Tensor& idx, const Tensor& de, const Tensor& dx) {
  const char* op = "edge_diff backward";
  const auto [n, k, channels] = check_edge_diff(op, "output gradient", dx, idx, de);
  check_jet_rows(op, dx, rows);
  if (n == 0) return;
  const PackedRows packed = packed_rows(rows);
  switch (dx.device().kind) {
    case DeviceKind::CPU: {
      // The per-jet CSR build indexes by neighbour: an index outside its row's jet must not reach it.
      const std::int64_t bad = first_index_outside_jet(packed, idx.data<std::int32_t>(), k);
      UCLUSTER_CHECK(bad < 0, op, ": neighbour index ", bad < 0 ? 0 : idx.data<std::int32_t>()[bad], " at [",
                     bad / k, ",", bad % k, "] of ", idx.describe(), " is not a row of its point's jet");
      return dispatch_float(op, dx.dtype(), [&]<typename T>() {
        cpu::edge_diff_backward<T>(packed, idx.data<std::int32_t>(), de.data<T>(), dx.data<T>(), k, channels);
      });
    }
    case DeviceKind::CUDA:
      // The CUDA body matches indices by comparison, so invalid ones are ignored, never followed;
      // they were rejected by the forward, and the backward avoids a second synchronisation.
      return UCLUSTER_CUDA_CALL(op, dx,
                                cuda::edge_diff_backward(ctx, packed, idx.data<std::int32_t>(), de.data<float>(),
                                                         dx.data<float>(), k, channels));
  }
}

Var edge_diff(Tape& tape, const Var& x, const Tensor& idx, const JetRows& rows) {
  Context& ctx = tape.ctx();
  check_indices("edge_diff", x->value, idx);
  Tensor e = ctx.empty(Shape{x->value.dim(0), idx.dim(1), x->value.dim(1)}, x->value.dtype(), x->value.device());
  edge_diff_forward(ctx, x->value, idx, e);
  Var out = tape.output(e, {&x});
  if (out->requires_grad)
    tape.record("edge_diff", [&tape, x, idx, rows, out] {
      edge_diff_backward(tape.ctx(), rows, idx, tape.grad(out), tape.grad(x));
    });
  return out;
}

}  // namespace ucluster
