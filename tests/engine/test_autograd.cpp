#include "engine/autograd.h"
#include "kernels/activation.h"
#include "kernels/dense.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

TEST(Autograd, VarUsedTwiceAccumulatesBothContributions) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  // y = x W1 + x W2 summed through a second dense: dL/dx = W1 + W2 (as rows) for L = y.
  Var x = make_var(ctx.from_vector<double>({1, 2}, {1, 1}), true);
  Var w1 = make_var(ctx.from_vector<double>({2, 1}, {2, 3}));
  Var w2 = make_var(ctx.from_vector<double>({2, 1}, {5, 7}));
  Var a = dense(tape, x, w1, nullptr);
  Var b = dense(tape, x, w2, nullptr);
  EXPECT_EQ(tape.size(), 2u);
  tape.backward(a, ctx.from_vector<double>({1, 1}, {1}));
  EXPECT_EQ(tape.size(), 0u);  // every step released once it ran
  EXPECT_EQ(ctx.to_vector<double>(x->grad), (std::vector<double>{2, 3}));
  Tape tape2(ctx);
  Var c = dense(tape2, x, w2, nullptr);
  tape2.backward(c, ctx.from_vector<double>({1, 1}, {1}));
  EXPECT_EQ(ctx.to_vector<double>(x->grad), (std::vector<double>{7, 10}));
}

// The backward releases each step once it has run: an intermediate Var that only the tape held is
// freed during the backward, and a second backward of the same tape is refused.
TEST(Autograd, BackwardReleasesStepsAndRunsOnce) {
  Context ctx(test::cpu_options());
  Tape tape(ctx);
  Var x = make_var(ctx.from_vector<double>({1, 2}, {1, -2}), true);
  Var w = make_var(ctx.from_vector<double>({2, 1}, {3, 4}));
  std::weak_ptr<VarNode> hidden;
  Var y;
  {
    Var h = relu(tape, x);
    hidden = h;
    y = dense(tape, h, w, nullptr);
  }
  EXPECT_FALSE(hidden.expired());  // held by the recorded dense step
  tape.backward(y, ctx.from_vector<double>({1, 1}, {1}));
  EXPECT_TRUE(hidden.expired());
  EXPECT_EQ(ctx.to_vector<double>(x->grad), (std::vector<double>{3, 0}));
  const std::string msg = test::error_of([&] { tape.backward(y, ctx.from_vector<double>({1, 1}, {1})); });
  EXPECT_NE(msg.find("already been backpropagated"), std::string::npos) << msg;
}

TEST(Autograd, ParameterGradientsLandInTheFlatBuffer) {
  Context ctx(test::cpu_options());
  ParamStore store(DType::F64);
  store.add_param("w", {2, 1});
  store.finalize(ctx, Device::cpu());
  store.param("w").data<double>()[0] = 1;
  store.param("w").data<double>()[1] = -1;
  Tape tape(ctx);
  Var x = make_var(ctx.from_vector<double>({3, 2}, {1, 2, 3, 4, 5, 6}));
  Var y = relu(tape, dense(tape, x, param_var(store, "w"), nullptr));  // x0 - x1 < 0 everywhere: all zero
  tape.backward(y, ctx.from_vector<double>({3, 1}, {1, 1, 1}));
  EXPECT_EQ(ctx.to_vector<double>(store.flat_grads()), (std::vector<double>{0, 0}));
  store.param("w").data<double>()[1] = 0;
  Tape tape2(ctx);
  Var y2 = dense(tape2, x, param_var(store, "w"), nullptr);
  tape2.backward(y2, ctx.from_vector<double>({3, 1}, {1, 1, 1}));
  EXPECT_EQ(ctx.to_vector<double>(store.flat_grads()), (std::vector<double>{9, 12}));
}

TEST(Autograd, NoRecordingWhenGradientsAreDisabledOrNotNeeded) {
  Context ctx(test::cpu_options());
  Tape off(ctx, false);
  Var x = make_var(ctx.zeros({2, 2}, DType::F64), true);
  Var y = relu(off, x);
  EXPECT_EQ(off.size(), 0u);
  EXPECT_FALSE(y->requires_grad);
  Tape on(ctx);
  relu(on, make_var(ctx.zeros({2}, DType::F64)));
  EXPECT_EQ(on.size(), 0u);
  EXPECT_THROW(on.backward(y), Error);
}

}  // namespace
}  // namespace ucluster
