#include <cmath>

#include "kernels/activation.h"
#include "kernels/attention.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

TEST(AttentionSoftmax, ForwardMatchesHandComputedValues) {
  Context ctx(test::cpu_options());
  // z = a + c = [0.5, -1, 1.5]; LeakyReLU_0.2 -> [0.5, -0.2, 1.5]; softmax of that.
  Tensor a = ctx.from_vector<double>({1, 1}, {0.5});
  Tensor c = ctx.from_vector<double>({1, 1, 3}, {0, -1.5, 1});
  Tensor alpha = ctx.empty({1, 1, 3}, DType::F64);
  attention_softmax_forward(ctx, a, c, alpha, kAttentionLeakySlope);
  const double e0 = std::exp(0.5), e1 = std::exp(-0.2), e2 = std::exp(1.5), s = e0 + e1 + e2;
  const auto got = ctx.to_vector<double>(alpha);
  EXPECT_NEAR(got[0], e0 / s, 1e-15);
  EXPECT_NEAR(got[1], e1 / s, 1e-15);
  EXPECT_NEAR(got[2], e2 / s, 1e-15);
}

TEST(AttentionSoftmax, RowsSumToOneAndLargeInputsStayFinite) {
  Context ctx(test::cpu_options());
  for (DType dtype : {DType::F32, DType::F64}) {
    Tensor a = random_tensor(ctx, {3, 4}, dtype, -2, 2);
    Tensor c = random_tensor(ctx, {3, 4, 10}, dtype, -3, 3);
    Tensor alpha = ctx.empty({3, 4, 10}, dtype);
    attention_softmax_forward(ctx, a, c, alpha, kAttentionLeakySlope);
    const auto v = test::values(ctx, alpha);
    for (int r = 0; r < 12; ++r) {
      double s = 0;
      for (int j = 0; j < 10; ++j) s += v[r * 10 + j];
      EXPECT_NEAR(s, 1.0, dtype == DType::F32 ? 1e-6 : 1e-14) << "row " << r;
    }
    // Coefficients ~1e4: without the max subtraction exp overflows (NaN = inf / inf).
    Tensor big_a = ctx.zeros({1, 1}, dtype);
    Tensor big_c = ctx.empty({1, 1, 3}, dtype);
    Tensor out = ctx.empty({1, 1, 3}, dtype);
    if (dtype == DType::F32) std::copy_n(std::vector<float>{1e4f, 1e4f + 1, -1e4f}.begin(), 3, big_c.data<float>());
    else std::copy_n(std::vector<double>{1e4, 1e4 + 1, -1e4}.begin(), 3, big_c.data<double>());
    attention_softmax_forward(ctx, big_a, big_c, out, kAttentionLeakySlope);
    const auto o = test::values(ctx, out);
    const double tol = dtype == DType::F32 ? 1e-6 : 1e-14;
    EXPECT_NEAR(o[0], 1 / (1 + std::exp(1.0)), tol);
    EXPECT_NEAR(o[1], 1 / (1 + std::exp(-1.0)), tol);
    EXPECT_EQ(o[2], 0.0);
  }
}

TEST(AttentionSoftmax, GradCheck) {
  Context ctx(test::cpu_options());
  // Values on both sides of 0 exercise both LeakyReLU branches.
  auto report = gradcheck(ctx, {random_tensor(ctx, {2, 3}), random_tensor(ctx, {2, 3, 4})}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return attention_softmax(t, v[0], v[1], 0.2); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(AttentionSoftmax, GradCheckWithSingletonChannelShapes) {
  Context ctx(test::cpu_options());
  // a [B, N, 1] and c [B, N, k, 1], as the A -> 1 dense layers produce them.
  auto report = gradcheck(ctx, {random_tensor(ctx, {2, 3, 1}), random_tensor(ctx, {2, 3, 5, 1})}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return attention_softmax(t, v[0], v[1], 0.2); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(AttentionSoftmax, RejectsBadShapes) {
  Context ctx(test::cpu_options());
  Tensor alpha = ctx.zeros({2, 3, 4});
  try {
    attention_softmax_forward(ctx, ctx.zeros({2, 4}), ctx.zeros({2, 3, 4}), alpha, 0.2);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,4]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[2,3,4]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(attention_softmax_forward(ctx, ctx.zeros({2, 3}), ctx.zeros({2, 3, 4, 2}), alpha, 0.2), Error);
  EXPECT_THROW(attention_softmax_forward(ctx, ctx.zeros({2, 3}), ctx.zeros({2, 3, 0}), ctx.zeros({2, 3, 0}), 0.2),
               Error);
  EXPECT_THROW(attention_softmax_forward(ctx, ctx.zeros({2, 3}), ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 5}), 0.2),
               Error);
  EXPECT_THROW(attention_softmax_forward(ctx, ctx.zeros({2, 3}, DType::F64), ctx.zeros({2, 3, 4}), alpha, 0.2),
               Error);
  EXPECT_THROW(attention_softmax_backward(ctx, ctx.zeros({2, 3}), ctx.zeros({2, 3, 4}), alpha, ctx.zeros({2, 3, 3}),
                                          ctx.zeros({2, 3}), ctx.zeros({2, 3, 4}), 0.2),
               Error);
}

TEST(AttentionAggregate, ForwardMatchesHandComputedValues) {
  Context ctx(test::cpu_options());
  // One point, k = 2, A = 3: o = 0.25 * [1,2,3] + 0.75 * [4,0,-4] + [1,1,1].
  Tensor alpha = ctx.from_vector<float>({1, 1, 2}, {0.25f, 0.75f});
  Tensor y = ctx.from_vector<float>({1, 1, 2, 3}, {1, 2, 3, 4, 0, -4});
  Tensor o = ctx.empty({1, 1, 3});
  attention_aggregate_forward(ctx, alpha, y, ctx.from_vector<float>({3}, {1, 1, 1}), o);
  EXPECT_EQ(ctx.to_vector<float>(o), (std::vector<float>{4.25f, 1.5f, -1.25f}));
  attention_aggregate_forward(ctx, alpha, y, Tensor(), o);
  EXPECT_EQ(ctx.to_vector<float>(o), (std::vector<float>{3.25f, 0.5f, -2.25f}));
}

TEST(AttentionAggregate, GradCheckWithBias) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(
      ctx, {random_tensor(ctx, {2, 3, 4}), random_tensor(ctx, {2, 3, 4, 5}), random_tensor(ctx, {5})},
      {true, true, true}, [](Tape& t, const std::vector<Var>& v) { return attention_aggregate(t, v[0], v[1], v[2]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(AttentionAggregate, GradCheckWithoutBias) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {1, 4, 3}), random_tensor(ctx, {1, 4, 3, 2})}, {true, true},
                          [](Tape& t, const std::vector<Var>& v) { return attention_aggregate(t, v[0], v[1], nullptr); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(AttentionAggregate, RejectsBadShapes) {
  Context ctx(test::cpu_options());
  Tensor o = ctx.zeros({2, 3, 5});
  try {
    attention_aggregate_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 3, 5}), Tensor(), o);
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,3,3,5]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[2,3,4]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(attention_aggregate_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 4, 5}), ctx.zeros({4}), o),
               Error);
  EXPECT_THROW(attention_aggregate_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 4, 5}), Tensor(),
                                           ctx.zeros({2, 3, 4})),
               Error);
  EXPECT_THROW(attention_aggregate_forward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 4, 5}, DType::F64), Tensor(),
                                           o),
               Error);
  EXPECT_THROW(attention_aggregate_backward(ctx, ctx.zeros({2, 3, 4}), ctx.zeros({2, 3, 4, 5}), ctx.zeros({2, 3, 4}),
                                            Tensor(), Tensor(), Tensor()),
               Error);
}

TEST(NeighbourMax, ForwardAndTiedGradientSplitEquallyAsTensorFlow) {
  Context ctx(test::cpu_options());
  // One point, k = 4, A = 3. Channel 0: two tied maxima (3, 3); channel 1: three (5, 5, 5);
  // channel 2: a unique maximum.
  Tensor y = ctx.from_vector<double>({1, 1, 4, 3}, {3, 5, 1,  //
                                                    1, 5, 2,  //
                                                    3, 0, 7,  //
                                                    2, 5, -1});
  Tape tape(ctx);
  Var yv = make_var(y, true);
  Var g = neighbour_max(tape, yv);
  EXPECT_EQ(ctx.to_vector<double>(g->value), (std::vector<double>{3, 5, 7}));
  tape.backward(g, ctx.from_vector<double>({1, 1, 3}, {1, 1, 1}));
  EXPECT_EQ(ctx.to_vector<double>(yv->grad),
            (std::vector<double>{0.5, 1.0 / 3, 0, 0, 1.0 / 3, 0, 0.5, 0, 1, 0, 1.0 / 3, 0}));
}

TEST(NeighbourMax, TiedPaddedNeighboursInFloat32) {
  Context ctx(test::cpu_options());
  // Two identical padded neighbours give exactly equal edge features: gradient 1/2 each.
  Tensor y = ctx.from_vector<float>({1, 1, 3, 1}, {0.75f, 0.75f, 0.25f});
  Tensor g = ctx.empty({1, 1, 1});
  neighbour_max_forward(ctx, y, g);
  Tensor dy = ctx.zeros({1, 1, 3, 1});
  neighbour_max_backward(ctx, y, g, ctx.from_vector<float>({1, 1, 1}, {3.0f}), dy);
  EXPECT_EQ(ctx.to_vector<float>(dy), (std::vector<float>{1.5f, 1.5f, 0}));
}

TEST(NeighbourMax, GradCheckWithoutTies) {
  Context ctx(test::cpu_options());
  // Continuous random values: no ties, the max is differentiable at the test point.
  auto report = gradcheck(ctx, {random_tensor(ctx, {2, 3, 4, 5})}, {true},
                          [](Tape& t, const std::vector<Var>& v) { return neighbour_max(t, v[0]); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(NeighbourMax, RejectsBadShapes) {
  Context ctx(test::cpu_options());
  try {
    neighbour_max_forward(ctx, ctx.zeros({2, 3, 4, 5}), ctx.zeros({2, 3, 4}));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2,3,5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(neighbour_max_forward(ctx, ctx.zeros({2, 3, 5}), ctx.zeros({2, 3, 5})), Error);
  EXPECT_THROW(neighbour_max_forward(ctx, ctx.zeros({2, 3, 0, 5}), ctx.zeros({2, 3, 5})), Error);
  EXPECT_THROW(neighbour_max_backward(ctx, ctx.zeros({2, 3, 4, 5}), ctx.zeros({2, 3, 5}), ctx.zeros({2, 3, 5}),
                                      ctx.zeros({2, 3, 4, 4})),
               Error);
}

}  // namespace
}  // namespace ucluster
