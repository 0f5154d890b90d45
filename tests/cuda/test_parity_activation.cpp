// CUDA-vs-CPU parity of ReLU / LeakyReLU.
//
// Tolerances: the forward is a select or a single correctly rounded multiply (slope * x) on both
// backends, with nothing a compiler may contract, so it must match bit for bit. The backward
// dx += slope * dy may be contracted into one fused multiply-add on the GPU (nvcc's default) but is
// two roundings on the CPU: |gpu - cpu| <= u |slope dy| + 2u |dx| <= eps32 (|dx0| + |slope dy|)
// up to second-order terms; the bound used is 2 eps32 (|dx0| + |slope dy|).
#include "kernels/activation.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class ActivationParity : public parity::CudaParity {
 protected:
  void check(const Shape& shape, double slope) {
    Tensor x = randn(shape);
    // Exact zeros exercise the "derivative 0 (or slope) at x <= 0" rule (kernels/activation.h).
    float* px = x.data<float>();
    for (std::int64_t i = 0; i < x.numel(); i += 7) px[i] = 0.0f;
    Tensor y_cpu = poisoned_cpu(shape), y_gpu = poisoned_gpu(shape);
    leaky_relu_forward(ctx(), x, y_cpu, slope);
    leaky_relu_forward(ctx(), to_gpu(x), y_gpu, slope);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "leaky_relu forward (slope " << slope << ")", y_gpu, y_cpu);

    const Tensor dy = randn(shape), dx0 = randn(shape);
    Tensor dx_cpu = clone_cpu(dx0), dx_gpu = to_gpu(dx0);
    leaky_relu_backward(ctx(), x, dy, dx_cpu, slope);
    leaky_relu_backward(ctx(), to_gpu(x), to_gpu(dy), dx_gpu, slope);
    const std::vector<double> d0 = values(dx0), g = values(dy);
    std::vector<double> mag(d0.size());
    for (std::size_t i = 0; i < mag.size(); ++i) mag[i] = std::abs(d0[i]) + std::abs(g[i]);  // |slope| <= 1
    UCLUSTER_EXPECT_PARITY(ctx(), "leaky_relu backward dx (slope " << slope << ")", dx_gpu, dx_cpu,
                           parity::scaled(mag, 2.0));
  }
};

TEST_F(ActivationParity, ReluSmall) { check({5, 3}, 0.0); }
TEST_F(ActivationParity, ReluEdgeTensorB8) { check({8, 100, 10, 128}, 0.0); }
TEST_F(ActivationParity, LeakyReluAttentionSlope) { check({8, 100, 10}, kAttentionLeakySlope); }
TEST_F(ActivationParity, LeakyReluOddSizeNotAMultipleOfTheBlock) { check({1000003}, 0.3); }

}  // namespace
}  // namespace ucluster
