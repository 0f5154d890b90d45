#include "model/ucluster_model.h"

#include <cmath>

#include "engine/profiling.h"

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/batch_norm.h"
#include "kernels/broadcast.h"
#include "kernels/concat.h"
#include "kernels/dense.h"
#include "kernels/edge.h"
#include "kernels/edge_attention.h"
#include "kernels/elementwise.h"
#include "kernels/knn.h"
#include "kernels/pool.h"

namespace ucluster::model {

EdgePath resolve_edge_path(const std::string& request) {
  if (request == "fused") return EdgePath::Fused;
  if (request == "unfused") return EdgePath::Unfused;
  UCLUSTER_CHECK(request == "auto", "edge_path must be \"auto\", \"fused\" or \"unfused\", got \"", request, "\"");
  return EdgePath::Auto;
}

const char* edge_path_name(EdgePath path) {
  switch (path) {
    case EdgePath::Fused: return "fused";
    case EdgePath::Unfused: return "unfused";
    case EdgePath::Auto: return "auto";
  }
  return "?";
}

EdgePath UClusterModel::edge_path_for(BatchNormMode mode, Device device) const {
  if (edge_path_ != EdgePath::Auto) return edge_path_;
  return mode == BatchNormMode::Inference && device.is_cpu() ? EdgePath::Fused : EdgePath::Unfused;
}

UClusterModel::UClusterModel(ModelDims dims, EdgePath edge_path)
    : dims_(dims), edge_path_(edge_path), layers_(layer_table(dims)) {}

void UClusterModel::declare(ParamStore& store) const {
  for (const TensorDecl& t : declared_tensors(dims_)) {
    if (t.trainable) store.add_param(t.name, Shape(t.shape));
    else store.add_buffer(t.name, Shape(t.shape));
  }
}

void UClusterModel::initialise(Context& ctx, const ParamStore& store, Rng& rng) const {
  Tensor host = ctx.zeros(store.flat_params().shape(), store.dtype(), Device::cpu());
  auto fill = [&](const std::string& name, auto&& value) {
    const ParamStore::Entry& entry = store.param_entry(name);
    for (std::int64_t i = 0; i < entry.shape.numel(); ++i) {
      const double v = value();
      if (store.dtype() == DType::F64) host.data<double>()[entry.offset + i] = v;
      else host.data<float>()[entry.offset + i] = static_cast<float>(v);
    }
  };
  for (const LayerSpec& l : layers_) {
    // Glorot uniform with fan_in = Cin, fan_out = Cout for 1x1 convs and fc layers (spec 2.1).
    const double limit = std::sqrt(6.0 / double(l.cin + l.cout));
    fill(l.name + ".W", [&] { return rng.uniform(-limit, limit); });
    if (l.batch_norm) fill(l.name + ".bn_gamma", [] { return 1.0; });
  }
  ctx.copy(store.flat_params(), host);
  ctx.zero_(store.flat_buffers());
  for (const LayerSpec& l : layers_)
    if (l.batch_norm && l.moving_var_starts_at_one) {
      const Tensor var = store.buffer(l.name + ".bn_var");
      const std::size_t n = static_cast<std::size_t>(var.numel());
      const Device cpu = Device::cpu();
      ctx.copy(var, var.dtype() == DType::F64 ? ctx.from_vector<double>(var.shape(), std::vector<double>(n, 1.0), cpu)
                                             : ctx.from_vector<float>(var.shape(), std::vector<float>(n, 1.0f), cpu));
    }
}

struct UClusterModel::Pass {
  const UClusterModel& model;
  Tape& tape;
  const ParamStore& store;
  BatchNormMode mode;
  Capture* capture;
  const ReplicaSum& bn_sync;
  const JetRows& rows;
  EdgePath edge_path;  // resolved for this pass
  ForwardOutput& out;

  Var param(const std::string& name) const { return param_var(store, name); }

  // Names what follows, for the profiler (an NVTX range) and for the backward steps recorded.
  struct Scope {
    ScopedRange range;
    Tape& tape;
    std::string previous;
    Scope(Tape& t, const std::string& name) : range(name.c_str()), tape(t), previous(t.scope()) { t.set_scope(name); }
    ~Scope() { tape.set_scope(previous); }
  };
  void keep(const std::string& name, const Tensor& t) const {
    if (capture) (*capture)[name] = t;
  }
  const LayerSpec& spec(const std::string& name) const {
    for (const LayerSpec& l : model.layers_)
      if (l.name == name) return l;
    fail("UClusterModel: no layer named '", name, "'");
  }

  // conv -> (BN) -> (ReLU) on the packed rows (or their edges), with the bias before BN as in
  // tf_util.conv2d (spec 2.1, 8 #13); the batch statistics weight each row by the reference points
  // it stands for (engine/jet_rows.h).
  Var layer(const std::string& name, const Var& x) { return layer(name, x, rows.weight); }

  // fc -> (BN) -> (ReLU) on one row per jet.
  Var jet_layer(const std::string& name, const Var& x) { return layer(name, x, Tensor()); }

  Var layer(const std::string& name, const Var& x, const Tensor& row_weight) {
    const Scope scope(tape, name);
    const LayerSpec& l = spec(name);
    return normalise(l, dense(tape, x, param(l.name + ".W"), l.bias ? param(l.name + ".b") : nullptr), row_weight);
  }

  // A conv layer on the channel concatenation of `parts`, computed as the sum of each part's GEMM
  // with its rows of W: the same linear map as the layer on concat(parts), with only float rounding
  // different, but the concatenation ([B, N, 848] for agg, spec 2.4 row 21) and its gradient are
  // never stored. Used for agg only: gapnet01 feeds the second kNN graph through gapnet02, and a
  // rounding-level change there flips near-tied neighbours (the full golden batch showed it), so
  // gapnet01 and gapnet11 keep the reference's single GEMM on the concatenation.
  Var layer_on_parts(const std::string& name, const std::vector<Var>& parts) {
    const Scope scope(tape, name);
    const LayerSpec& l = spec(name);
    Var w = param(l.name + ".W");
    Var bias = l.bias ? param(l.name + ".b") : nullptr;  // added once, with the first part
    Var sum;
    std::int64_t first = 0;
    for (const Var& part : parts) {
      const std::int64_t rows = part->value.dim(part->value.rank() - 1);
      UCLUSTER_CHECK(first + rows <= l.cin, "UClusterModel: the parts of ", l.name, " have more than ", l.cin,
                     " channels");
      Var d = dense(tape, part, weight_rows(w, first, rows), sum ? nullptr : bias);
      sum = sum ? add_scaled(tape, sum, d, 1.0, 1.0) : d;
      first += rows;
    }
    UCLUSTER_CHECK(first == l.cin, "UClusterModel: the parts of ", l.name, " have ", first, " channels, the layer ",
                   l.cin);
    return normalise(l, sum, rows.weight);
  }

  // Rows [first, first + rows) of a [Cin, Cout] weight Var, value and gradient both views.
  static Var weight_rows(const Var& w, std::int64_t first, std::int64_t rows) {
    const std::int64_t cols = w->value.dim(1);
    Var v = make_var(w->value.view(first * cols, {rows, cols}), true);
    v->grad = w->grad.view(first * cols, {rows, cols});
    return v;
  }

  // The edge-feature conv of a GAP block on the edges (h_i - h_j) of the kNN graph, computed as
  // (W h_i - W h_j) + b: the same linear map (spec 7's exact rewrite) with the GEMM on the N points
  // instead of the N k edges, a tenth of the work. Only float rounding differs from W (h_i - h_j).
  Var edge_layer(const std::string& name, const Var& h, const Tensor& idx) {
    const Scope scope(tape, name);
    const LayerSpec& l = spec(name);
    Var projected = dense(tape, h, param(l.name + ".W"), nullptr);
    return normalise(l, bias_add(tape, edge_diff(tape, projected, idx, rows), param(l.name + ".b")), rows.weight);
  }

  // A BN layer's training-mode batch statistics: input of the moving-average update, and captured.
  void record_batch_stats(const std::string& layer, const Tensor& mean, const Tensor& var) {
    out.batch_stats.push_back({layer, mean, var});
    keep(layer + ".batch_mean", mean);
    keep(layer + ".batch_var", var);
  }

  // Batch norm (training or inference mode) and ReLU, as the layer table says; a ReLU after a batch
  // norm is fused into it (kernels/batch_norm.h). row_weight: the packed rows' weights for the
  // training statistics of a per-point or per-edge layer, undefined for a per-jet one.
  Var normalise(const LayerSpec& l, Var y, const Tensor& row_weight) {
    if (l.batch_norm) {
      if (mode == BatchNormMode::Train) {
        BatchNormResult r = batch_norm_train(tape, y, param(l.name + ".bn_gamma"), param(l.name + ".bn_beta"),
                                             kBatchNormEpsilon, bn_sync, l.relu, row_weight);
        record_batch_stats(l.name, r.batch_mean, r.batch_var);
        return r.y;
      }
      return batch_norm_inference(tape, y, param(l.name + ".bn_gamma"), param(l.name + ".bn_beta"),
                                  store.buffer(l.name + ".bn_mean"), store.buffer(l.name + ".bn_var"),
                                  kBatchNormEpsilon, l.relu);
    }
    return l.relu ? relu(tape, y) : y;
  }

  struct GapOutput {
    Var o, g;
  };

  // One GAP attention block (spec 2.3): s, edge features y, self/neighbour coefficients a and c,
  // attention-weighted sum o and the max over neighbours g.
  GapOutput gap_block(const std::string& prefix, const Var& h, const Tensor& idx) {
    return edge_path == EdgePath::Fused ? fused_gap_block(prefix, h, idx) : unfused_gap_block(prefix, h, idx);
  }

  // The attention ops work row by row: the packed rows go in as one "jet" [1, R, ...].
  GapOutput unfused_gap_block(const std::string& prefix, const Var& h, const Tensor& idx) {
    const std::int64_t r = h->value.dim(0), k = idx.dim(1);
    Var s = layer(prefix + "_newfea", h);
    Var y = edge_layer(prefix + "_edge", h, idx);
    Var a = reshape(tape, layer(prefix + "_selfatt", s), {1, r});
    Var c = reshape(tape, layer(prefix + "_neibatt", y), {1, r, k});
    const Scope scope(tape, prefix + "_attention");
    Var alpha = attention_softmax(tape, a, c, kAttentionLeakySlope);
    Var y_rows = reshape(tape, y, {1, r, k, y->value.dim(2)});
    Var o = reshape(tape, relu(tape, attention_aggregate(tape, alpha, y_rows, param(prefix + "_out.b"))),
                    {r, y->value.dim(2)});
    Var g = reshape(tape, neighbour_max(tape, y_rows), {r, y->value.dim(2)});
    alpha = reshape(tape, alpha, {r, k});
    keep(prefix + ".y", y->value);
    keep_gap(prefix, s, a, c, alpha, o, g);
    return {o, g};
  }

  // The same block with its edge part fused (kernels/edge_attention.h): the edge conv's GEMM on
  // the points (spec 7's exact rewrite, as edge_layer), its batch statistics, the neighbour-
  // attention conv (edge_score) and the weighted sum and max (edge_aggregate) recompute y from
  // the projected points instead of storing it. The BN statistics are taken in layer order, as
  // in the unfused block.
  GapOutput fused_gap_block(const std::string& prefix, const Var& h, const Tensor& idx) {
    const std::int64_t r = h->value.dim(0), k = idx.dim(1);
    Var s = layer(prefix + "_newfea", h);
    const LayerSpec& le = spec(prefix + "_edge");
    UCLUSTER_CHECK(le.bias && le.batch_norm && le.relu, "UClusterModel: the fused edge path needs ", le.name,
                   " with bias, batch norm and ReLU");
    EdgeLayerVars edge{nullptr, idx, param(le.name + ".b"), param(le.name + ".bn_gamma"),
                       param(le.name + ".bn_beta"), Tensor(), Tensor(), kBatchNormEpsilon,
                       mode == BatchNormMode::Train, rows};
    {
      const Scope scope(tape, le.name);
      edge.projected = dense(tape, h, param(le.name + ".W"), nullptr);
      const Tensor& p = edge.projected->value;
      if (edge.batch_statistics) {
        edge.mean = tape.ctx().empty({le.cout}, p.dtype(), p.device());
        edge.var = tape.ctx().empty({le.cout}, p.dtype(), p.device());
        edge_batch_statistics(tape.ctx(), p, idx, rows, edge.bias->value, edge.mean, edge.var, bn_sync);
        record_batch_stats(le.name, edge.mean, edge.var);
      } else {
        edge.mean = store.buffer(le.name + ".bn_mean");
        edge.var = store.buffer(le.name + ".bn_var");
      }
      if (capture) {
        Tensor y = tape.ctx().empty({r, k, le.cout}, p.dtype(), p.device());
        edge_layer_forward(tape.ctx(), EdgeLayer{p, idx, edge.bias->value, edge.gamma->value, edge.beta->value,
                                                 edge.mean, edge.var, edge.eps, rows},
                           y);
        keep(prefix + ".y", y);
      }
    }
    Var a = reshape(tape, layer(prefix + "_selfatt", s), {1, r});
    Var c;
    {
      const Scope scope(tape, prefix + "_neibatt");
      const LayerSpec& ln = spec(prefix + "_neibatt");
      c = reshape(tape,
                  normalise(ln, edge_score(tape, edge, param(ln.name + ".W"), param(ln.name + ".b"), bn_sync),
                            rows.weight),
                  {1, r, k});
    }
    const Scope scope(tape, prefix + "_attention");
    Var alpha = reshape(tape, attention_softmax(tape, a, c, kAttentionLeakySlope), {r, k});
    EdgeAggregateResult result = edge_aggregate(tape, edge, alpha, param(prefix + "_out.b"), bn_sync);
    Var o = relu(tape, result.o);
    keep_gap(prefix, s, a, c, alpha, o, result.g);
    return {o, result.g};
  }

  void keep_gap(const std::string& prefix, const Var& s, const Var& a, const Var& c, const Var& alpha, const Var& o,
                const Var& g) const {
    const std::int64_t r = s->value.dim(0);
    keep(prefix + ".s", s->value);
    keep(prefix + ".a", a->value.reshape({r}));
    keep(prefix + ".c", c->value.reshape({r, c->value.numel() / r}));
    keep(prefix + ".alpha", alpha->value);
    keep(prefix + ".o", o->value);
    keep(prefix + ".g", g->value);
  }
};

ForwardOutput UClusterModel::forward(Tape& tape, const ParamStore& store, const Tensor& data, BatchNormMode mode,
                                     Capture* capture, const ReplicaSum& bn_sync) const {
  check_rank("UClusterModel::forward", "input", data, 3);
  return forward(tape, store, pack_jets(tape.ctx(), data, tape.ctx().device()), mode, capture, bn_sync);
}

ForwardOutput UClusterModel::forward(Tape& tape, const ParamStore& store, const JetBatch& batch, BatchNormMode mode,
                                     Capture* capture, const ReplicaSum& bn_sync) const {
  const Tensor& data = batch.points;
  const JetRows& rows = batch.rows;
  check_rank("UClusterModel::forward", "packed input", data, 2);
  UCLUSTER_CHECK(data.dim(1) == dims_.num_features, "UClusterModel::forward: input ", data.describe(), " has ",
                 data.dim(1), " features per particle, the model expects ", dims_.num_features);
  UCLUSTER_CHECK(rows.slots >= dims_.k, "UClusterModel::forward: jets of ", rows.slots,
                 " particles are fewer than k = ", dims_.k);
  Context& ctx = tape.ctx();
  ForwardOutput out;
  out.rows = rows;
  Pass pass{*this, tape, store, mode, capture, bn_sync, rows, edge_path_for(mode, data.device()), out};
  Var x = make_var(data);

  ScopedRange range("forward");
  out.knn1 = knn_coordinates(ctx, data, rows, dims_.k);
  pass.keep("knn1", out.knn1);
  const Pass::GapOutput gap0 = pass.gap_block("gap0", x, out.knn1);
  Var net01 = pass.layer("gapnet01", concat(tape, {x, gap0.o}));
  Var net02 = pass.layer("gapnet02", net01);

  out.knn2 = knn_features(ctx, net02->value, rows, dims_.k);
  pass.keep("knn2", out.knn2);
  // The second block attends over net02 but concatenates the raw input x again (spec 2.3 notes).
  const Pass::GapOutput gap1 = pass.gap_block("gap1", net02, out.knn2);
  Var net11 = pass.layer("gapnet11", concat(tape, {x, gap1.o}));
  Var net12 = pass.layer("gapnet12", net11);

  for (const auto& [name, v] : {std::pair<const char*, const Var*>{"net01", &net01}, {"net02", &net02},
                                {"net11", &net11}, {"net12", &net12}})
    pass.keep(name, (*v)->value);
  if (dims_.variant == ModelVariant::Events) {
    event_head(pass, batch, net01, net02, net11, net12, gap0.g, gap1.g);
    return out;
  }
  Var agg = pass.layer_on_parts("agg", {net01, net02, net11, net12, gap0.g, gap1.g});
  out.z = mean_pool(tape, agg, rows);  // padding included (spec 8 #12): the padding row with its weight
  Var fc1 = pass.jet_layer("fc1", out.z);
  Var fc2 = pass.jet_layer("fc2", fc1);
  out.logits = pass.jet_layer("fc3", fc2);

  for (const auto& [name, v] : {std::pair<const char*, const Var*>{"agg", &agg}, {"z", &out.z}, {"fc1", &fc1},
                                {"fc2", &fc2}, {"logits", &out.logits}})
    pass.keep(name, (*v)->value);
  return out;
}

void UClusterModel::event_head(Pass& pass, const JetBatch& batch, const Var& net01, const Var& net02,
                               const Var& net11, const Var& net12, const Var& g0, const Var& g1) const {
  Tape& tape = pass.tape;
  const JetRows& rows = batch.rows;
  ForwardOutput& out = pass.out;
  const Tensor& globals = batch.globals;
  UCLUSTER_CHECK(globals.defined() && globals.shape() == (Shape{rows.jets, dims_.num_globals}),
                 "UClusterModel::forward: the event model needs the event globals [", rows.jets, ", ",
                 dims_.num_globals, "], got ", globals.defined() ? globals.describe() : std::string("none"));
  // global_expand (ucluster-ad-spec.md 2.2 row 11): the reference tiles the globals to the P points
  // and applies conv + BN + ReLU there. Every point of an event holds the same values, so the layer
  // runs on one row per event (batch statistics over events equal those over the B P tiled points,
  // and so do all gradients) and its output is then broadcast to the event's rows.
  Var expanded = pass.jet_layer("global_expand", make_var(globals));
  Var global16 = broadcast_rows(tape, expanded, rows);
  Var agg = pass.layer_on_parts("agg", {net01, net02, net11, net12, global16, g0, g1});
  // The latent is a MAX pool over the points, padding included (row 14, Q12; TF's single-location
  // MaxPool gradient): z >= 0 after agg's ReLU.
  out.z = max_pool(tape, agg, rows);
  Var tiled_z = broadcast_rows(tape, out.z, rows);
  Var seg2 = pass.layer("seg_conv2", concat(tape, {tiled_z, net01, net11}));
  Var seg4 = pass.layer("seg_conv4", seg2);
  out.logits = pass.layer("seg_conv5", seg4);  // [R, 21]: one set of logits per packed row
  out.point_logits = true;
  for (const auto& [name, v] : {std::pair<const char*, const Var*>{"global16", &global16}, {"agg", &agg},
                                {"z", &out.z}, {"seg_conv2", &seg2}, {"seg_conv4", &seg4}, {"logits", &out.logits}})
    pass.keep(name, (*v)->value);
}

void UClusterModel::update_moving_statistics(Context& ctx, const ParamStore& store, const ForwardOutput& out,
                                             double decay) const {
  ScopedRange range("bn_moving_average");
  for (const BatchStats& s : out.batch_stats)
    batch_norm_update_moving(ctx, store.buffer(s.layer + ".bn_mean"), store.buffer(s.layer + ".bn_var"), s.mean,
                             s.var, decay);
}

}  // namespace ucluster::model
