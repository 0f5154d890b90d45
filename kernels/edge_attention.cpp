#include "kernels/edge_attention.h"

#include "kernels/cpu/edge_attention.h"
#include "kernels/cuda/edge_attention.h"
#include "kernels/dispatch.h"
#include "kernels/packed_rows.h"

namespace ucluster {

namespace {

// A tensor that must have `shape` and the dtype and device of `like` (skipped when undefined and
// optional).
void check_like(const char* op, const char* what, const Tensor& t, const Tensor& like, const Shape& shape,
                bool optional = false) {
  if (optional && !t.defined()) return;
  check_defined(op, what, t);
  check_shape(op, what, t, shape);
  check_dtype(op, what, t, like.dtype());
  check_same_device(op, like, t);
}

struct Dims {
  std::int64_t rows, k, channels;
};

// Validates projected [R, A], idx int32 [R, k] and their layout; on the CPU also that every index
// is a row of its point's jet (on CUDA that would cost a host synchronisation; the indices come
// from the kNN ops).
Dims check_graph(const char* op, const Tensor& projected, const Tensor& idx, const JetRows& rows) {
  check_defined(op, "projected features", projected);
  UCLUSTER_CHECK(projected.dtype() == DType::F32 || projected.dtype() == DType::F64, op,
                 ": projected features must be float32 or float64, got ", projected.describe());
  check_rank(op, "projected features", projected, 2);
  check_defined(op, "neighbour indices", idx);
  check_rank(op, "neighbour indices", idx, 2);
  check_dtype(op, "neighbour indices", idx, DType::I32);
  check_same_device(op, projected, idx);
  check_jet_rows(op, projected, rows);
  check_dtype(op, "row weights", rows.weight, projected.dtype());
  const Dims d{projected.dim(0), idx.dim(1), projected.dim(1)};
  UCLUSTER_CHECK(idx.dim(0) == d.rows, op, ": neighbour indices ", idx.describe(), " do not match projected features ",
                 projected.describe(), " (expected [", d.rows, ",k])");
  UCLUSTER_CHECK(d.k >= 1 && d.channels >= 1, op, ": needs k >= 1 neighbours and at least one channel, got ",
                 idx.describe(), " and ", projected.describe());
  if (idx.device().is_cpu()) {
    const std::int64_t bad = first_index_outside_jet(packed_rows(rows), idx.data<std::int32_t>(), d.k);
    UCLUSTER_CHECK(bad < 0, op, ": neighbour index ", bad < 0 ? 0 : idx.data<std::int32_t>()[bad], " at position ",
                   bad, " is not a row of its point's jet");
  }
  return d;
}

Dims check_edge_layer(const char* op, const EdgeLayer& edge) {
  const Dims d = check_graph(op, edge.projected, edge.idx, edge.rows);
  const Shape channels{d.channels};
  check_like(op, "edge bias", edge.bias, edge.projected, channels);
  check_like(op, "batch-norm gamma", edge.gamma, edge.projected, channels);
  check_like(op, "batch-norm beta", edge.beta, edge.projected, channels);
  check_like(op, "batch-norm mean", edge.mean, edge.projected, channels);
  check_like(op, "batch-norm variance", edge.var, edge.projected, channels);
  UCLUSTER_CHECK(edge.eps > 0, op, ": batch-norm epsilon must be positive, got ", edge.eps);
  return d;
}

void check_grads(const char* op, const EdgeLayer& edge, const EdgeLayerGrads& grads) {
  check_like(op, "projected-feature gradient", grads.dprojected, edge.projected, edge.projected.shape(), true);
  check_like(op, "edge-bias gradient", grads.dbias, edge.projected, edge.bias.shape(), true);
  check_like(op, "gamma gradient", grads.dgamma, edge.projected, edge.gamma.shape(), true);
  check_like(op, "beta gradient", grads.dbeta, edge.projected, edge.beta.shape(), true);
}

// The score weights: [A] or [A, 1] (as the A -> 1 conv's kernel is stored).
void check_score_weights(const char* op, const EdgeLayer& edge, const Dims& d, const Tensor& w,
                         const Tensor& w_bias) {
  check_defined(op, "score weights", w);
  UCLUSTER_CHECK(w.shape() == Shape({d.channels}) || w.shape() == Shape({d.channels, 1}), op, ": score weights ",
                 w.describe(), " do not match ", d.channels, " channels (expected [", d.channels, "] or [",
                 d.channels, ",1])");
  check_like(op, "score weights", w, edge.projected, w.shape());
  check_like(op, "score bias", w_bias, edge.projected, Shape{1}, true);
}

template <typename T>
EdgeLayerArgs<T> args_of(const EdgeLayer& edge, const Dims& d) {
  EdgeLayerArgs<T> a;
  a.projected = edge.projected.data<T>();
  a.idx = edge.idx.data<std::int32_t>();
  a.bias = edge.bias.data<T>();
  a.gamma = ptr_or_null<T>(edge.gamma);
  a.beta = ptr_or_null<T>(edge.beta);
  a.mean = ptr_or_null<T>(edge.mean);
  a.var = ptr_or_null<T>(edge.var);
  a.offsets = edge.rows.offsets.data<std::int32_t>();
  a.weight = edge.rows.weight.data<T>();
  a.eps = edge.eps;
  a.jets = edge.rows.jets;
  a.rows = d.rows;
  a.max_jet_rows = edge.rows.max_jet_rows();
  a.k = d.k;
  a.channels = d.channels;
  return a;
}

template <typename T>
EdgeLayerGradArgs<T> grad_args_of(const EdgeLayerGrads& grads) {
  return {ptr_or_null<T>(grads.dprojected), ptr_or_null<T>(grads.dbias), ptr_or_null<T>(grads.dgamma),
          ptr_or_null<T>(grads.dbeta), grads.batch_statistics};
}

EdgeLayer layer_of(const EdgeLayerVars& v) {
  return {v.projected->value, v.idx, v.bias->value, v.gamma->value, v.beta->value, v.mean, v.var, v.eps, v.rows};
}

// The gradient tensors of the edge layer's Vars that require one.
EdgeLayerGrads grads_of(Tape& tape, const EdgeLayerVars& v) {
  auto grad_or_none = [&](const Var& x) { return tape.grad_if_needed(x); };
  return {grad_or_none(v.projected), grad_or_none(v.bias), grad_or_none(v.gamma), grad_or_none(v.beta),
          v.batch_statistics};
}

void check_vars(const char* op, const EdgeLayerVars& v) {
  UCLUSTER_CHECK(v.projected && v.bias && v.gamma && v.beta, op,
                 ": projected features, edge bias, gamma and beta are required");
}

}  // namespace

void edge_batch_statistics(Context& ctx, const Tensor& projected, const Tensor& idx, const JetRows& rows,
                           const Tensor& bias, const Tensor& batch_mean, const Tensor& batch_var,
                           const ReplicaSum& sync) {
  const char* op = "edge_batch_statistics";
  const Dims d = check_graph(op, projected, idx, rows);
  const Shape channels{d.channels};
  check_like(op, "edge bias", bias, projected, channels);
  check_like(op, "batch mean", batch_mean, projected, channels);
  check_like(op, "batch variance", batch_var, projected, channels);
  const EdgeLayer edge{projected, idx, bias, Tensor(), Tensor(), Tensor(), Tensor(), 0, rows};
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(), [&]<typename T>() {
        cpu::edge_batch_statistics<T>(args_of<T>(edge, d), batch_mean.data<T>(), batch_var.data<T>(), sync);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, edge.projected,
                                cuda::edge_batch_statistics(ctx, args_of<float>(edge, d), batch_mean.data<float>(),
                                                            batch_var.data<float>(), sync));
  }
}

void edge_layer_forward(Context& ctx, const EdgeLayer& edge, const Tensor& y) {
  const char* op = "edge_layer";
  const Dims d = check_edge_layer(op, edge);
  check_like(op, "edge features", y, edge.projected, Shape{d.rows, d.k, d.channels});
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(),
                            [&]<typename T>() { cpu::edge_layer_forward<T>(args_of<T>(edge, d), y.data<T>()); });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, edge.projected,
                                cuda::edge_layer_forward(ctx, args_of<float>(edge, d), y.data<float>()));
  }
}

void edge_score_forward(Context& ctx, const EdgeLayer& edge, const Tensor& w, const Tensor& w_bias,
                        const Tensor& score) {
  const char* op = "edge_score";
  const Dims d = check_edge_layer(op, edge);
  check_score_weights(op, edge, d, w, w_bias);
  check_like(op, "score", score, edge.projected, Shape{d.rows, d.k, 1});
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(), [&]<typename T>() {
        cpu::edge_score_forward<T>(args_of<T>(edge, d), w.data<T>(), ptr_or_null<T>(w_bias), score.data<T>());
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(op, edge.projected,
                                cuda::edge_score_forward(ctx, args_of<float>(edge, d), w.data<float>(),
                                                         ptr_or_null<float>(w_bias), score.data<float>()));
  }
}

void edge_score_backward(Context& ctx, const EdgeLayer& edge, const EdgeLayerGrads& grads, const Tensor& w,
                         const Tensor& dscore, const Tensor& dw, const Tensor& dw_bias, const ReplicaSum& sync) {
  const char* op = "edge_score backward";
  const Dims d = check_edge_layer(op, edge);
  check_score_weights(op, edge, d, w, Tensor());
  check_grads(op, edge, grads);
  check_like(op, "score gradient", dscore, edge.projected, Shape{d.rows, d.k, 1});
  check_like(op, "score-weight gradient", dw, edge.projected, w.shape(), true);
  check_like(op, "score-bias gradient", dw_bias, edge.projected, Shape{1}, true);
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(), [&]<typename T>() {
        cpu::edge_score_backward<T>(args_of<T>(edge, d), grad_args_of<T>(grads), w.data<T>(), dscore.data<T>(),
                                    ptr_or_null<T>(dw), ptr_or_null<T>(dw_bias), sync);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, edge.projected,
          cuda::edge_score_backward(ctx, args_of<float>(edge, d), grad_args_of<float>(grads), w.data<float>(),
                                    dscore.data<float>(), ptr_or_null<float>(dw), ptr_or_null<float>(dw_bias), sync));
  }
}

void edge_aggregate_forward(Context& ctx, const EdgeLayer& edge, const Tensor& alpha, const Tensor& out_bias,
                            const Tensor& o, const Tensor& g) {
  const char* op = "edge_aggregate";
  const Dims d = check_edge_layer(op, edge);
  check_like(op, "attention weights", alpha, edge.projected, Shape{d.rows, d.k});
  check_like(op, "output bias", out_bias, edge.projected, Shape{d.channels}, true);
  check_like(op, "attention output", o, edge.projected, edge.projected.shape());
  check_like(op, "neighbour max", g, edge.projected, edge.projected.shape());
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(), [&]<typename T>() {
        cpu::edge_aggregate_forward<T>(args_of<T>(edge, d), alpha.data<T>(), ptr_or_null<T>(out_bias), o.data<T>(),
                                       g.data<T>());
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, edge.projected,
          cuda::edge_aggregate_forward(ctx, args_of<float>(edge, d), alpha.data<float>(), ptr_or_null<float>(out_bias),
                                       o.data<float>(), g.data<float>()));
  }
}

void edge_aggregate_backward(Context& ctx, const EdgeLayer& edge, const EdgeLayerGrads& grads, const Tensor& alpha,
                             const Tensor& g, const Tensor& dout, const Tensor& dg, const Tensor& dalpha,
                             const Tensor& dout_bias, const ReplicaSum& sync) {
  const char* op = "edge_aggregate backward";
  const Dims d = check_edge_layer(op, edge);
  check_grads(op, edge, grads);
  const Shape points = edge.projected.shape(), edges{d.rows, d.k};
  check_like(op, "attention weights", alpha, edge.projected, edges);
  check_like(op, "neighbour max", g, edge.projected, points);
  check_like(op, "attention-output gradient", dout, edge.projected, points, true);
  check_like(op, "neighbour-max gradient", dg, edge.projected, points, true);
  check_like(op, "attention-weight gradient", dalpha, edge.projected, edges, true);
  check_like(op, "output-bias gradient", dout_bias, edge.projected, Shape{d.channels}, true);
  switch (edge.projected.device().kind) {
    case DeviceKind::CPU:
      return dispatch_float(op, edge.projected.dtype(), [&]<typename T>() {
        cpu::edge_aggregate_backward<T>(args_of<T>(edge, d), grad_args_of<T>(grads), alpha.data<T>(), g.data<T>(),
                                        ptr_or_null<T>(dout), ptr_or_null<T>(dg), ptr_or_null<T>(dalpha),
                                        ptr_or_null<T>(dout_bias), sync);
      });
    case DeviceKind::CUDA:
      return UCLUSTER_CUDA_CALL(
          op, edge.projected,
          cuda::edge_aggregate_backward(ctx, args_of<float>(edge, d), grad_args_of<float>(grads), alpha.data<float>(),
                                        g.data<float>(), ptr_or_null<float>(dout), ptr_or_null<float>(dg),
                                        ptr_or_null<float>(dalpha), ptr_or_null<float>(dout_bias), sync));
  }
}

Var edge_score(Tape& tape, const EdgeLayerVars& edge, const Var& w, const Var& w_bias, const ReplicaSum& sync) {
  check_vars("edge_score", edge);
  Context& ctx = tape.ctx();
  const Tensor& p = edge.projected->value;
  Tensor score = ctx.empty(Shape{p.dim(0), edge.idx.dim(1), 1}, p.dtype(), p.device());
  edge_score_forward(ctx, layer_of(edge), w->value, w_bias ? w_bias->value : Tensor(), score);
  Var out = tape.output(score, {&edge.projected, &edge.bias, &edge.gamma, &edge.beta, &w, &w_bias});
  if (out->requires_grad)
    tape.record("edge_score", [&tape, edge, w, w_bias, out, sync] {
      edge_score_backward(tape.ctx(), layer_of(edge), grads_of(tape, edge), w->value, tape.grad(out),
                          tape.grad_if_needed(w), tape.grad_if_needed(w_bias), sync);
    });
  return out;
}

EdgeAggregateResult edge_aggregate(Tape& tape, const EdgeLayerVars& edge, const Var& alpha, const Var& out_bias,
                                   const ReplicaSum& sync) {
  check_vars("edge_aggregate", edge);
  Context& ctx = tape.ctx();
  const Tensor& p = edge.projected->value;
  Tensor o = ctx.empty(p.shape(), p.dtype(), p.device()), g = ctx.empty(p.shape(), p.dtype(), p.device());
  edge_aggregate_forward(ctx, layer_of(edge), alpha->value, out_bias ? out_bias->value : Tensor(), o, g);
  const std::initializer_list<const Var*> inputs{&edge.projected, &edge.bias, &edge.gamma, &edge.beta, &alpha,
                                                 &out_bias};
  EdgeAggregateResult out{tape.output(o, inputs), tape.output(g, inputs)};
  if (out.o->requires_grad)
    tape.record("edge_aggregate", [&tape, edge, alpha, out_bias, o = out.o, g = out.g, sync] {
      edge_aggregate_backward(tape.ctx(), layer_of(edge), grads_of(tape, edge), alpha->value, g->value, tape.grad(o),
                              tape.grad(g), tape.grad_if_needed(alpha), tape.grad_if_needed(out_bias), sync);
    });
  return out;
}

}  // namespace ucluster
