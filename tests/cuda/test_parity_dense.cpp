// CUDA-vs-CPU parity of the dense family (cuBLAS SGEMM vs OpenBLAS SGEMM).
//
// Tolerance: every output element is a sum of n float32 products (n = Cin + 1 with the bias for the
// forward, Cout + 1 for dx, rows + 1 for dw and dbias, the +1 being the accumulated initial value).
// Both backends are within gamma_n sum|terms| of the exact sum in any order (parity_support.h), so
//   |gpu - cpu| <= (n + 1) eps32 sum|terms|,
// with sum|terms| computed exactly enough by the CPU op in float64 on |inputs|.
#include "kernels/dense.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

using parity::scaled;

class DenseParity : public parity::CudaParity {
 protected:
  void check(const Shape& x_shape, std::int64_t cout, bool with_bias) {
    const std::int64_t cin = x_shape.last();
    const Tensor x = randn(x_shape);
    // Xavier-uniform range of the model's weights (spec 2.1).
    const double limit = std::sqrt(6.0 / double(cin + cout));
    const Tensor w = rand({cin, cout}, -limit, limit);
    const Tensor b = with_bias ? rand({cout}) : Tensor();
    const Shape y_shape = x_shape.with_last(cout);
    const std::int64_t rows = x_shape.rows();

    // Forward.
    Tensor y_cpu = poisoned_cpu(y_shape), y_gpu = poisoned_gpu(y_shape);
    dense_forward(ctx(), x, w, b, y_cpu);
    dense_forward(ctx(), to_gpu(x), to_gpu(w), with_bias ? to_gpu(b) : Tensor(), y_gpu);
    Tensor y_mag = zeros_cpu(y_shape, DType::F64);
    dense_forward(ctx(), abs64(x), abs64(w), with_bias ? abs64(b) : Tensor(), y_mag);
    UCLUSTER_EXPECT_PARITY(ctx(), "dense forward y", y_gpu, y_cpu, scaled(values(y_mag), double(cin + 2)));

    // Backward, accumulating into non-zero initial gradients (the += contract).
    const Tensor dy = randn(y_shape);
    const Tensor dx0 = randn(x_shape), dw0 = randn({cin, cout}), db0 = randn({cout});
    Tensor dx_cpu = clone_cpu(dx0), dw_cpu = clone_cpu(dw0), db_cpu = clone_cpu(db0);
    Tensor dx_gpu = to_gpu(dx0), dw_gpu = to_gpu(dw0), db_gpu = to_gpu(db0);
    dense_backward(ctx(), x, w, dy, dx_cpu, dw_cpu, with_bias ? db_cpu : Tensor());
    dense_backward(ctx(), to_gpu(x), to_gpu(w), to_gpu(dy), dx_gpu, dw_gpu, with_bias ? db_gpu : Tensor());
    Tensor dx_mag = abs64(dx0), dw_mag = abs64(dw0), db_mag = abs64(db0);
    dense_backward(ctx(), abs64(x), abs64(w), abs64(dy), dx_mag, dw_mag, db_mag);
    UCLUSTER_EXPECT_PARITY(ctx(), "dense backward dx", dx_gpu, dx_cpu, scaled(values(dx_mag), double(cout + 2)));
    UCLUSTER_EXPECT_PARITY(ctx(), "dense backward dw", dw_gpu, dw_cpu, scaled(values(dw_mag), double(rows + 2)));
    if (with_bias)
      UCLUSTER_EXPECT_PARITY(ctx(), "dense backward dbias", db_gpu, db_cpu, scaled(values(db_mag), double(rows + 2)));
  }
};

TEST_F(DenseParity, SmallOddShapes) {
  check({3, 5, 7}, 9, true);
  check({1, 1}, 1, true);
  check({13, 17}, 33, false);
}

// UCluster shapes at B = 8 (spec 2.4): edge conv of GAP1 over B*N*k rows, gapnet11, agg, fc3.
TEST_F(DenseParity, EdgeConv128To128OnBNkRows) { check({8, 100, 10, 128}, 128, true); }
TEST_F(DenseParity, Gapnet11_136To256) { check({8, 100, 136}, 256, true); }
TEST_F(DenseParity, Agg848To3) { check({8, 100, 848}, 3, true); }
TEST_F(DenseParity, GapEdgeConv8To16NoBias) { check({8, 100, 10, 8}, 16, false); }
TEST_F(DenseParity, AttentionConv128To1) { check({8, 100, 10, 128}, 1, true); }
TEST_F(DenseParity, Fc3_128To20) { check({8, 128}, 20, true); }

TEST_F(DenseParity, ZeroRowsIsANoOp) {
  Tensor x = zeros_gpu({0, 4}), w = to_gpu(rand({4, 3})), y = zeros_gpu({0, 3});
  EXPECT_NO_THROW(dense_forward(ctx(), x, w, Tensor(), y));
  ctx().synchronize();
}

}  // namespace
}  // namespace ucluster
