// CUDA-vs-CPU parity of add_scaled / scale.
//
// Tolerances: scale's forward is one correctly rounded multiply on both backends: bit for bit.
// alpha a + beta b, and the accumulations g += alpha dout, may be contracted into a fused
// multiply-add on the GPU but are rounded per operation on the CPU; their difference is below
// u (|alpha a| + 2 |beta b|) + 2u |result|, bounded here by 2 eps32 (|g0| + |alpha a| + |beta b|).
#include "kernels/elementwise.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class ElementwiseParity : public parity::CudaParity {
 protected:
  std::vector<double> mag(std::initializer_list<std::pair<double, const Tensor*>> terms, std::int64_t n) {
    std::vector<double> m(n, 0.0);
    for (const auto& [factor, t] : terms) {
      const std::vector<double> v = values(*t);
      for (std::int64_t i = 0; i < n; ++i) m[i] += std::abs(factor * v[i]);
    }
    return m;
  }

  void check(const Shape& shape, double alpha, double beta) {
    const std::int64_t n = shape.numel();
    const Tensor a = randn(shape), b = randn(shape);
    Tensor o_c = poisoned_cpu(shape), o_g = poisoned_gpu(shape);
    add_scaled_forward(ctx(), a, b, alpha, beta, o_c);
    add_scaled_forward(ctx(), to_gpu(a), to_gpu(b), alpha, beta, o_g);
    UCLUSTER_EXPECT_PARITY(ctx(), "add_scaled forward", o_g, o_c, parity::scaled(mag({{alpha, &a}, {beta, &b}}, n), 2.0));

    Tensor s_c = poisoned_cpu(shape), s_g = poisoned_gpu(shape);
    scale_forward(ctx(), a, alpha, s_c);
    scale_forward(ctx(), to_gpu(a), alpha, s_g);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "scale forward", s_g, s_c);

    const Tensor dout = randn(shape), da0 = randn(shape), db0 = randn(shape);
    Tensor da_c = clone_cpu(da0), db_c = clone_cpu(db0), da_g = to_gpu(da0), db_g = to_gpu(db0);
    add_scaled_backward(ctx(), dout, alpha, beta, da_c, db_c);
    add_scaled_backward(ctx(), to_gpu(dout), alpha, beta, da_g, db_g);
    UCLUSTER_EXPECT_PARITY(ctx(), "add_scaled backward da", da_g, da_c,
                           parity::scaled(mag({{1.0, &da0}, {alpha, &dout}}, n), 2.0));
    UCLUSTER_EXPECT_PARITY(ctx(), "add_scaled backward db", db_g, db_c,
                           parity::scaled(mag({{1.0, &db0}, {beta, &dout}}, n), 2.0));

    Tensor ds_c = clone_cpu(da0), ds_g = to_gpu(da0);
    scale_backward(ctx(), dout, alpha, ds_c);
    scale_backward(ctx(), to_gpu(dout), alpha, ds_g);
    UCLUSTER_EXPECT_PARITY(ctx(), "scale backward", ds_g, ds_c, parity::scaled(mag({{1.0, &da0}, {alpha, &dout}}, n), 2.0));
  }
};

TEST_F(ElementwiseParity, ScalarLossCombination) { check({1}, 10.0, 1.0); }  // total = beta L_km + L_focal
TEST_F(ElementwiseParity, Tensor) { check({8, 100, 128}, 0.3, -1.7); }
TEST_F(ElementwiseParity, OddSize) { check({1000003}, -2.5, 0.125); }

}  // namespace
}  // namespace ucluster
