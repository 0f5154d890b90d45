// Reproducibility: the same seed and inputs give the same bits. Two identical training steps
// (train/step.h: forward, backward, Adam, BN update) from the same state give bit-identical
// losses, parameters, moments and BN statistics, on the CPU (whatever the thread count) and on the
// GPU (skipped, saying so, without one), on both edge paths of the GAP blocks.
#include <omp.h>

#include "model/ucluster_model.h"
#include "tests/test_support.h"
#include "train/step.h"

namespace ucluster {
namespace model {
// Test names and messages show the edge path by name.
inline void PrintTo(EdgePath path, std::ostream* os) { *os << edge_path_name(path); }
}  // namespace model

namespace {

struct StepResult {
  std::vector<float> losses, params, buffers, m, v;
};

// Jets with 5..60 real particles and zero padding, like the preprocessed data.
Tensor jets(Context& ctx, std::int64_t batch, Rng& rng) { return test::random_jets(ctx, batch, rng, 5, 56); }

StepResult two_steps(const std::string& device, model::EdgePath edge_path) {
  ContextOptions o = test::cpu_options(11);
  o.device = device;
  Context ctx(o);
  const model::UClusterModel model(model::ModelDims{}, edge_path);
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
  AdamOptimizer optimizer(ctx, store);
  StepSettings settings;
  settings.bn_decay = 0.5;
  StepResult r;
  for (int step = 1; step <= 2; ++step) {
    const model::Losses losses = train_step(ctx, model, store, optimizer, data, targets, settings);
    r.losses.push_back(ctx.to_vector<float>(losses.total->value).at(0));
  }
  r.params = ctx.to_vector<float>(store.flat_params());
  r.buffers = ctx.to_vector<float>(store.flat_buffers());
  r.m = ctx.to_vector<float>(optimizer.m());
  r.v = ctx.to_vector<float>(optimizer.v());
  return r;
}

void expect_identical(const StepResult& a, const StepResult& b) {
  EXPECT_EQ(a.losses, b.losses);
  EXPECT_TRUE(a.params == b.params) << "parameters differ";
  EXPECT_TRUE(a.buffers == b.buffers) << "BN statistics differ";
  EXPECT_TRUE(a.m == b.m && a.v == b.v) << "Adam moments differ";
}

class Determinism : public ::testing::TestWithParam<model::EdgePath> {};

TEST_P(Determinism, TwoTrainingStepsAreBitIdenticalOnTheCpu) {
  const StepResult a = two_steps("cpu", GetParam()), b = two_steps("cpu", GetParam());
  ASSERT_EQ(a.losses.size(), 2u);
  EXPECT_TRUE(std::isfinite(a.losses[0]) && a.losses[0] > 0);
  EXPECT_NE(a.losses[0], a.losses[1]);  // the step changed something
  expect_identical(a, b);
}

TEST_P(Determinism, CpuResultsDoNotDependOnTheThreadCount) {
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const StepResult one = two_steps("cpu", GetParam());
  omp_set_num_threads(2);
  const StepResult two = two_steps("cpu", GetParam());
  omp_set_num_threads(saved);
  expect_identical(one, two);
}

TEST_P(Determinism, TwoTrainingStepsAreBitIdenticalOnTheGpu) {
  std::string why;
  if (cuda_runtime::device_count(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
  const StepResult a = two_steps("cuda", GetParam()), b = two_steps("cuda", GetParam());
  expect_identical(a, b);
  // And the GPU agrees with the CPU to float32 rounding (same tolerance as the golden forward).
  const StepResult cpu = two_steps("cpu", GetParam());
  EXPECT_NEAR(a.losses[0], cpu.losses[0], 2e-5 * std::abs(cpu.losses[0]));
}

INSTANTIATE_TEST_SUITE_P(EdgePaths, Determinism, ::testing::Values(model::EdgePath::Fused, model::EdgePath::Unfused),
                         [](const ::testing::TestParamInfo<model::EdgePath>& info) {
                           return std::string(model::edge_path_name(info.param));
                         });

}  // namespace
}  // namespace ucluster
