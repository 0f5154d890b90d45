// The event model's per-point focal loss on packed rows (kernels/point_focal_loss.h). The references
// here are the tests' own double loops over the reference's dense points (every padded point a copy
// of its jet's padding row, test::expand), with a plain softmax:
//   FL = alpha (1 - q)^gamma (-ln q), q = softmax(l)[t] + 1e-9,
//   per_point:  sum over all B P points of FL / (B P),
//   max_points: sum over jets b and classes c of (max FL over b's points of class c, 0 if none) / (C B).
#include <algorithm>
#include <cmath>
#include <functional>

#include "kernels/point_focal_loss.h"
#include "tests/kernels/packed_jets.h"
#include "tests/kernels/thread_counts.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using I = std::vector<std::int32_t>;
using D = std::vector<double>;
constexpr auto kPerPoint = PointFocalReduction::PerPoint;
constexpr auto kMaxPoints = PointFocalReduction::MaxOverPoints;

// FL of one point, straight from the definition.
double reference_fl(const double* l, std::int64_t classes, std::int32_t t, double gamma, double alpha) {
  double sum = 0.0;
  for (std::int64_t c = 0; c < classes; ++c) sum += std::exp(l[c]);
  const double q = std::exp(l[t]) / sum + 1e-9;
  return alpha * std::pow(1.0 - q, gamma) * (-std::log(q));
}

// The loss of dense points: logits [B P, C], targets [B P].
double reference_loss(const D& logits, const I& target, std::int64_t jets, std::int64_t slots, std::int64_t classes,
                      double gamma, double alpha, PointFocalReduction reduction) {
  double sum = 0.0, max_sum = 0.0;
  for (std::int64_t b = 0; b < jets; ++b) {
    D class_max(static_cast<std::size_t>(classes), 0.0);  // an absent class counts 0
    for (std::int64_t p = 0; p < slots; ++p) {
      const std::int64_t i = b * slots + p;
      const double fl = reference_fl(&logits[std::size_t(i * classes)], classes, target[i], gamma, alpha);
      sum += fl;
      class_max[target[i]] = std::max(class_max[target[i]], fl);
    }
    for (double m : class_max) max_sum += m;
  }
  return reduction == kPerPoint ? sum / double(jets * slots) : max_sum / double(classes * jets);
}

// Per-row targets expanded like the logits: a padded point has its padding row's target.
I expand_targets(const I& packed, const JetRows& rows) {
  I dense(static_cast<std::size_t>(rows.jets * rows.slots));
  for (std::int64_t b = 0; b < rows.jets; ++b)
    for (std::int64_t p = 0; p < rows.slots; ++p) dense[test::dense_row(rows, b, p)] = packed[test::packed_row(rows, b, p)];
  return dense;
}

// A packed batch: P = 6, C = 4; jets with 0 (only a padding row), 2, P (no padding row), 4 and 5 real
// points. Real rows' targets avoid some classes in some jets (an absent class counts 0 in the max);
// padding rows have the padding class 0. Logits uniform in [-2, 2].
struct Batch {
  static constexpr std::int64_t P = 6, C = 4;
  JetRows rows;
  D logits;
  I target;
};

Batch make_batch(Context& ctx) {
  Batch s;
  const I real = {0, 2, std::int32_t(Batch::P), 4, 5};
  s.rows = make_jet_rows(ctx, real, Batch::P, DType::F64, Device::cpu());
  s.logits.resize(std::size_t(s.rows.rows * Batch::C));
  for (double& v : s.logits) v = ctx.rng().uniform(-2, 2);
  const I real_targets = {1, 3, 2, 0, 3, 2, 1, 1, 2, 3, 0, 1, 2, 3, 3, 1, 2};
  std::size_t next = 0;
  for (std::int64_t b = 0; b < s.rows.jets; ++b) {
    for (std::int32_t p = 0; p < real[b]; ++p) s.target.push_back(real_targets.at(next++));
    if (real[b] < Batch::P) s.target.push_back(0);
  }
  return s;
}

Tensor f64(Context& ctx, const Shape& shape, const D& v) { return ctx.from_vector<double>(shape, v); }
Tensor i32(Context& ctx, const I& v) { return ctx.from_vector<std::int32_t>({std::int64_t(v.size())}, v); }

double loss_of(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows, double gamma,
               double alpha, PointFocalReduction reduction) {
  Tensor loss = ctx.empty({1}, logits.dtype());
  point_focal_loss_forward(ctx, logits, target, rows, gamma, alpha, reduction, loss);
  return test::values(ctx, loss)[0];
}

// dL/dlogits (dloss = 1) into zeros.
D grad_of(Context& ctx, const Tensor& logits, const Tensor& target, const JetRows& rows, double gamma, double alpha,
          PointFocalReduction reduction) {
  Tensor g = ctx.zeros(logits.shape(), logits.dtype());
  const Tensor one = logits.dtype() == DType::F64 ? ctx.from_vector<double>({1}, {1.0}) : ctx.from_vector<float>({1}, {1.0f});
  point_focal_loss_backward(ctx, logits, target, rows, gamma, alpha, reduction, one, g);
  return test::values(ctx, g);
}

void expect_near_all(const char* what, const D& got, const D& want, double tolerance) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tolerance) << what << " element " << i;
}

TEST(PointFocalLoss, PerPointMatchesTheDefinition) {
  Context ctx(test::cpu_options(41));
  const Batch s = make_batch(ctx);
  const std::int64_t B = s.rows.jets, P = Batch::P, C = Batch::C;
  const D dense = test::expand(s.logits, s.rows, C);
  const I dense_t = expand_targets(s.target, s.rows);
  for (auto [gamma, alpha] : {std::pair{2.0, 1.0}, std::pair{4.0, 10.0}, std::pair{1.5, 0.25}}) {
    SCOPED_TRACE("gamma " + std::to_string(gamma));
    // The packed rows, by hand: sum_r w_r FL_r / (B P), w_r = P - n for a padding row.
    const D w = test::values(ctx, s.rows.weight);
    double by_rows = 0.0;
    for (std::int64_t r = 0; r < s.rows.rows; ++r)
      by_rows += w[r] * reference_fl(&s.logits[std::size_t(r * C)], C, s.target[r], gamma, alpha);
    by_rows /= double(B * P);
    const double want = reference_loss(dense, dense_t, B, P, C, gamma, alpha, kPerPoint);
    EXPECT_NEAR(by_rows, want, 1e-14 * want);
    const double got = loss_of(ctx, f64(ctx, {s.rows.rows, C}, s.logits), i32(ctx, s.target), s.rows, gamma, alpha,
                               kPerPoint);
    EXPECT_NEAR(got, want, 1e-13 * want);
    // float32 logits and weights: computed in double, rounded once.
    const JetRows rows32 = make_jet_rows(ctx, s.rows.host_real, P, DType::F32, Device::cpu());
    const std::vector<float> l32(s.logits.begin(), s.logits.end());
    D l32d(l32.begin(), l32.end());
    const double want32 = reference_loss(test::expand(l32d, s.rows, C), dense_t, B, P, C, gamma, alpha, kPerPoint);
    const double got32 = loss_of(ctx, ctx.from_vector<float>({s.rows.rows, C}, l32), i32(ctx, s.target), rows32,
                                 gamma, alpha, kPerPoint);
    EXPECT_NEAR(got32, want32, 1.2e-7 * want32);
  }
}

TEST(PointFocalLoss, PerPointHandComputedSmallCase) {
  Context ctx(test::cpu_options());
  // P = 3, one jet, one real point (logits [1, 2, 0.5], target 1) and the padding row (logits
  // [0, 0, 0], target 2, weight 2): FL = 0.0640776366742... and 0.488272125498... (gamma 2, alpha 1;
  // the jet model's focal-loss test has the same two rows), loss = (FL_0 + 2 FL_1) / 3.
  const JetRows rows = make_jet_rows(ctx, {1}, 3, DType::F64, Device::cpu());
  const double got = loss_of(ctx, f64(ctx, {2, 3}, {1, 2, 0.5, 0, 0, 0}), i32(ctx, {1, 2}), rows, 2.0, 1.0, kPerPoint);
  EXPECT_NEAR(got, (0.06407763667420255 + 2 * 0.4882721254987879) / 3, 1e-15);
  // max_points: class 1's max is FL_0, class 2's FL_1, class 0 absent: (FL_0 + FL_1) / (3 classes * 1 jet).
  const double got_max =
      loss_of(ctx, f64(ctx, {2, 3}, {1, 2, 0.5, 0, 0, 0}), i32(ctx, {1, 2}), rows, 2.0, 1.0, kMaxPoints);
  EXPECT_NEAR(got_max, (0.06407763667420255 + 0.4882721254987879) / 3, 1e-15);
}

TEST(PointFocalLoss, MaxPointsMatchesTheDefinition) {
  Context ctx(test::cpu_options(42));
  const Batch s = make_batch(ctx);
  const std::int64_t B = s.rows.jets, P = Batch::P, C = Batch::C;
  const D dense = test::expand(s.logits, s.rows, C);
  const I dense_t = expand_targets(s.target, s.rows);
  // Some (jet, class) pairs are absent (jet 0 has only class 0; jet 1 classes 1, 3 and 0).
  for (auto [gamma, alpha] : {std::pair{2.0, 1.0}, std::pair{4.0, 10.0}}) {
    SCOPED_TRACE("gamma " + std::to_string(gamma));
    const double want = reference_loss(dense, dense_t, B, P, C, gamma, alpha, kMaxPoints);
    const double got = loss_of(ctx, f64(ctx, {s.rows.rows, C}, s.logits), i32(ctx, s.target), s.rows, gamma, alpha,
                               kMaxPoints);
    EXPECT_NEAR(got, want, 1e-13 * want);
    // Not the per-point mean.
    EXPECT_GT(std::abs(got - reference_loss(dense, dense_t, B, P, C, gamma, alpha, kPerPoint)), 1e-3 * want);
  }
}

// Packed rows against the same jets dense (dense_jet_rows): equal losses, and the dense gradient
// summed over each padding row's points (test::fold) equals the packed one. In max_points every
// jet's padded points tie (TF gives each tied point 1/T of the max's gradient, the padding row takes
// their whole share); in jet 3 a real row ties with the padded points too.
TEST(PointFocalLoss, PackedRowsEqualTheDenseJets) {
  Context ctx(test::cpu_options(43));
  Batch s = make_batch(ctx);
  const std::int64_t B = s.rows.jets, P = Batch::P, C = Batch::C;
  // Jet 3's real rows have targets 2, 3, 0, 1: its row 2, the only real one of class 0, becomes a
  // copy of its padding row (weight 2), so three points tie for class 0's max.
  const std::int64_t first3 = s.rows.host_offsets[3], pad3 = first3 + s.rows.host_real[3];
  ASSERT_EQ(s.target[first3 + 2], 0);
  for (std::int64_t c = 0; c < C; ++c) s.logits[std::size_t((first3 + 2) * C + c)] = s.logits[std::size_t(pad3 * C + c)];
  const JetRows dense = dense_jet_rows(ctx, B, P, DType::F64, Device::cpu());
  const Tensor lp = f64(ctx, {s.rows.rows, C}, s.logits), tp = i32(ctx, s.target);
  const Tensor ld = f64(ctx, {B * P, C}, test::expand(s.logits, s.rows, C)), td = i32(ctx, expand_targets(s.target, s.rows));
  for (PointFocalReduction reduction : {kPerPoint, kMaxPoints}) {
    SCOPED_TRACE(point_focal_reduction_name(reduction));
    const double gamma = 2.0, alpha = 10.0;
    const double packed = loss_of(ctx, lp, tp, s.rows, gamma, alpha, reduction);
    EXPECT_NEAR(packed, loss_of(ctx, ld, td, dense, gamma, alpha, reduction), 1e-13 * packed);
    const D gp = grad_of(ctx, lp, tp, s.rows, gamma, alpha, reduction);
    const D gd = test::fold(grad_of(ctx, ld, td, dense, gamma, alpha, reduction), s.rows, C);
    // The same terms, a padding row's once times its weight instead of P - n times: float64
    // rounding, far below one missing or misweighted term.
    double scale = 0.0;
    for (double v : gd) scale = std::max(scale, std::abs(v));
    expect_near_all("dlogits", gp, gd, 1e-13 * scale);
    // Every padding row has a gradient (its points are the max of class 0 or count in the mean).
    for (std::int64_t b = 0; b < B; ++b) {
      if (s.rows.host_real[b] < P) {
        EXPECT_GT(std::abs(gp[std::size_t((s.rows.host_offsets[b] + s.rows.host_real[b]) * C)]), 1e-6) << "jet " << b;
      }
    }
  }
}

// The tie rule on its own: one jet of P = 5, two real points (targets 1 and 2) and three padded
// points (target 0, the only points of class 0): in max_points the three padded points tie for class
// 0's max. Dense, each gets a third of that max's gradient g; packed, the padding row gets g.
// g = dFL/dl of the padded point / (C B), by central differences of the definition.
TEST(PointFocalLoss, TiedPointsShareTheGradientOfTheMax) {
  Context ctx(test::cpu_options());
  const std::int64_t P = 5, C = 3;
  const D real = {0.3, -1.2, 0.8, 1.1, 0.2, -0.4}, pad = {0.5, -0.25, 1.5};
  const double gamma = 2.0, alpha = 1.0;
  D g(C);
  for (std::int64_t c = 0; c < C; ++c) {
    D up = pad, down = pad;
    up[c] += 1e-6;
    down[c] -= 1e-6;
    g[c] = (reference_fl(up.data(), C, 0, gamma, alpha) - reference_fl(down.data(), C, 0, gamma, alpha)) / 2e-6 /
           double(C * 1);
  }
  D dense_logits = real;
  for (int k = 0; k < 3; ++k) dense_logits.insert(dense_logits.end(), pad.begin(), pad.end());
  const D dense_grad = grad_of(ctx, f64(ctx, {P, C}, dense_logits), i32(ctx, {1, 2, 0, 0, 0}),
                               dense_jet_rows(ctx, 1, P, DType::F64, Device::cpu()), gamma, alpha, kMaxPoints);
  D packed_logits = real;
  packed_logits.insert(packed_logits.end(), pad.begin(), pad.end());
  const D packed_grad = grad_of(ctx, f64(ctx, {3, C}, packed_logits), i32(ctx, {1, 2, 0}),
                                make_jet_rows(ctx, {2}, P, DType::F64, Device::cpu()), gamma, alpha, kMaxPoints);
  for (std::int64_t c = 0; c < C; ++c) {
    for (std::int64_t p = 2; p < P; ++p)
      EXPECT_NEAR(dense_grad[std::size_t(p * C + c)], g[c] / 3, 1e-9) << "dense point " << p << " class " << c;
    EXPECT_NEAR(packed_grad[std::size_t(2 * C + c)], g[c], 1e-9) << "padding row, class " << c;
    EXPECT_NEAR(packed_grad[std::size_t(2 * C + c)],
                dense_grad[std::size_t(2 * C + c)] + dense_grad[std::size_t(3 * C + c)] +
                    dense_grad[std::size_t(4 * C + c)],
                1e-16);
    // The real points are each the only one of their class: the whole gradient of their max.
    EXPECT_EQ(packed_grad[std::size_t(c)], dense_grad[std::size_t(c)]);
    EXPECT_EQ(packed_grad[std::size_t(C + c)], dense_grad[std::size_t(C + c)]);
  }
  // Two tied real rows (a copy of the first) each take half of it.
  D twins = {0.3, -1.2, 0.8, 0.3, -1.2, 0.8, 0.2, 0.1, 0.0};
  const D twin_grad = grad_of(ctx, f64(ctx, {3, C}, twins), i32(ctx, {1, 1, 0}),
                              make_jet_rows(ctx, {3}, 3, DType::F64, Device::cpu()), gamma, alpha, kMaxPoints);
  const D single_grad = grad_of(ctx, f64(ctx, {3, C}, twins), i32(ctx, {1, 2, 0}),
                                make_jet_rows(ctx, {3}, 3, DType::F64, Device::cpu()), gamma, alpha, kMaxPoints);
  for (std::int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(twin_grad[std::size_t(c)], single_grad[std::size_t(c)] / 2, 1e-16) << "class " << c;
    EXPECT_EQ(twin_grad[std::size_t(c)], twin_grad[std::size_t(C + c)]) << "class " << c;
    EXPECT_GT(std::abs(twin_grad[std::size_t(c)]), 1e-3);
  }
}

// Only the max of each (jet, class) receives a gradient: a point below its class's max gets none.
TEST(PointFocalLoss, MaxPointsGradientOnlyAtTheMaxima) {
  Context ctx(test::cpu_options());
  // One jet of 3 real points, all class 1: row 1 has the lowest p_t, so the largest FL.
  const JetRows rows = make_jet_rows(ctx, {3}, 3, DType::F64, Device::cpu());
  const D g = grad_of(ctx, f64(ctx, {3, 2}, {0, 1, 1, -1, 0, 2}), i32(ctx, {1, 1, 1}), rows, 2.0, 1.0, kMaxPoints);
  EXPECT_EQ(g[0], 0.0);
  EXPECT_EQ(g[1], 0.0);
  EXPECT_EQ(g[4], 0.0);
  EXPECT_EQ(g[5], 0.0);
  EXPECT_LT(g[3], 0.0);  // raising the target logit lowers the loss
  EXPECT_NEAR(g[2] + g[3], 0.0, 1e-15);
}

void check_gradient(PointFocalReduction reduction, double gamma, double alpha) {
  SCOPED_TRACE(std::string(point_focal_reduction_name(reduction)) + " gamma " + std::to_string(gamma));
  Context ctx(test::cpu_options(44));
  const Batch s = make_batch(ctx);
  const Tensor target = i32(ctx, s.target);
  // Random logits: no two rows of a jet and class tie (the padding row is one input, all its points
  // moving together, so it is one candidate in the max).
  auto report = test::gradcheck(ctx, {f64(ctx, {s.rows.rows, Batch::C}, s.logits)}, {true},
                                [&](Tape& t, const std::vector<Var>& v) {
                                  return point_focal_loss(t, v[0], target, s.rows, gamma, alpha, reduction);
                                });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(PointFocalLoss, GradCheckPerPoint) {
  check_gradient(kPerPoint, 2.0, 1.0);
  check_gradient(kPerPoint, 4.0, 10.0);
}

TEST(PointFocalLoss, GradCheckMaxPoints) {
  check_gradient(kMaxPoints, 2.0, 1.0);
  check_gradient(kMaxPoints, 4.0, 10.0);
}

TEST(PointFocalLoss, BackwardAccumulatesAndScalesWithTheUpstreamGradient) {
  Context ctx(test::cpu_options(45));
  const Batch s = make_batch(ctx);
  const Tensor logits = f64(ctx, {s.rows.rows, Batch::C}, s.logits), target = i32(ctx, s.target);
  for (PointFocalReduction reduction : {kPerPoint, kMaxPoints}) {
    SCOPED_TRACE(point_focal_reduction_name(reduction));
    const D once = grad_of(ctx, logits, target, s.rows, 2.0, 1.0, reduction);
    Tensor acc = ctx.from_vector<double>(logits.shape(), D(std::size_t(logits.numel()), 1.0));
    point_focal_loss_backward(ctx, logits, target, s.rows, 2.0, 1.0, reduction, ctx.from_vector<double>({1}, {3.0}),
                              acc);
    const D b = test::values(ctx, acc);
    for (std::size_t i = 0; i < once.size(); ++i) EXPECT_NEAR(b[i], 1.0 + 3.0 * once[i], 1e-15) << "element " << i;
    // The differentiable form gives the same gradient.
    Tape tape(ctx);
    Var lv = make_var(logits, true);
    Var loss = point_focal_loss(tape, lv, target, s.rows, 2.0, 1.0, reduction);
    EXPECT_EQ(test::values(ctx, loss->value)[0], loss_of(ctx, logits, target, s.rows, 2.0, 1.0, reduction));
    tape.backward(loss);
    EXPECT_EQ(test::values(ctx, lv->grad), once);
  }
}

TEST(PointFocalLoss, ResultsAreIdenticalForOneAndThreeThreads) {
  for (PointFocalReduction reduction : {kPerPoint, kMaxPoints}) {
    const std::function<std::vector<float>(Context&)> run = [reduction](Context& ctx) {
      std::vector<std::int32_t> real(300);
      for (std::size_t b = 0; b < real.size(); ++b) real[b] = static_cast<std::int32_t>((b * 7) % 31);
      const JetRows rows = make_jet_rows(ctx, real, 30, DType::F32, Device::cpu());
      std::vector<std::int32_t> t(static_cast<std::size_t>(rows.rows));
      for (std::size_t r = 0; r < t.size(); ++r) t[r] = static_cast<std::int32_t>((r * 5) % 8);
      Tape tape(ctx);
      Var logits = make_var(test::random_tensor(ctx, {rows.rows, 8}, DType::F32, -4, 4), true);
      Var loss = point_focal_loss(tape, logits, ctx.from_vector<std::int32_t>({rows.rows}, t), rows, 2.0, 1.0,
                                  reduction);
      tape.backward(loss);
      return test::float_values(ctx, {logits->grad, loss->value});
    };
    EXPECT_EQ(test::with_threads(1, run), test::with_threads(3, run)) << point_focal_reduction_name(reduction);
  }
}

TEST(PointFocalLoss, RejectsTargetsOutsideTheClassRangeNamingTheRow) {
  Context ctx(test::cpu_options());
  const JetRows rows = make_jet_rows(ctx, {2, 1}, 3, DType::F32, Device::cpu());  // 5 rows
  const Tensor logits = ctx.zeros({5, 4});
  for (PointFocalReduction reduction : {kPerPoint, kMaxPoints})
    for (std::int32_t bad : {-1, 4}) {
      const Tensor target = ctx.from_vector<std::int32_t>({5}, {0, 3, 1, bad, 0});
      std::string msg =
          test::error_of([&] { point_focal_loss_forward(ctx, logits, target, rows, 2.0, 1.0, reduction, ctx.empty({1})); });
      EXPECT_NE(msg.find("point_focal_loss: target of row 3 is " + std::to_string(bad) + ", outside [0, 4)"),
                std::string::npos)
          << msg;
      msg = test::error_of([&] {
        point_focal_loss_backward(ctx, logits, target, rows, 2.0, 1.0, reduction, ctx.zeros({1}), ctx.zeros({5, 4}));
      });
      EXPECT_NE(msg.find("point_focal_loss backward: target of row 3 is " + std::to_string(bad)), std::string::npos)
          << msg;
      Tape tape(ctx);
      EXPECT_THROW(point_focal_loss(tape, make_var(logits, true), target, rows, 2.0, 1.0, reduction), Error);
    }
}

TEST(PointFocalLoss, RejectsBadShapesDtypesAndParameters) {
  Context ctx(test::cpu_options());
  const JetRows rows = make_jet_rows(ctx, {2, 1}, 3, DType::F32, Device::cpu());
  const Tensor logits = ctx.zeros({5, 4}), target = ctx.from_vector<std::int32_t>({5}, {0, 1, 2, 3, 0});
  const Tensor loss = ctx.empty({1});
  std::string msg = test::error_of([&] {
    point_focal_loss_forward(ctx, logits, ctx.from_vector<std::int32_t>({4}, {0, 1, 2, 3}), rows, 2.0, 1.0, kPerPoint,
                             loss);
  });
  EXPECT_NE(msg.find("target int32[4]@cpu does not match logits float32[5,4]@cpu"), std::string::npos) << msg;
  EXPECT_THROW(point_focal_loss_forward(ctx, logits, ctx.zeros({5}), rows, 2.0, 1.0, kPerPoint, loss), Error);
  msg = test::error_of([&] { point_focal_loss_forward(ctx, ctx.zeros({4, 4}), target, rows, 2.0, 1.0, kPerPoint, loss); });
  EXPECT_NE(msg.find("does not have the R = 5 rows"), std::string::npos) << msg;
  EXPECT_THROW(point_focal_loss_forward(ctx, logits, target, rows, 2.0, 1.0, kPerPoint, ctx.empty({2})), Error);
  EXPECT_THROW(point_focal_loss_forward(ctx, logits, target, rows, 2.0, 1.0, kPerPoint, ctx.empty({1}, DType::F64)),
               Error);
  // Row weights of another dtype than the logits.
  EXPECT_THROW(point_focal_loss_forward(ctx, ctx.zeros({5, 4}, DType::F64), target, rows, 2.0, 1.0, kPerPoint,
                                        ctx.empty({1}, DType::F64)),
               Error);
  msg = test::error_of([&] { point_focal_loss_forward(ctx, logits, target, rows, -1.0, 1.0, kPerPoint, loss); });
  EXPECT_NE(msg.find("gamma must be finite and >= 0, got -1"), std::string::npos) << msg;
  msg = test::error_of([&] { point_focal_loss_forward(ctx, logits, target, rows, 2.0, NAN, kPerPoint, loss); });
  EXPECT_NE(msg.find("alpha must be finite"), std::string::npos) << msg;
  EXPECT_THROW(point_focal_loss_backward(ctx, logits, target, rows, 2.0, 1.0, kMaxPoints, ctx.zeros({1}),
                                         ctx.zeros({5, 3})),
               Error);
  EXPECT_THROW(point_focal_loss_backward(ctx, logits, target, rows, 2.0, 1.0, kMaxPoints, ctx.zeros({1}, DType::F64),
                                         ctx.zeros({5, 4})),
               Error);
}

TEST(PointFocalLoss, ResolvesTheReductionByName) {
  EXPECT_EQ(resolve_point_focal_reduction("per_point"), kPerPoint);
  EXPECT_EQ(resolve_point_focal_reduction("max_points"), kMaxPoints);
  EXPECT_STREQ(point_focal_reduction_name(kPerPoint), "per_point");
  EXPECT_STREQ(point_focal_reduction_name(kMaxPoints), "max_points");
  for (const char* bad : {"max", "", "Per_Point", "mean"}) {
    const std::string msg = test::error_of([&] { resolve_point_focal_reduction(bad); });
    EXPECT_NE(msg.find("must be \"per_point\" or \"max_points\", got \"" + std::string(bad) + "\""), std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace ucluster
