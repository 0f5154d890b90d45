// Reproducibility: the same seed and inputs give the same bits. Two identical training steps
// (forward, backward, Adam, BN update) from the same state give bit-identical losses, parameters,
// moments and BN statistics, on the CPU (whatever the thread count) and on the GPU (skipped,
// saying so, without one).
#include <omp.h>

#include "kernels/adam.h"
#include "model/losses.h"
#include "model/ucluster_model.h"
#include "tests/test_support.h"

namespace ucluster {
namespace {

struct StepResult {
  std::vector<float> losses, params, buffers, m, v;
};

// Jets with 5..60 real particles and zero padding, like the preprocessed data.
Tensor jets(Context& ctx, std::int64_t batch, Rng& rng) { return test::random_jets(ctx, batch, rng, 5, 56); }

StepResult two_steps(const std::string& device) {
  ContextOptions o = test::cpu_options(11);
  o.device = device;
  Context ctx(o);
  model::UClusterModel model;
  ParamStore store;
  model.declare(store);
  store.finalize(ctx, ctx.device());
  Rng rng(5);
  model.initialise(ctx, store, rng);
  // Centroids near the origin so that the clustering loss contributes.
  ctx.copy(store.param("mu"), ctx.from_vector<float>({3, 3}, {0.1f, 0.2f, 0.3f, 0.3f, 0.1f, 0.2f, 0.2f, 0.3f, 0.1f},
                                                     Device::cpu()));
  const std::int64_t batch = 24;
  Tensor data = ctx.to(jets(ctx, batch, rng), ctx.device());
  std::vector<std::int32_t> t(batch);
  for (auto& x : t) x = static_cast<std::int32_t>(rng.below(19));
  Tensor targets = ctx.from_vector<std::int32_t>({batch}, t);
  Tensor m = ctx.zeros_like(store.flat_params()), v = ctx.zeros_like(store.flat_params());
  StepResult r;
  for (int step = 1; step <= 2; ++step) {
    Tape tape(ctx);
    auto out = model.forward(tape, store, data, model::BatchNormMode::Train);
    auto losses = model::compute_losses(tape, out, param_var(store, "mu"), targets, 10.0, {}, true);
    store.zero_grad(ctx);
    tape.backward(losses.total);
    adam_update(ctx, store.flat_params(), store.flat_grads(), m, v, adam_step_size(1e-3, kAdamBeta1, kAdamBeta2, step),
                kAdamBeta1, kAdamBeta2, kAdamEpsilon);
    model.update_moving_statistics(ctx, store, out, 0.5);
    r.losses.push_back(ctx.to_vector<float>(losses.total->value).at(0));
  }
  r.params = ctx.to_vector<float>(store.flat_params());
  r.buffers = ctx.to_vector<float>(store.flat_buffers());
  r.m = ctx.to_vector<float>(m);
  r.v = ctx.to_vector<float>(v);
  return r;
}

void expect_identical(const StepResult& a, const StepResult& b) {
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_TRUE(a.params == b.params) << "parameters differ";
  EXPECT_TRUE(a.buffers == b.buffers) << "BN statistics differ";
  EXPECT_TRUE(a.m == b.m && a.v == b.v) << "Adam moments differ";
}

TEST(Determinism, TwoTrainingStepsAreBitIdenticalOnTheCpu) {
  const StepResult a = two_steps("cpu"), b = two_steps("cpu");
  ASSERT_EQ(a.losses.size(), 2u);
  EXPECT_TRUE(std::isfinite(a.losses[0]) && a.losses[0] > 0);
  EXPECT_NE(a.losses[0], a.losses[1]);  // the step changed something
  expect_identical(a, b);
}

TEST(Determinism, CpuResultsDoNotDependOnTheThreadCount) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const StepResult one = two_steps("cpu");
  omp_set_num_threads(2);
  const StepResult two = two_steps("cpu");
  omp_set_num_threads(saved);
  expect_identical(one, two);
}

TEST(Determinism, TwoTrainingStepsAreBitIdenticalOnTheGpu) {
  std::string why;
  if (cuda_runtime::device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  const StepResult a = two_steps("cuda"), b = two_steps("cuda");
  expect_identical(a, b);
  // And the GPU agrees with the CPU to float32 rounding (same tolerance as the golden forward).
  const StepResult cpu = two_steps("cpu");
  EXPECT_NEAR(a.losses[0], cpu.losses[0], 2e-5 * std::abs(cpu.losses[0]));
}

}  // namespace
}  // namespace ucluster
