// CUDA-vs-CPU parity of the mean pool over points (spec 2.4 row 23), on packed rows
// (engine/jet_rows.h): a jet's padding row counts P - n times.
//
// Tolerances: the forward sums weight x in double (exact products) and rounds once, |gpu - cpu| <=
// 2 eps32 |cpu| + 1e-11 sum w|x| / P (parity_support.h). The backward dx += w dy / P is computed in
// double and rounded once, then one addition, on both backends (identical in practice); the bound
// allows one rounding of each term, 2 eps32 (|dx0| + w |dy| / P).
#include "kernels/pool.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class PoolParity : public parity::CudaParity {
 protected:
  void check(std::int64_t B, std::int64_t P, std::int64_t C, const std::vector<std::int64_t>& real) {
    const JetRows rows_c = cpu_rows(B, P, real), rows_g = gpu_rows_of(rows_c);
    const std::int64_t R = rows_c.rows;
    const Tensor x = randn({R, C}, 3.0);
    Tensor y_c = poisoned_cpu({B, C}), y_g = poisoned_gpu({B, C});
    mean_pool_forward(ctx(), x, rows_c, y_c);
    mean_pool_forward(ctx(), to_gpu(x), rows_g, y_g);
    const std::vector<double> xv = values(x), w = values(rows_c.weight);
    const std::vector<std::int32_t>& off = rows_c.host_offsets;
    std::vector<double> mag(B * C, 0.0);
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t r = off[b]; r < off[b + 1]; ++r)
        for (std::int64_t c = 0; c < C; ++c) mag[b * C + c] += w[r] * std::abs(xv[r * C + c]) / double(P);
    UCLUSTER_EXPECT_PARITY(ctx(), "mean_pool forward", y_g, y_c, parity::rounded_once(values(y_c), mag));

    const Tensor dy = randn({B, C}), dx0 = randn({R, C});
    Tensor dx_c = clone_cpu(dx0), dx_g = to_gpu(dx0);
    mean_pool_backward(ctx(), rows_c, dy, dx_c);
    mean_pool_backward(ctx(), rows_g, to_gpu(dy), dx_g);
    const std::vector<double> d = values(dy), d0 = values(dx0);
    std::vector<double> dmag(d0.size());
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t r = off[b]; r < off[b + 1]; ++r)
        for (std::int64_t c = 0; c < C; ++c)
          dmag[r * C + c] = std::abs(d0[r * C + c]) + w[r] * std::abs(d[b * C + c]) / double(P);
    UCLUSTER_EXPECT_PARITY(ctx(), "mean_pool backward dx", dx_g, dx_c, parity::scaled(dmag, 2.0));
  }
};

TEST_F(PoolParity, Small) { check(2, 5, 3, {5, 2}); }
TEST_F(PoolParity, SinglePoint) { check(3, 1, 4, {1, 0}); }
// The model's pool of agg's 3 channels over P = 100 at B = 8 (spec 2.4 row 23), and a wide case;
// jets of 100 (no padding row), 49, 22, 89 and 0 real points.
TEST_F(PoolParity, AggOutputB8) { check(8, 100, 3, {100, 49, 22, 89, 0}); }
TEST_F(PoolParity, Wide) { check(8, 100, 256, {100, 49, 22, 89, 0}); }

}  // namespace
}  // namespace ucluster
