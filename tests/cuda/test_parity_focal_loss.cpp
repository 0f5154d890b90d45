// CUDA-vs-CPU parity of the focal loss (spec 3.1).
//
// Tolerances: both backends compute in double and round once (parity_support.h). Their double
// results differ by the ulps of exp/log/pow (CUDA's double versions are within 2 ulp), amplified at
// most by 1 / (1 - q) <= 1e3 for the logits drawn here (uniform in [-4, 4] over 20 classes, so
// 1 - p_t >= 19 e^-8 / (1 + 19 e^-8) > 6e-3), and by the order of the batch sum (B eps64). All of
// it is far below 1e-11 relative, so:
//   loss:     |gpu - cpu| <= 2 eps32 |loss| + 1e-11 |loss|            (every FL_b >= 0)
//   dlogits:  |gpu - cpu| <= 2 eps32 (2 |g0| + |cpu|) + 1e-11 (|g0| + |cpu|)
// (dlogits += fl(t) with |t| <= |g0| + |cpu|). Confident jets (p_t == 1 in double) give exactly 0.
#include "kernels/focal_loss.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class FocalLossParity : public parity::CudaParity {
 protected:
  Tensor targets(std::int64_t B, std::int64_t C) {
    std::vector<std::int32_t> t(B);
    for (auto& v : t) v = static_cast<std::int32_t>(ctx().rng().below(C));
    return ctx().from_vector<std::int32_t>({B}, t, Device::cpu());
  }

  void check(const Tensor& logits, const Tensor& target, double gamma, double alpha) {
    Tensor loss_c = poisoned_cpu({1}), loss_g = poisoned_gpu({1});
    focal_loss_forward(ctx(), logits, target, gamma, alpha, loss_c);
    focal_loss_forward(ctx(), to_gpu(logits), to_gpu(target), gamma, alpha, loss_g);
    const std::vector<double> l = values(loss_c);
    UCLUSTER_EXPECT_PARITY(ctx(), "focal_loss forward", loss_g, loss_c,
                           parity::rounded_once(l, parity::absv(l)));

    const Tensor dloss = ctx().from_vector<float>({1}, {0.7f}, Device::cpu());
    const Tensor g0 = randn(logits.shape(), 1e-3);
    Tensor g_c = clone_cpu(g0), g_g = to_gpu(g0);
    focal_loss_backward(ctx(), logits, target, gamma, alpha, dloss, g_c);
    focal_loss_backward(ctx(), to_gpu(logits), to_gpu(target), gamma, alpha, to_gpu(dloss), g_g);
    const std::vector<double> g0v = values(g0), cv = values(g_c);
    std::vector<double> extra(cv.size());
    for (std::size_t i = 0; i < cv.size(); ++i)
      extra[i] = parity::kDoubleOrderSlack * (std::abs(g0v[i]) + std::abs(cv[i]));
    UCLUSTER_EXPECT_PARITY(ctx(), "focal_loss backward dlogits", g_g, g_c, parity::accumulated_into(g0v, cv, extra));
  }
};

// fc3's logits [B, 20] (spec 2.4 row 26) with config A (gamma 4, alpha 10) and B (2, 1), spec 0.1.
TEST_F(FocalLossParity, ConfigAB8) { check(rand({8, 20}, -4, 4), targets(8, 20), 4.0, 10.0); }
TEST_F(FocalLossParity, ConfigBB8) { check(rand({8, 20}, -4, 4), targets(8, 20), 2.0, 1.0); }
// More jets than the forward kernel's 256 threads: the strided per-thread sums and the tree.
TEST_F(FocalLossParity, ConfigAB1024) { check(rand({1024, 20}, -4, 4), targets(1024, 20), 4.0, 10.0); }
TEST_F(FocalLossParity, GammaZeroIsWeightedCrossEntropy) { check(rand({37, 5}, -2, 2), targets(37, 5), 0.0, 1.0); }

TEST_F(FocalLossParity, ConfidentJetsGiveZeroOnBothBackends) {
  Tensor logits = rand({16, 20}, -1, 1);
  const Tensor target = targets(16, 20);
  const std::vector<std::int32_t> t = ctx().to_vector<std::int32_t>(target);
  for (std::int64_t b = 0; b < 16; ++b) logits.data<float>()[b * 20 + t[b]] = 60.0f;  // p_t == 1 in double
  check(logits, target, 4.0, 10.0);
}

TEST_F(FocalLossParity, TargetOutOfRangeIsRejectedOnTheGpu) {
  const Tensor logits = to_gpu(rand({3, 4}));
  const Tensor target = ctx().from_vector<std::int32_t>({3}, {0, 4, 1}, gpu_device());
  Tensor loss = zeros_gpu({1});
  EXPECT_THROW(focal_loss_forward(ctx(), logits, target, 2.0, 1.0, loss), Error);
}

}  // namespace
}  // namespace ucluster
