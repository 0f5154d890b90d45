// The fused edge path of a GAP block (kernels/edge_attention.h) against the unfused graph of the
// existing, separately tested ops (edge_diff, bias_add, batch norm, ReLU, dense, attention softmax,
// attention_aggregate, neighbour_max), forward and backward, in training and inference mode; its own
// finite-difference gradient; float32 against float64; thread-count determinism; synchronised
// statistics over two replicas; bad input.
#include <cmath>
#include <cstdio>
#include <thread>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/batch_norm.h"
#include "kernels/concat.h"
#include "kernels/dense.h"
#include "kernels/edge.h"
#include "kernels/edge_attention.h"
#include "tests/kernels/packed_jets.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"
#include "tests/two_replicas.h"

namespace ucluster {
namespace {

using test::random_tensor;

// A GAP block's edge part for B jets of N points, k neighbours, A channels, in double. The points
// are the rows of the reference's layout (dense_jet_rows: jet b's N points are rows b N .. b N + N - 1,
// P [B N, A]); idx holds each point's neighbours within its jet, made absolute rows by indices_of.
// These tests are about the fused ops themselves; the padding row is tested in test_packed_rows.cpp.
struct Problem {
  std::int64_t B, N, k, A;
  std::vector<double> P, b, gamma, beta, w, wb, a, c_gamma, c_beta, out_b;
  std::vector<std::int32_t> idx;
  // Inference mode: the moving statistics of e and of the score.
  std::vector<double> mean, var, c_mean, c_var;
};

Problem make_problem(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t A, std::uint64_t seed = 5) {
  Context ctx(test::cpu_options(seed));
  auto rnd = [&](const Shape& s, double lo, double hi) {
    return ctx.to_vector<double>(random_tensor(ctx, s, DType::F64, lo, hi));
  };
  Problem p;
  p.B = B;
  p.N = N;
  p.k = k;
  p.A = A;
  p.P = rnd({B, N, A}, -1, 1);
  p.b = rnd({A}, -0.3, 0.3);
  p.gamma = rnd({A}, 0.5, 1.5);
  p.beta = rnd({A}, -0.2, 0.4);
  p.w = rnd({A, 1}, -1, 1);
  p.wb = rnd({1}, -0.2, 0.2);
  // Self coefficients on both sides of -c: the LeakyReLU's slope branch is taken too.
  p.a = rnd({B, N}, -1.5, 1);
  p.c_gamma = rnd({1}, 0.5, 1.5);
  p.c_beta = rnd({1}, 0.1, 0.5);
  p.out_b = rnd({A}, -0.2, 0.2);
  p.mean = rnd({A}, -0.2, 0.2);
  p.var = rnd({A}, 0.3, 2);
  p.c_mean = rnd({1}, -0.2, 0.2);
  p.c_var = rnd({1}, 0.3, 2);
  // Random neighbours, the point itself among them (as kNN returns it), and the last neighbour a
  // copy of the first: identical edges give exactly tied maxima for the max's gradient split.
  for (std::int64_t r = 0; r < B * N; ++r)
    for (std::int64_t j = 0; j < k; ++j)
      p.idx.push_back(j == 0 ? std::int32_t(r % N)
                      : j == k - 1 && k > 2 ? p.idx[r * k + 1]
                                             : std::int32_t(ctx.rng().below(std::uint64_t(N))));
  return p;
}

template <typename T>
Tensor tensor(Context& ctx, const Shape& s, const std::vector<double>& v) {
  return ctx.from_vector<T>(s, std::vector<T>(v.begin(), v.end()));
}

// A [n] tensor of v's values with the dtype of `like`.
Tensor tensor_like(Context& ctx, const Tensor& like, const std::vector<double>& v) {
  const Shape s{std::int64_t(v.size())};
  return like.dtype() == DType::F64 ? tensor<double>(ctx, s, v) : tensor<float>(ctx, s, v);
}

// The differentiable inputs, in this order: P, b, gamma, beta, w, wb, a, c_gamma, c_beta, out_b.
template <typename T>
std::vector<Tensor> inputs_of(Context& ctx, const Problem& p) {
  const std::int64_t B = p.B, N = p.N, A = p.A;
  return {tensor<T>(ctx, {B * N, A}, p.P), tensor<T>(ctx, {A}, p.b),       tensor<T>(ctx, {A}, p.gamma),
          tensor<T>(ctx, {A}, p.beta),    tensor<T>(ctx, {A, 1}, p.w),    tensor<T>(ctx, {1}, p.wb),
          tensor<T>(ctx, {B, N}, p.a),    tensor<T>(ctx, {1}, p.c_gamma), tensor<T>(ctx, {1}, p.c_beta),
          tensor<T>(ctx, {A}, p.out_b)};
}

// The layout of p's jets and their neighbours as absolute rows [B N, k].
JetRows rows_of(Context& ctx, const Problem& p, DType dtype) {
  return dense_jet_rows(ctx, p.B, p.N, dtype, Device::cpu());
}
Tensor indices_of(Context& ctx, const Problem& p) {
  return ctx.from_vector<std::int32_t>({p.B * p.N, p.k}, test::absolute_indices(p.idx, p.N, p.k));
}

// c = ReLU(BN(score)) of the neighbour-attention conv, as the model's normalise() does it.
Var score_to_coefficient(Tape& t, const Problem& p, const Var& score, const std::vector<Var>& v, bool train,
                         const ReplicaSum& sync) {
  const Tensor& s = score->value;
  Var y = train ? batch_norm_train(t, score, v[7], v[8], kBatchNormEpsilon, sync).y
                : batch_norm_inference(t, score, v[7], v[8], tensor_like(t.ctx(), s, p.c_mean),
                                       tensor_like(t.ctx(), s, p.c_var), kBatchNormEpsilon);
  return reshape(t, relu(t, y), {s.dim(0), s.dim(1), s.dim(2)});
}

// Output [B N, 2A] = concat(ReLU(o), g) of the fused path. The attention softmax takes the
// reference's [B, N, k] shapes: score and alpha are reshaped around it, as the model does.
Var fused(Tape& t, const Problem& p, const std::vector<Var>& v, bool train, const ReplicaSum& sync = {}) {
  Context& ctx = t.ctx();
  const Tensor& P = v[0]->value;
  const Tensor idx = indices_of(ctx, p);
  EdgeLayerVars edge{v[0], idx, v[1], v[2], v[3], Tensor(), Tensor(), kBatchNormEpsilon, train,
                     rows_of(ctx, p, P.dtype())};
  if (train) {
    edge.mean = ctx.empty({p.A}, P.dtype());
    edge.var = ctx.empty({p.A}, P.dtype());
    edge_batch_statistics(ctx, P, idx, edge.rows, v[1]->value, edge.mean, edge.var, sync);
  } else {
    edge.mean = tensor_like(ctx, P, p.mean);
    edge.var = tensor_like(ctx, P, p.var);
  }
  Var score = reshape(t, edge_score(t, edge, v[4], v[5], sync), {p.B, p.N, p.k, 1});
  Var alpha = attention_softmax(t, v[6], score_to_coefficient(t, p, score, v, train, sync), kAttentionLeakySlope);
  EdgeAggregateResult r = edge_aggregate(t, edge, reshape(t, alpha, {p.B * p.N, p.k}), v[9], sync);
  return concat(t, {relu(t, r.o), r.g});
}

// The same block from the unfused ops.
Var unfused(Tape& t, const Problem& p, const std::vector<Var>& v, bool train) {
  Context& ctx = t.ctx();
  const Tensor& P = v[0]->value;
  const Tensor idx = indices_of(ctx, p);
  Var e = bias_add(t, edge_diff(t, v[0], idx, rows_of(ctx, p, P.dtype())), v[1]);
  Var y = relu(t, train ? batch_norm_train(t, e, v[2], v[3]).y
                        : batch_norm_inference(t, e, v[2], v[3], tensor_like(ctx, P, p.mean),
                                               tensor_like(ctx, P, p.var)));
  // y [B N, k, A] as the attention ops' [B, N, k, A].
  y = reshape(t, y, {p.B, p.N, p.k, p.A});
  Var score = dense(t, y, v[4], v[5]);
  Var alpha = attention_softmax(t, v[6], score_to_coefficient(t, p, score, v, train, {}), kAttentionLeakySlope);
  return concat(t, {relu(t, attention_aggregate(t, alpha, y, v[9])), neighbour_max(t, y)});
}

struct PathRun {
  std::vector<double> out;
  std::vector<std::vector<double>> grads;  // one per input of inputs_of
};

// Forward and backward with the output gradient `seed` (double values, cast to T).
template <typename T, typename F>
PathRun run(Context& ctx, const std::vector<Tensor>& inputs, const std::vector<double>& seed, F&& f) {
  Tape tape(ctx);
  std::vector<Var> v;
  for (const Tensor& x : inputs) v.push_back(make_var(x, true));
  Var out = f(tape, v);
  tape.backward(out, tensor<T>(ctx, out->value.shape(), seed));
  PathRun r{test::values(ctx, out->value), {}};
  for (const Var& x : v) r.grads.push_back(test::values(ctx, x->grad));
  return r;
}

std::vector<double> seed_for(const Problem& p, std::int64_t batch) {
  Context ctx(test::cpu_options(99));
  return ctx.to_vector<double>(random_tensor(ctx, {batch, p.N, 2 * p.A}, DType::F64));
}

double scale_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s = std::max(s, std::abs(x));
  return s;
}

// max_i |a_i - b_i| / scale, scale = max(max |b|, floor).
double relative_error(const std::vector<double>& a, const std::vector<double>& b, double floor = 1e-30) {
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  const double scale = std::max(scale_of(b), floor);
  for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    worst = std::max(worst, std::abs(a[i] - b[i]) / scale);
  }
  return worst;
}

// The scale gradients are compared at: the largest gradient of any input. Some gradients vanish in
// exact arithmetic (the edge and score biases in training mode, which the batch norm subtracts
// out) and are rounding noise of that size, so their own maximum is no scale for them.
double gradient_scale(const std::vector<std::vector<double>>& grads) {
  double s = 0;
  for (const auto& g : grads) s = std::max(s, scale_of(g));
  return s;
}

const char* const kInputNames[] = {"P", "b", "gamma", "beta", "w", "wb", "a", "c_gamma", "c_beta", "out_b"};

// Both paths evaluate the same expressions in double; they differ only in the order of sums over at
// most M = B N k edges (statistics, batch-norm backward, edge scatter) and A channels. Each such sum
// is within M eps64 of its terms' magnitude, which the batch norm can amplify by at most
// 1/sqrt(eps) = 31.6 over the result's scale: (M = 200) x 2.2e-16 x 31.6 = 1.4e-12. The bound
// 1e-10 leaves room for chains of such sums; a wrong or missing term is of the order of the result.
constexpr double kFusedVsUnfusedDouble = 1e-10;

void expect_runs_match(const PathRun& got, const PathRun& want, double bound, const char* what) {
  EXPECT_LT(relative_error(got.out, want.out), bound) << what << ": output";
  const double floor = gradient_scale(want.grads);
  for (std::size_t i = 0; i < want.grads.size(); ++i)
    EXPECT_LT(relative_error(got.grads[i], want.grads[i], floor), bound) << what << ": gradient of " << kInputNames[i];
}

void check_against_unfused(bool train) {
  const Problem p = make_problem(3, 7, 4, 5);
  Context ctx(test::cpu_options());
  const std::vector<Tensor> in = inputs_of<double>(ctx, p);
  const std::vector<double> seed = seed_for(p, p.B);
  const PathRun f =
      run<double>(ctx, in, seed, [&](Tape& t, const std::vector<Var>& v) { return fused(t, p, v, train); });
  const PathRun u =
      run<double>(ctx, in, seed, [&](Tape& t, const std::vector<Var>& v) { return unfused(t, p, v, train); });
  expect_runs_match(f, u, kFusedVsUnfusedDouble, train ? "training" : "inference");
  // The duplicated neighbour makes real ties: both paths must split the max's gradient alike.
  EXPECT_GT(scale_of(u.grads[0]), 0.0);
}

TEST(EdgeAttention, TrainingMatchesTheUnfusedGraph) { check_against_unfused(true); }
TEST(EdgeAttention, InferenceMatchesTheUnfusedGraph) { check_against_unfused(false); }

TEST(EdgeAttention, StatisticsAndEdgeFeaturesMatchBatchNorm) {
  const Problem p = make_problem(2, 6, 3, 4);
  Context ctx(test::cpu_options());
  const std::vector<Tensor> in = inputs_of<double>(ctx, p);
  const Tensor idx = indices_of(ctx, p);
  const JetRows rows = rows_of(ctx, p, DType::F64);
  Tensor mean = ctx.empty({p.A}, DType::F64), var = ctx.empty({p.A}, DType::F64);
  edge_batch_statistics(ctx, in[0], idx, rows, in[1], mean, var);
  Tape t(ctx, false);
  Var e = bias_add(t, edge_diff(t, make_var(in[0]), idx, rows), make_var(in[1]));
  BatchNormResult bn = batch_norm_train(t, e, make_var(in[2]), make_var(in[3]));
  // Same double sums over the same values, in another order: within M eps64 of the scale.
  EXPECT_LT(relative_error(test::values(ctx, mean), test::values(ctx, bn.batch_mean)), 1e-13);
  EXPECT_LT(relative_error(test::values(ctx, var), test::values(ctx, bn.batch_var)), 1e-13);
  Tensor y = ctx.empty({p.B * p.N, p.k, p.A}, DType::F64);
  edge_layer_forward(ctx, EdgeLayer{in[0], idx, in[1], in[2], in[3], mean, var, kBatchNormEpsilon, rows}, y);
  EXPECT_LT(relative_error(test::values(ctx, y), test::values(ctx, relu(t, bn.y)->value)), 1e-13);
}

TEST(EdgeAttention, GradCheckTrainingAndInference) {
  const Problem p = make_problem(2, 5, 3, 3);
  for (bool training : {true, false}) {
    Context ctx(test::cpu_options());
    auto report = test::gradcheck(ctx, inputs_of<double>(ctx, p), std::vector<bool>(10, true),
                                  [&](Tape& t, const std::vector<Var>& v) { return fused(t, p, v, training); });
    EXPECT_LT(report.max_error, test::kGradCheckTolerance) << (training ? "training: " : "inference: ") << report.worst;
  }
}

// float32 against float64 on the GAP1 width. Every output and gradient is a chain of at most ~10
// roundings of a sum whose terms the batch norm amplifies by at most 1/sqrt(eps) = 31.6, so
// |f32 - f64| <= ~10 x 31.6 x eps32 = 3.8e-5 of the scale; 1e-4 leaves no room for a wrong term.
TEST(EdgeAttention, Float32AgreesWithFloat64) {
  const Problem p = make_problem(2, 20, 5, 128);
  Context ctx(test::cpu_options());
  const std::vector<double> seed = seed_for(p, p.B);
  auto f = [&](Tape& t, const std::vector<Var>& v) { return fused(t, p, v, true); };
  const PathRun r64 = run<double>(ctx, inputs_of<double>(ctx, p), seed, f);
  const PathRun r32 = run<float>(ctx, inputs_of<float>(ctx, p), seed, f);
  expect_runs_match(r32, r64, 1e-4, "float32 vs float64");
}

TEST(EdgeAttention, BitsDoNotDependOnTheThreadCount) {
  const Problem p = make_problem(6, 30, 10, 16);
  const std::vector<double> seed = seed_for(p, p.B);
  const std::function<PathRun(Context&)> fused_run = [&](Context& ctx) {
    return run<float>(ctx, inputs_of<float>(ctx, p), seed,
                      [&](Tape& t, const std::vector<Var>& v) { return fused(t, p, v, true); });
  };
  const PathRun runs[2] = {test::with_threads(1, fused_run), test::with_threads(2, fused_run)};
  EXPECT_EQ(runs[0].out, runs[1].out);
  for (std::size_t i = 0; i < runs[0].grads.size(); ++i)
    EXPECT_EQ(runs[0].grads[i], runs[1].grads[i]) << kInputNames[i];
}

// Two replicas with jets [0, 2) and [2, 5) and synchronised statistics reproduce one process with
// all five jets: outputs and P's gradient row for row, the parameter gradients as the sum of the
// two replicas' local gradients (the gradient all-reduce adds them). Same sums split differently:
// the double bound of the fused-vs-unfused comparison.
TEST(EdgeAttention, TwoSynchronisedReplicasMatchOneProcess) {
  const Problem p = make_problem(5, 6, 3, 4);
  const std::vector<double> seed = seed_for(p, p.B);
  Context whole_ctx(test::cpu_options());
  const PathRun whole = run<double>(whole_ctx, inputs_of<double>(whole_ctx, p), seed,
                                [&](Tape& t, const std::vector<Var>& v) { return fused(t, p, v, true); });
  const std::int64_t split = 2, point_values = p.N * p.A;
  test::TwoReplicaAllReduce all_reduce;
  PathRun rep[2];
  auto replica = [&](int r) {
    const std::int64_t first = r == 0 ? 0 : split, jets = r == 0 ? split : p.B - split;
    Problem part = p;
    part.B = jets;
    part.P.assign(p.P.begin() + first * point_values, p.P.begin() + (first + jets) * point_values);
    part.a.assign(p.a.begin() + first * p.N, p.a.begin() + (first + jets) * p.N);
    part.idx.assign(p.idx.begin() + first * p.N * p.k, p.idx.begin() + (first + jets) * p.N * p.k);
    const std::vector<double> part_seed(seed.begin() + first * 2 * point_values,
                                        seed.begin() + (first + jets) * 2 * point_values);
    Context ctx(test::cpu_options());
    rep[r] = run<double>(ctx, inputs_of<double>(ctx, part), part_seed, [&](Tape& t, const std::vector<Var>& v) {
      return fused(t, part, v, true, all_reduce.for_replica(r));
    });
  };
  std::thread t0(replica, 0), t1(replica, 1);
  t0.join();
  t1.join();
  // 2 statistics calls, 2 for the score's batch norm forward, then 3 backward (aggregate, the
  // score's batch norm, score), identical on both replicas.
  EXPECT_EQ(all_reduce.calls(0), all_reduce.calls(1));
  EXPECT_EQ(all_reduce.calls(0).size(), 7u);
  auto joined = [&](auto member) {
    std::vector<double> v = member(rep[0]);
    const std::vector<double> second = member(rep[1]);
    v.insert(v.end(), second.begin(), second.end());
    return v;
  };
  EXPECT_LT(relative_error(joined([](const PathRun& r) { return r.out; }), whole.out), kFusedVsUnfusedDouble);
  const double floor = gradient_scale(whole.grads);
  EXPECT_LT(relative_error(joined([](const PathRun& r) { return r.grads[0]; }), whole.grads[0]), kFusedVsUnfusedDouble);
  for (std::size_t i = 1; i < whole.grads.size(); ++i) {
    if (i == 6) continue;  // a: per point, like P (checked below)
    std::vector<double> sum = rep[0].grads[i];
    for (std::size_t j = 0; j < sum.size(); ++j) sum[j] += rep[1].grads[i][j];
    EXPECT_LT(relative_error(sum, whole.grads[i], floor), kFusedVsUnfusedDouble) << kInputNames[i];
  }
  EXPECT_LT(relative_error(joined([](const PathRun& r) { return r.grads[6]; }), whole.grads[6], floor),
            kFusedVsUnfusedDouble);
}

TEST(EdgeAttention, RejectsBadInput) {
  Context ctx(test::cpu_options());
  // Two jets of four points: rows [8, 3].
  const JetRows rows = dense_jet_rows(ctx, 2, 4, DType::F32, Device::cpu());
  const Tensor P = ctx.zeros({8, 3}), b = ctx.zeros({3});
  Tensor mean = ctx.empty({3}), var = ctx.empty({3});
  // Row 2 (jet 0, rows 0..3) names row 4, a row of jet 1.
  Tensor idx = ctx.zeros({8, 2}, DType::I32);
  idx.data<std::int32_t>()[5] = 4;
  std::string msg = test::error_of([&] { edge_batch_statistics(ctx, P, idx, rows, b, mean, var); });
  EXPECT_NE(msg.find("neighbour index 4 at position 5 is not a row of its point's jet"), std::string::npos) << msg;
  msg = test::error_of([&] { edge_batch_statistics(ctx, P, ctx.zeros({10, 2}, DType::I32), rows, b, mean, var); });
  EXPECT_NE(msg.find("int32[10,2]@cpu"), std::string::npos) << msg;
  EXPECT_NE(msg.find("float32[8,3]@cpu"), std::string::npos) << msg;
  // Points that are not the layout's rows.
  msg = test::error_of([&] { edge_batch_statistics(ctx, ctx.zeros({6, 3}), ctx.zeros({6, 2}, DType::I32), rows, b,
                                                   mean, var); });
  EXPECT_NE(msg.find("does not have the R = 8 rows"), std::string::npos) << msg;
  // Row weights of another dtype than the points.
  msg = test::error_of([&] {
    edge_batch_statistics(ctx, P, ctx.zeros({8, 2}, DType::I32), dense_jet_rows(ctx, 2, 4, DType::F64, Device::cpu()),
                          b, mean, var);
  });
  EXPECT_NE(msg.find("row weights"), std::string::npos) << msg;
  // Valid indices: every point's neighbours are its jet's first row.
  const Tensor first_rows = ctx.from_vector<std::int32_t>({8, 2}, {0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4});
  const EdgeLayer edge{P, first_rows, b, b, b, b, ctx.zeros({3}), kBatchNormEpsilon, rows};
  msg = test::error_of([&] { edge_score_forward(ctx, edge, ctx.zeros({4}), Tensor(), ctx.empty({8, 2, 1})); });
  EXPECT_NE(msg.find("score weights float32[4]@cpu"), std::string::npos) << msg;
  msg = test::error_of([&] {
    edge_aggregate_forward(ctx, edge, ctx.zeros({8, 3}), Tensor(), ctx.empty({8, 3}), ctx.empty({8, 3}));
  });
  EXPECT_NE(msg.find("attention weights"), std::string::npos) << msg;
  msg = test::error_of([&] {
    edge_batch_statistics(ctx, ctx.zeros({0, 3}), ctx.zeros({0, 2}, DType::I32),
                          dense_jet_rows(ctx, 0, 4, DType::F32, Device::cpu()), b, mean, var);
  });
  EXPECT_NE(msg.find("no edges"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ucluster
