// Per-op microbenchmarks at UCluster's shapes (spec 2.4: N = 100 points, k = 10, the widths of the
// second attention block): median time of each op's forward and backward, and the achieved memory
// bandwidth counting each input read once and each output written once (GFLOP/s for GEMMs).
// Prints one JSON object.
//   op_benchmarks [--device cpu|cuda|auto] [--batch B] [--reps R] [--threads T]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "bench/bench_report.h"
#include "engine/jet_rows.h"
#include "kernels/activation.h"
#include "kernels/adam.h"
#include "kernels/attention.h"
#include "kernels/batch_norm.h"
#include "kernels/concat.h"
#include "kernels/dense.h"
#include "kernels/edge.h"
#include "kernels/focal_loss.h"
#include "kernels/kmeans_loss.h"
#include "kernels/knn.h"
#include "kernels/pool.h"

using namespace ucluster;

namespace {

struct Result {
  std::string op;
  double ms = 0, bytes = 0, flops = 0;
};

// Random float32 tensor in [lo, hi) on the context's device.
Tensor random(Context& ctx, const Shape& shape, double lo = -1, double hi = 1) {
  std::vector<float> v(static_cast<std::size_t>(shape.numel()));
  for (auto& x : v) x = static_cast<float>(ctx.rng().uniform(lo, hi));
  return ctx.from_vector<float>(shape, v);
}

double median_ms(Context& ctx, int reps, const std::function<void()>& f) {
  f();  // warm-up
  ctx.synchronize();
  std::vector<double> t;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    ctx.synchronize();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double bytes_of(std::initializer_list<Tensor> ts) {
  double b = 0;
  for (const Tensor& t : ts) b += double(t.bytes());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  ContextOptions opts;
  std::int64_t batch = 0;
  int reps = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--device")) opts.device = argv[i + 1];
    else if (!std::strcmp(argv[i], "--batch")) batch = std::stoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::stoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) opts.num_threads = std::stoi(argv[i + 1]);
  }
  Context ctx(opts);
  if (batch <= 0) batch = ctx.device().is_cuda() ? 512 : 32;
  const std::int64_t N = 100, K = 10, A = 128, rows = batch * N, edges = rows * K;
  std::vector<Result> results;
  auto run = [&](const std::string& op, double bytes, double flops, const std::function<void()>& f) {
    results.push_back({op, median_ms(ctx, reps, f), bytes, flops});
  };

  // Dense 128 -> 128 over the points (gap1 new-feature / projected edge conv).
  Tensor x = random(ctx, {rows, A}), w = random(ctx, {A, A}), b = random(ctx, {A}), y = ctx.empty({rows, A});
  Tensor dx = ctx.zeros({rows, A}), dw = ctx.zeros({A, A}), db = ctx.zeros({A});
  run("dense_forward_128x128", bytes_of({x, w, y}), 2.0 * rows * A * A, [&] { dense_forward(ctx, x, w, b, y); });
  run("dense_backward_128x128", bytes_of({x, w, y, dx, dw}), 4.0 * rows * A * A,
      [&] { dense_backward(ctx, x, w, y, dx, dw, db); });

  // Per-edge tensors of the second attention block [B N, k, 128]. The jets are the packed rows of
  // engine/jet_rows.h in the dense layout (every jet N real rows, no padding row): the per-op cost
  // at the reference's shapes, comparable with earlier rounds. The model's saving from packing
  // comes from fewer rows (model_throughput measures it on realistic multiplicities).
  const JetRows jets = dense_jet_rows(ctx, batch, N, DType::F32, ctx.device());
  Tensor h = random(ctx, {rows, A});
  Tensor idx = knn_features(ctx, h, jets, K);
  run("knn_features_128", bytes_of({h, idx}), 2.0 * batch * N * N * A, [&] { idx = knn_features(ctx, h, jets, K); });
  Tensor pts = random(ctx, {rows, 8}, -0.5, 0.5);
  run("knn_coordinates", bytes_of({pts, idx}), 0, [&] { knn_coordinates(ctx, pts, jets, K); });
  Tensor e = ctx.empty({rows, K, A}), de = random(ctx, {rows, K, A}), dh = ctx.zeros({rows, A});
  run("edge_diff_forward", bytes_of({h, idx, e}), 0, [&] { edge_diff_forward(ctx, h, idx, e); });
  run("edge_diff_backward", bytes_of({idx, de, dh}), 0, [&] { edge_diff_backward(ctx, jets, idx, de, dh); });
  Tensor eb = e.reshape({edges, A}), yb = ctx.empty({edges, A}), gamma = random(ctx, {A}), beta = random(ctx, {A});
  Tensor mean = ctx.empty({A}), var = ctx.empty({A}), inv = ctx.empty({A}), dyb = random(ctx, {edges, A});
  Tensor dxb = ctx.zeros({edges, A}), dg = ctx.zeros({A}), dbe = ctx.zeros({A});
  run("batch_norm_train_forward_edges", bytes_of({eb, yb}), 0,
      [&] { batch_norm_train_forward(ctx, eb, gamma, beta, 1e-3, yb, mean, var, inv); });
  run("batch_norm_train_backward_edges", bytes_of({eb, dyb, dxb}), 0,
      [&] { batch_norm_train_backward(ctx, eb, gamma, mean, inv, dyb, dxb, dg, dbe); });
  run("relu_forward_edges", bytes_of({eb, yb}), 0, [&] { leaky_relu_forward(ctx, eb, yb, 0.0); });
  run("relu_backward_edges", bytes_of({eb, dyb, dxb}), 0, [&] { leaky_relu_backward(ctx, eb, dyb, dxb, 0.0); });
  // The attention ops keep the [B, N, k(, A)] shapes (the model reshapes the rows to [1, R, k]).
  const Tensor e4 = e.reshape({batch, N, K, A});
  Tensor a = random(ctx, {batch, N}, 0, 1), c = random(ctx, {batch, N, K}, 0, 1), alpha = ctx.empty({batch, N, K});
  Tensor da = ctx.zeros({batch, N}), dc = ctx.zeros({batch, N, K}), dalpha = random(ctx, {batch, N, K});
  run("attention_softmax_forward", bytes_of({a, c, alpha}), 0,
      [&] { attention_softmax_forward(ctx, a, c, alpha, kAttentionLeakySlope); });
  run("attention_softmax_backward", bytes_of({a, c, alpha, dalpha, da, dc}), 0,
      [&] { attention_softmax_backward(ctx, a, c, alpha, dalpha, da, dc, kAttentionLeakySlope); });
  Tensor o = ctx.empty({batch, N, A}), dout = random(ctx, {batch, N, A}), dalpha2 = ctx.zeros({batch, N, K});
  Tensor dy4 = ctx.zeros({batch, N, K, A}), dbias = ctx.zeros({A});
  run("attention_aggregate_forward", bytes_of({alpha, e4, o}), 2.0 * edges * A,
      [&] { attention_aggregate_forward(ctx, alpha, e4, b, o); });
  run("attention_aggregate_backward", bytes_of({alpha, e4, dout, dalpha2, dy4}), 4.0 * edges * A,
      [&] { attention_aggregate_backward(ctx, alpha, e4, dout, dalpha2, dy4, dbias); });
  Tensor g = ctx.empty({batch, N, A});
  run("neighbour_max_forward", bytes_of({e4, g}), 0, [&] { neighbour_max_forward(ctx, e4, g); });
  run("neighbour_max_backward", bytes_of({e4, g, dout, dy4}), 0,
      [&] { neighbour_max_backward(ctx, e4, g, dout, dy4); });

  // The 848-channel concatenation, the pool, the losses, Adam over the 186,210 parameters.
  std::vector<Tensor> parts = {random(ctx, {rows, 64}), random(ctx, {rows, 128}), random(ctx, {rows, 256}),
                               random(ctx, {rows, 256}), random(ctx, {rows, 16}), random(ctx, {rows, 128})};
  Tensor cat = ctx.empty({rows, 848});
  run("concat_848", 2.0 * double(cat.bytes()), 0, [&] { concat_forward(ctx, parts, cat); });
  Tensor agg = random(ctx, {rows, 3}), z = ctx.empty({batch, 3});
  run("mean_pool", bytes_of({agg, z}), 0, [&] { mean_pool_forward(ctx, agg, jets, z); });
  Tensor logits = random(ctx, {batch, 20}), loss = ctx.empty({1}), dlogits = ctx.zeros({batch, 20});
  std::vector<std::int32_t> t(static_cast<std::size_t>(batch));
  for (auto& v : t) v = static_cast<std::int32_t>(ctx.rng().below(19));
  Tensor target = ctx.from_vector<std::int32_t>({batch}, t), one = ctx.from_vector<float>({1}, {1.0f});
  run("focal_loss_forward_backward", bytes_of({logits, dlogits}), 0, [&] {
    focal_loss_forward(ctx, logits, target, 2.0, 1.0, loss);
    focal_loss_backward(ctx, logits, target, 2.0, 1.0, one, dlogits);
  });
  Tensor zz = random(ctx, {batch, 3}, 0, 1), mu = random(ctx, {3, 3}, 0, 1), dist = ctx.empty({batch, 3});
  Tensor dz = ctx.zeros({batch, 3}), dmu = ctx.zeros({3, 3});
  run("kmeans_loss_forward_backward", bytes_of({zz, dist, dz}), 0, [&] {
    kmeans_loss_forward(ctx, zz, mu, 10.0, loss, dist);
    kmeans_loss_backward(ctx, zz, mu, 10.0, one, dz, dmu);
  });
  const std::int64_t P = 186210;
  Tensor p = random(ctx, {P}), gp = random(ctx, {P}), m = ctx.zeros({P}), v = ctx.zeros({P});
  run("adam_186210", 6.0 * double(p.bytes()), 0,
      [&] { adam_update(ctx, p, gp, m, v, 1e-3, kAdamBeta1, kAdamBeta2, kAdamEpsilon); });

  std::printf("{\"device\": \"%s\", \"cpu_model\": %s, \"batch\": %lld, \"reps\": %d, \"ops\": [",
              ctx.device_description().c_str(), nlohmann::json(bench::cpu_info().model).dump().c_str(),
              static_cast<long long>(batch), reps);
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::printf("%s\n  {\"op\": \"%s\", \"ms\": %.4f, \"GB_per_s\": %.1f, \"GFLOP_per_s\": %.1f}", i ? "," : "",
                r.op.c_str(), r.ms, r.bytes / (r.ms * 1e6), r.flops / (r.ms * 1e6));
  }
  std::printf("]}\n");
  return 0;
}
