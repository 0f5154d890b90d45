// CUDA-vs-CPU parity of the kNN graphs (spec 2.2).
//
// Tolerance: none. Both backends evaluate the Gram-form distance with the same explicitly rounded
// float32 operations in the same order (kernels/knn.h), so every row's neighbour SET must match
// exactly ("kNN indices must match exactly as sets"). The order within a row is also
// expected to match (ties -> lower index on both); order mismatches are recorded as the test
// property `order_mismatch_rows` but only sets are required, since the model is order-invariant.
// Inputs are packed rows (engine/jet_rows.h) of jets with uneven real counts, a padding row
// standing for the padded points (it fills several places of a list, kernels/knn.h).
#include <algorithm>
#include <cmath>

#include "kernels/knn.h"
#include "tests/cuda/parity_support.h"

namespace ucluster {
namespace {

// Float64 distances break float32's exact ties (e.g. 1000 + |x|^2 of padded points), so the f64
// stand-in cannot reproduce float32 neighbour sets; it has nothing to check here.
class KnnParity : public parity::Float32Parity {
 protected:
  KnnParity() : Float32Parity("kNN sets are float32-specific") {}

  void expect_same_sets(const char* what, const Tensor& idx_gpu, const Tensor& idx_cpu, std::int64_t k) {
    ASSERT_EQ(idx_gpu.shape(), idx_cpu.shape()) << what;
    std::vector<std::int32_t> g = ctx().to_vector<std::int32_t>(idx_gpu);
    std::vector<std::int32_t> c = ctx().to_vector<std::int32_t>(idx_cpu);
    const std::int64_t rows = idx_cpu.numel() / k;
    std::int64_t set_mismatch = 0, order_mismatch = 0;
    std::string first;
    for (std::int64_t r = 0; r < rows; ++r) {
      auto gb = g.begin() + r * k, cb = c.begin() + r * k;
      if (!std::equal(gb, gb + k, cb)) ++order_mismatch;
      std::vector<std::int32_t> gs(gb, gb + k), cs(cb, cb + k);
      std::sort(gs.begin(), gs.end());
      std::sort(cs.begin(), cs.end());
      if (gs != cs) {
        if (set_mismatch++ == 0) {
          first = "row " + std::to_string(r) + ": gpu {";
          for (auto v : std::vector<std::int32_t>(gb, gb + k)) first += std::to_string(v) + " ";
          first += "} cpu {";
          for (auto v : std::vector<std::int32_t>(cb, cb + k)) first += std::to_string(v) + " ";
          first += "}";
        }
      }
    }
    parity::record(std::string("order_mismatch_rows_") + what, std::to_string(order_mismatch));
    EXPECT_EQ(set_mismatch, 0) << what << ": " << set_mismatch << " of " << rows
                               << " rows have different neighbour sets; first " << first;
  }

  using KnnForward = void (*)(Context&, const Tensor&, const JetRows&, std::int64_t, const Tensor&);

  // forward on the CPU and the GPU into preallocated indices [R, k]; returns the CPU indices.
  Tensor check(const char* what, KnnForward forward, const Tensor& x, const JetRows& rows_c, const JetRows& rows_g,
               std::int64_t k) {
    const Shape s{x.dim(0), k};
    Tensor idx_c = ctx().empty(s, DType::I32, Device::cpu());
    Tensor idx_g = ctx().empty(s, DType::I32, gpu_device());
    forward(ctx(), x, rows_c, k, idx_c);
    forward(ctx(), to_gpu(x), rows_g, k, idx_g);
    expect_same_sets(what, idx_g, idx_c, k);
    return idx_c;
  }

  // x: dense jets [B, P, F], packed on each side by pack_jets (its real counts: the trailing
  // all-zero points are padding).
  void check_coordinates(const Tensor& x, std::int64_t k) {
    const JetBatch c = pack_jets(ctx(), x, Device::cpu());
    const JetBatch g = pack_jets(ctx(), x, gpu_device());
    const Tensor idx_c = check("knn_coordinates", knn_coordinates_forward, c.points, c.rows, g.rows, k);
    // The allocating form gives the same result.
    expect_same_sets("knn_coordinates (allocating)", knn_coordinates(ctx(), to_gpu(c.points), g.rows, k), idx_c, k);
  }

  // h: packed rows [R, C] of the layout of B jets with real counts `real` out of P.
  void check_features(const Tensor& h, std::int64_t B, std::int64_t P, const std::vector<std::int64_t>& real,
                      std::int64_t k) {
    check("knn_features", knn_features_forward, h, cpu_rows(B, P, real), gpu_rows(B, P, real), k);
  }

  // Random packed rows [R, C] for that layout.
  Tensor packed_randn(std::int64_t B, std::int64_t P, const std::vector<std::int64_t>& real, std::int64_t C) {
    return randn({cpu_rows(B, P, real).rows, C});
  }
};

// kNN #1 at B = 8, N = 100, k = 10 with jets of 100 (no padding row), 40, 10, 7 (fewer than k:
// the padding row fills the tail of every list, ties at 1000 + |x_i|^2) and 1 real particles.
TEST_F(KnnParity, CoordinatesWithPaddingB8) { check_coordinates(jets(8, 100, 8, {100, 40, 10, 7, 1}), 10); }
TEST_F(KnnParity, CoordinatesB64) { check_coordinates(jets(64, 100, 8, {100, 63, 30, 12}), 10); }
TEST_F(KnnParity, CoordinatesKEqualsN) { check_coordinates(jets(3, 12, 3, {12, 5}), 12); }
TEST_F(KnnParity, CoordinatesK1) { check_coordinates(jets(4, 17, 4, {17, 2}), 1); }

// kNN #2 on gapnet02-like features (post-ReLU, 128 channels). The padding row is at distance 0 from
// itself and fills its own list (the reference's padded points, mutual zero-distance neighbours).
TEST_F(KnnParity, FeaturesGapnet02B8) {
  const std::vector<std::int64_t> real{30, 35, 40, 45, 50, 55, 100, 3};
  const JetRows layout = cpu_rows(8, 100, real);
  Tensor h = rand({layout.rows, 128}, -1.0, 2.0);
  float* p = h.data<float>();
  for (std::int64_t i = 0; i < h.numel(); ++i) p[i] = std::max(p[i], 0.0f);
  for (std::int64_t b = 0; b < 8; ++b)
    if (layout.host_real[b] < 100) {
      const std::int64_t pad = layout.host_offsets[b] + layout.host_real[b];
      std::fill(p + pad * 128, p + (pad + 1) * 128, 0.25f);
    }
  check_features(h, 8, 100, real, 10);
}
TEST_F(KnnParity, FeaturesOddChannels) {
  const std::vector<std::int64_t> real{33, 2, 0, 17, 4};
  check_features(packed_randn(5, 33, real, 7), 5, 33, real, 5);
}
TEST_F(KnnParity, FeaturesWideChannelsNeedOptInSharedMemory) {
  const std::vector<std::int64_t> real{100, 60};
  check_features(packed_randn(2, 100, real, 256), 2, 100, real, 10);
}

}  // namespace
}  // namespace ucluster
