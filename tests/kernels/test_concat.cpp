#include "kernels/concat.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

using test::gradcheck;
using test::random_tensor;

TEST(Concat, ForwardOfThreeInputsAlongChannels) {
  Context ctx(test::cpu_options());
  Tensor a = ctx.from_vector<float>({2, 1}, {1, 2});
  Tensor b = ctx.from_vector<float>({2, 2}, {10, 11, 20, 21});
  Tensor c = ctx.from_vector<float>({2, 3}, {100, 101, 102, 200, 201, 202});
  Tensor y = ctx.empty({2, 6});
  concat_forward(ctx, {a, b, c}, y);
  EXPECT_EQ(ctx.to_vector<float>(y), (std::vector<float>{1, 10, 11, 100, 101, 102, 2, 20, 21, 200, 201, 202}));
}

TEST(Concat, BackwardSplitsAndAccumulates) {
  Context ctx(test::cpu_options());
  Tensor a = ctx.zeros({1, 2, 1}, DType::F64), b = ctx.zeros({1, 2, 2}, DType::F64);
  Tensor dy = ctx.from_vector<double>({1, 2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor da = ctx.from_vector<double>({1, 2, 1}, {10, 20});
  Tensor db = ctx.zeros({1, 2, 2}, DType::F64);
  concat_backward(ctx, {a, b}, dy, {da, db});
  EXPECT_EQ(ctx.to_vector<double>(da), (std::vector<double>{11, 24}));
  EXPECT_EQ(ctx.to_vector<double>(db), (std::vector<double>{2, 3, 5, 6}));
  // An undefined gradient is skipped.
  concat_backward(ctx, {a, b}, dy, {Tensor(), db});
  EXPECT_EQ(ctx.to_vector<double>(db), (std::vector<double>{4, 6, 10, 12}));
}

TEST(Concat, GradCheckThreeRank3Inputs) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx,
                          {random_tensor(ctx, {2, 3, 2}), random_tensor(ctx, {2, 3, 1}), random_tensor(ctx, {2, 3, 4})},
                          {true, true, true},
                          [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1], v[2]}); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Concat, GradCheckWithAConstantAndARepeatedInput) {
  Context ctx(test::cpu_options());
  auto report = gradcheck(ctx, {random_tensor(ctx, {3, 2}), random_tensor(ctx, {3, 3})}, {true, false},
                          [](Tape& t, const std::vector<Var>& v) { return concat(t, {v[0], v[1], v[0]}); });
  EXPECT_LT(report.max_error, test::kGradCheckTolerance) << report.worst;
}

TEST(Concat, RejectsMismatchedInputsWithAClearMessage) {
  Context ctx(test::cpu_options());
  Tensor a = ctx.zeros({2, 3, 1}), b = ctx.zeros({2, 4, 2});
  try {
    concat_forward(ctx, {a, b}, ctx.zeros({2, 3, 3}));
    FAIL() << "expected an exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("float32[2,3,1]@cpu"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("float32[2,4,2]@cpu"), std::string::npos) << e.what();
  }
  EXPECT_THROW(concat_forward(ctx, {a, ctx.zeros({6, 2})}, ctx.zeros({2, 3, 3})), Error);           // rank
  EXPECT_THROW(concat_forward(ctx, {a, ctx.zeros({2, 3, 2}, DType::F64)}, ctx.zeros({2, 3, 3})), Error);  // dtype
  EXPECT_THROW(concat_forward(ctx, {a, ctx.zeros({2, 3, 2})}, ctx.zeros({2, 3, 4})), Error);        // output
  EXPECT_THROW(concat_forward(ctx, {}, ctx.zeros({2, 3, 4})), Error);
  EXPECT_THROW(concat_backward(ctx, {a, a}, ctx.zeros({2, 3, 2}), {Tensor()}), Error);
  EXPECT_THROW(concat_backward(ctx, {a, a}, ctx.zeros({2, 3, 2}), {ctx.zeros({2, 3, 2}), Tensor()}), Error);
  Tape tape(ctx);
  EXPECT_THROW(concat(tape, {make_var(a), make_var(b)}), Error);
}

}  // namespace
}  // namespace ucluster
