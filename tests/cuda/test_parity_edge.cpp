// CUDA-vs-CPU parity of the edge features e_ij = x_i - x_{idx(i,j)} (spec 2.3).
//
// Tolerances: the forward is one correctly rounded subtraction per element: bit for bit. The
// backward sums k own terms and the incoming terms in the same fixed order on both backends (no
// multiplies, nothing to contract), so it is expected bit for bit too; the bound allows the
// rigorous sum bound anyway, (n + 1) eps32 sum|terms| with n = k + in-degree + 1, so that only a
// real error fails. Indices come from the CPU kNN of realistic jets, packed (engine/jet_rows.h):
// absolute rows, in-degrees uneven (a padding row is nobody's neighbour or, repeated, everybody's).
#include "kernels/edge.h"
#include "kernels/knn.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

class EdgeParity : public parity::CudaParity {
 protected:
  void check(std::int64_t B, std::int64_t N, std::int64_t k, std::int64_t C) {
    Tensor pts = randn({B, N, 3}, 0.3);
    float* pp = pts.data<float>();
    for (std::int64_t b = 0; b < B; ++b)
      for (std::int64_t i = 0; i < N; ++i) {
        float* row = pp + (b * N + i) * 3;
        if (i >= N - 3 * b) std::fill(row, row + 3, 0.0f);  // padding, more in later jets
        else row[2] = -std::abs(row[2]) - 0.01f;
      }
    const JetBatch packed = pack_jets(ctx(), pts, Device::cpu());
    const JetRows& rows_c = packed.rows;
    const Tensor idx = knn_coordinates(ctx(), packed.points, rows_c, k);
    const Tensor idx_g = to_gpu(idx);
    const std::int64_t R = rows_c.rows;
    const Tensor x = randn({R, C});
    const Shape es{R, k, C};
    Tensor e_c = poisoned_cpu(es), e_g = poisoned_gpu(es);
    edge_diff_forward(ctx(), x, idx, e_c);
    edge_diff_forward(ctx(), to_gpu(x), idx_g, e_g);
    UCLUSTER_EXPECT_SAME_BITS(ctx(), "edge_diff forward", e_g, e_c);

    const Tensor de = randn(es), dx0 = randn({R, C});
    Tensor dx_c = clone_cpu(dx0), dx_g = to_gpu(dx0);
    edge_diff_backward(ctx(), rows_c, idx, de, dx_c);
    edge_diff_backward(ctx(), gpu_rows_of(rows_c), idx_g, to_gpu(de), dx_g);
    // Magnitude and term count per (row, c): |dx0| + sum_j |de_ij| + sum_incoming |de|.
    const std::vector<double> d = values(de), d0 = values(dx0);
    const std::vector<std::int32_t> iv = ctx().to_vector<std::int32_t>(idx);
    std::vector<double> mag(d0.size()), terms(d0.size(), 1.0);
    for (std::size_t i = 0; i < mag.size(); ++i) mag[i] = std::abs(d0[i]);
    for (std::int64_t i = 0; i < R; ++i)
      for (std::int64_t j = 0; j < k; ++j) {
        const std::int64_t edge = i * k + j, target = iv[edge];
        for (std::int64_t c = 0; c < C; ++c) {
          mag[i * C + c] += std::abs(d[edge * C + c]);
          terms[i * C + c] += 1;
          mag[target * C + c] += std::abs(d[edge * C + c]);
          terms[target * C + c] += 1;
        }
      }
    std::vector<double> bound(mag.size());
    for (std::size_t i = 0; i < mag.size(); ++i) bound[i] = (terms[i] + 1) * parity::kEps32 * mag[i];
    UCLUSTER_EXPECT_PARITY(ctx(), "edge_diff backward dx", dx_g, dx_c, bound);
  }
};

TEST_F(EdgeParity, Small) { check(2, 9, 3, 5); }
// GAP0 (8 input features) and GAP1 (128 channels) at B = 8, N = 100, k = 10 (spec 2.4 rows 3, 14).
TEST_F(EdgeParity, Gap0B8) { check(8, 100, 10, 8); }
TEST_F(EdgeParity, Gap1B8) { check(8, 100, 10, 128); }

TEST_F(EdgeParity, OutOfRangeIndexIsRejectedOnTheGpu) {
  std::vector<std::int32_t> bad(8 * 2, 0);
  bad[5] = 8;  // R = 8
  const Tensor idx = ctx().from_vector<std::int32_t>({8, 2}, bad, gpu_device());
  Tensor e = zeros_gpu({8, 2, 3});
  EXPECT_THROW(edge_diff_forward(ctx(), zeros_gpu({8, 3}), idx, e), Error);
}

}  // namespace
}  // namespace ucluster
