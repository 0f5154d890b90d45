// GPU determinism: the same op sequence run twice on the GPU gives bit-identical outputs and
// gradients, and two identical training steps of the UCluster model give bit-identical losses,
// gradients, parameters, Adam moments and BN moving statistics.
//
// Tolerance: none (bit for bit). Every CUDA body promises fixed reduction orders and no atomics
// (kernels/cuda/*.cu); cuBLAS is deterministic for a fixed handle, stream and problem size unless
// atomics are enabled (they are not, engine/cuda_runtime.cpp). A race or an atomic reduction shows
// up here as differing bits between two runs.
#include <map>

#include "kernels/activation.h"
#include "kernels/adam.h"
#include "kernels/attention.h"
#include "kernels/batch_norm.h"
#include "kernels/concat.h"
#include "kernels/dense.h"
#include "kernels/edge.h"
#include "kernels/elementwise.h"
#include "kernels/focal_loss.h"
#include "kernels/kmeans_loss.h"
#include "engine/jet_rows.h"
#include "kernels/knn.h"
#include "kernels/pool.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "tests/cuda/parity_support.h"
#include "train/step.h"

namespace ucluster {
namespace {

// Everything a run produced, copied to the CPU.
struct RunResult {
  std::vector<std::pair<std::string, Tensor>> tensors;
  void add(Context& ctx, const std::string& name, const Tensor& t) { tensors.emplace_back(name, ctx.to(t, Device::cpu())); }
};

class Determinism : public parity::CudaParity {
 protected:
  Device dev() { return gpu_device(); }
  Var param(const Tensor& host) { return make_var(ctx().to(host, dev()), true); }

  void expect_identical(const RunResult& a, const RunResult& b) {
    ASSERT_EQ(a.tensors.size(), b.tensors.size());
    ASSERT_GT(a.tensors.size(), 0u);
    for (std::size_t i = 0; i < a.tensors.size(); ++i)
      UCLUSTER_EXPECT_SAME_BITS(ctx(), a.tensors[i].first << " (run 1 vs run 2)", a.tensors[i].second, b.tensors[i].second);
  }

  // A GAP-like chain through every op family on a Tape (spec 2.3/2.4 in miniature), its backward,
  // and one Adam update of every parameter.
  struct ChainInputs {
    Tensor data, targets;
    std::vector<std::pair<std::string, Tensor>> params;  // host values
  };

  ChainInputs chain_inputs(std::int64_t B) {
    ChainInputs in;
    in.data = jets(B, 100, 8, {100, 57, 23, 9});
    std::vector<std::int32_t> t(B);
    for (auto& v : t) v = static_cast<std::int32_t>(ctx().rng().below(20));
    in.targets = ctx().from_vector<std::int32_t>({B}, t, Device::cpu());
    auto add = [&](const std::string& name, const Shape& s, double scale) { in.params.emplace_back(name, randn(s, scale)); };
    add("W_edge", {8, 16}, 0.4);
    add("b_edge", {16}, 0.1);
    add("gamma_edge", {16}, 1.0);
    add("beta_edge", {16}, 0.1);
    add("W_self", {8, 1}, 0.4);
    add("W_nb", {16, 1}, 0.3);
    add("b_nb", {1}, 0.1);
    add("b_out", {16}, 0.1);
    add("W_net", {40, 32}, 0.2);
    add("gamma_net", {32}, 1.0);
    add("beta_net", {32}, 0.1);
    add("W_edge2", {32, 32}, 0.2);
    add("W_agg", {32, 3}, 0.3);
    add("W_fc", {3, 20}, 0.5);
    add("b_fc", {20}, 0.1);
    add("mu", {3, 3}, 0.5);
    return in;
  }

  RunResult run_chain(const ChainInputs& in) {
    RunResult r;
    Tape tape(ctx());
    std::map<std::string, Var> p;
    for (const auto& [name, host] : in.params) p[name] = param(host);
    // Packed rows (engine/jet_rows.h): R rows for the jets' real points and padding rows.
    const JetBatch batch = pack_jets(ctx(), in.data, dev());
    const JetRows& rows = batch.rows;
    const Var x = make_var(batch.points);
    const Tensor targets = ctx().to(in.targets, dev());
    const std::int64_t k = 10;

    const Tensor knn1 = knn_coordinates(tape, x, rows, k);
    const Var e = edge_diff(tape, x, knn1, rows);
    const BatchNormResult bn = batch_norm_train(tape, dense(tape, e, p["W_edge"], p["b_edge"]), p["gamma_edge"],
                                                p["beta_edge"], kBatchNormEpsilon, {}, false, rows.weight);
    const Var y = relu(tape, bn.y);                                       // [R, k, 16]
    const Var c = relu(tape, dense(tape, y, p["W_nb"], p["b_nb"]));       // [R, k, 1]
    const Var a = leaky_relu(tape, dense(tape, x, p["W_self"], nullptr), 0.1);  // [R, 1], signed
    const Var alpha = attention_softmax(tape, a, c, kAttentionLeakySlope);
    const Var o = relu(tape, attention_aggregate(tape, alpha, y, p["b_out"]));  // [R, 16]
    const Var g = neighbour_max(tape, y);                                 // [R, 16]
    const Var h = concat(tape, {x, o, g});                                // [R, 40]
    const BatchNormResult bn2 = batch_norm_train(tape, dense(tape, h, p["W_net"], nullptr), p["gamma_net"],
                                                 p["beta_net"], kBatchNormEpsilon, {}, false, rows.weight);
    const Var h2 = relu(tape, bn2.y);                                     // [R, 32]
    const Tensor knn2 = knn_features(tape, h2, rows, k);
    const Var y2 = relu(tape, dense(tape, edge_diff(tape, h2, knn2, rows), p["W_edge2"], nullptr));
    const Var zf = relu(tape, dense(tape, neighbour_max(tape, y2), p["W_agg"], nullptr));  // [R, 3]
    const Var z = mean_pool(tape, zf, rows);                              // [B, 3]
    const KMeansLossResult km = kmeans_loss(tape, z, p["mu"], 10.0);
    const Var logits = dense(tape, z, p["W_fc"], p["b_fc"]);
    const Var fl = focal_loss(tape, logits, targets, 2.0, 1.0);
    const Var total = add_scaled(tape, km.loss, scale(tape, fl, 1.0), 10.0, 1.0);
    tape.backward(total);

    r.add(ctx(), "knn1", knn1);
    r.add(ctx(), "knn2", knn2);
    r.add(ctx(), "bn batch_mean", bn.batch_mean);
    r.add(ctx(), "bn batch_var", bn.batch_var);
    r.add(ctx(), "alpha", alpha->value);
    r.add(ctx(), "z", z->value);
    r.add(ctx(), "distances", km.distances);
    r.add(ctx(), "assignment", kmeans_assign(ctx(), km.distances));
    r.add(ctx(), "logits", logits->value);
    r.add(ctx(), "total loss", total->value);
    for (const auto& [name, var] : p) r.add(ctx(), "grad " + name, var->grad);
    // One Adam step per parameter tensor from fresh moments.
    for (const auto& [name, var] : p) {
      Tensor m = ctx().zeros_like(var->value), v = ctx().zeros_like(var->value);
      adam_update(ctx(), var->value, var->grad, m, v, adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, 1), kAdamBeta1,
                  kAdamBeta2, kAdamEpsilon);
      r.add(ctx(), "param after adam " + name, var->value);
    }
    return r;
  }

  // `steps` training steps of the UCluster model (joint phase, config B, spec 3.3 / 4.2) from the
  // same initial state.
  RunResult run_model(const Tensor& data, const Tensor& targets, int steps) {
    RunResult r;
    model::UClusterModel net;
    ParamStore store;
    net.declare(store);
    store.finalize(ctx(), dev());
    Rng init(4242);
    net.initialise(ctx(), store, init);
    // Distinct centroids (initialise leaves them 0 until the k-means initialisation).
    Rng mu_rng(77);
    std::vector<float> mu(9);
    for (auto& v : mu) v = static_cast<float>(mu_rng.uniform(0.0, 1.0));
    ctx().copy(store.param("mu"), ctx().from_vector<float>({3, 3}, mu, Device::cpu()));
    AdamOptimizer optimizer(ctx(), store);
    StepSettings settings;
    settings.bn_decay = 0.5;
    const Tensor data_d = ctx().to(data, dev()), targets_d = ctx().to(targets, dev());
    for (int t = 1; t <= steps; ++t) {
      TrainingStep step(ctx(), net, store, data_d, targets_d, settings);
      step.backward();
      const model::ForwardOutput& out = step.output();
      const model::Losses& losses = step.losses();
      const std::string s = " step " + std::to_string(t);
      r.add(ctx(), "knn2" + s, out.knn2);
      r.add(ctx(), "z" + s, out.z->value);
      r.add(ctx(), "logits" + s, out.logits->value);
      r.add(ctx(), "total loss" + s, losses.total->value);
      r.add(ctx(), "focal loss" + s, losses.focal->value);
      r.add(ctx(), "kmeans loss" + s, losses.kmeans->value);
      r.add(ctx(), "gradients" + s, store.flat_grads());
      step.apply(optimizer);
      r.add(ctx(), "parameters" + s, store.flat_params());
      r.add(ctx(), "adam m" + s, optimizer.m());
      r.add(ctx(), "adam v" + s, optimizer.v());
      r.add(ctx(), "bn moving statistics" + s, store.flat_buffers());
    }
    return r;
  }
};

TEST_F(Determinism, OpChainForwardBackwardAdamTwiceIsBitIdentical) {
  const ChainInputs in = chain_inputs(16);
  const RunResult first = run_chain(in);
  const RunResult second = run_chain(in);
  expect_identical(first, second);
}

// Two training steps of the whole model at B = 64, run twice from the same state.
TEST_F(Determinism, ModelTrainingStepsTwiceAreBitIdentical) {
  const std::int64_t B = 64;
  const Tensor data = jets(B, 100, 8, {100, 80, 45, 30, 12, 7});
  std::vector<std::int32_t> t(B);
  for (auto& v : t) v = static_cast<std::int32_t>(ctx().rng().below(19));
  const Tensor targets = ctx().from_vector<std::int32_t>({B}, t, Device::cpu());
  const RunResult first = run_model(data, targets, 2);
  const RunResult second = run_model(data, targets, 2);
  expect_identical(first, second);
}

}  // namespace
}  // namespace ucluster
