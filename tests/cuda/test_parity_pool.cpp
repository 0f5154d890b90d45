// CUDA-vs-CPU parity of the mean pool over points (spec 2.4 row 23).
//
// Tolerances: the forward sums in double and rounds once, |gpu - cpu| <= 2 eps32 |cpu| + 1e-11 *
// sum|x| / N (parity_support.h). The backward dx += dy / N is one correctly rounded division and
// one addition on both backends (identical in practice); the bound allows one rounding of each
// term, 2 eps32 (|dx0| + |dy| / N).
#include "kernels/pool.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class PoolParity : public parity::CudaParity {
 protected:
  void check(std::int64_t B, std::int64_t N, std::int64_t C) {
    const Tensor x = randn({B, N, C}, 3.0);
    Tensor y_c = poisoned_cpu({B, C}), y_g = poisoned_gpu({B, C});
    mean_pool_forward(ctx(), x, y_c);
    mean_pool_forward(ctx(), to_gpu(x), y_g);
    const std::vector<double> xv = values(x);
    std::vector<double> mag(B * C, 0.0);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < C; ++c) mag[b * C + c] += std::abs(xv[(b * N + n) * C + c]) / double(N);
    UCLUSTER_EXPECT_PARITY(ctx(), "mean_pool forward", y_g, y_c, parity::rounded_once(values(y_c), mag));

    const Tensor dy = randn({B, C}), dx0 = randn({B, N, C});
    Tensor dx_c = clone_cpu(dx0), dx_g = to_gpu(dx0);
    mean_pool_backward(ctx(), dy, dx_c);
    mean_pool_backward(ctx(), to_gpu(dy), dx_g);
    const std::vector<double> d = values(dy), d0 = values(dx0);
    std::vector<double> dmag(d0.size());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t c = 0; c < C; ++c) {
          const std::int64_t i = (b * N + n) * C + c;
          dmag[i] = std::abs(d0[i]) + std::abs(d[b * C + c]) / double(N);
        }
    UCLUSTER_EXPECT_PARITY(ctx(), "mean_pool backward dx", dx_g, dx_c, parity::scaled(dmag, 2.0));
  }
};

TEST_F(PoolParity, Small) { check(2, 5, 3); }
TEST_F(PoolParity, SinglePoint) { check(3, 1, 4); }
// The model's pool of agg's 3 channels over N = 100 at B = 8 (spec 2.4 row 23), and a wide case.
TEST_F(PoolParity, AggOutputB8) { check(8, 100, 3); }
TEST_F(PoolParity, Wide) { check(8, 100, 256); }

}  // namespace
}  // namespace ucluster
