#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "engine/error.h"
#include "engine/rng.h"
#include "train/hungarian.h"

namespace ucluster {
namespace {

// Minimum total over all injections of the smaller side into the larger (brute force).
double brute_force_min(const std::vector<double>& cost, int rows, int cols) {
  const bool transpose = cols < rows;
  const int nr = transpose ? cols : rows, nc = transpose ? rows : cols;
  const auto at = [&](int r, int c) { return transpose ? cost[c * cols + r] : cost[r * cols + c]; };
  std::vector<int> perm(nc);
  std::iota(perm.begin(), perm.end(), 0);
  double best = INFINITY;
  do {
    double s = 0;
    for (int r = 0; r < nr; ++r) s += at(r, perm[r]);
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best;
}

void expect_valid(const LinearAssignment& a, const std::vector<double>& cost, int rows, int cols) {
  const int pairs = std::min(rows, cols);
  ASSERT_EQ(static_cast<int>(a.rows.size()), pairs);
  ASSERT_EQ(static_cast<int>(a.cols.size()), pairs);
  std::vector<char> row_used(rows), col_used(cols);
  double total = 0;
  for (int p = 0; p < pairs; ++p) {
    if (p > 0) {
      EXPECT_LT(a.rows[p - 1], a.rows[p]);
    }
    ASSERT_TRUE(a.rows[p] >= 0 && a.rows[p] < rows && a.cols[p] >= 0 && a.cols[p] < cols);
    EXPECT_FALSE(row_used[a.rows[p]]);
    EXPECT_FALSE(col_used[a.cols[p]]);
    row_used[a.rows[p]] = col_used[a.cols[p]] = 1;
    total += cost[a.rows[p] * cols + a.cols[p]];
  }
  EXPECT_DOUBLE_EQ(total, a.total);
}

TEST(Hungarian, SquareHandCase) {
  const std::vector<double> cost = {4, 1, 3, 2, 0, 5, 3, 2, 2};
  const LinearAssignment a = linear_sum_assignment(cost, 3, 3);
  EXPECT_EQ(a.rows, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(a.cols, (std::vector<int>{1, 0, 2}));
  EXPECT_EQ(a.total, 5.0);
}

TEST(Hungarian, RecoversAPermutation) {
  // Zero cost exactly on the permutation 0->2, 1->0, 2->3, 3->1, one elsewhere.
  const std::vector<int> perm = {2, 0, 3, 1};
  std::vector<double> cost(16, 1.0);
  for (int r = 0; r < 4; ++r) cost[r * 4 + perm[r]] = 0.0;
  const LinearAssignment a = linear_sum_assignment(cost, 4, 4);
  EXPECT_EQ(a.cols, perm);
  EXPECT_EQ(a.total, 0.0);
}

TEST(Hungarian, RectangularWideAndTall) {
  const std::vector<double> wide = {10, 1, 10, 1, 10, 10};  // 2 x 3
  const LinearAssignment w = linear_sum_assignment(wide, 2, 3);
  EXPECT_EQ(w.rows, (std::vector<int>{0, 1}));
  EXPECT_EQ(w.cols, (std::vector<int>{1, 0}));
  EXPECT_EQ(w.total, 2.0);
  const std::vector<double> tall = {10, 1, 1, 10, 5, 5};  // 3 x 2: row 2 stays unmatched
  const LinearAssignment t = linear_sum_assignment(tall, 3, 2);
  EXPECT_EQ(t.rows, (std::vector<int>{0, 1}));
  EXPECT_EQ(t.cols, (std::vector<int>{1, 0}));
  EXPECT_EQ(t.total, 2.0);
}

TEST(Hungarian, Maximize) {
  const std::vector<double> cost = {1, 5, 3, 4};
  const LinearAssignment a = linear_sum_assignment(cost, 2, 2, true);
  EXPECT_EQ(a.cols, (std::vector<int>{1, 0}));
  EXPECT_EQ(a.total, 8.0);
}

TEST(Hungarian, MatchesBruteForceOnRandomMatrices) {
  Rng rng(17);
  const int shapes[][2] = {{5, 5}, {6, 6}, {4, 7}, {7, 4}, {1, 5}, {5, 1}, {3, 3}};
  for (const auto& s : shapes) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<double> cost(s[0] * s[1]);
      // Small integers: many ties, the hard case for the augmenting-path bookkeeping.
      for (double& v : cost) v = trial % 2 ? static_cast<double>(rng.below(4)) : rng.uniform(-5, 5);
      const LinearAssignment a = linear_sum_assignment(cost, s[0], s[1]);
      expect_valid(a, cost, s[0], s[1]);
      EXPECT_NEAR(a.total, brute_force_min(cost, s[0], s[1]), 1e-9) << s[0] << "x" << s[1] << " trial " << trial;
    }
  }
}

TEST(Hungarian, EmptyAndBadInputs) {
  EXPECT_TRUE(linear_sum_assignment(std::vector<double>{}, 0, 3).rows.empty());
  EXPECT_THROW(linear_sum_assignment(std::vector<double>{1, 2, 3}, 2, 2), Error);
  EXPECT_THROW(linear_sum_assignment(std::vector<double>{1, NAN, 3, 4}, 2, 2), Error);
  EXPECT_THROW(linear_sum_assignment(std::vector<double>{1, INFINITY, 3, 4}, 2, 2), Error);
}

TEST(ClusterAccuracy, RelabelledPerfectClustering) {
  const std::vector<int> truth = {0, 0, 1, 1, 2, 2}, pred = {1, 1, 2, 2, 0, 0};
  const ClusterAccuracy a = cluster_accuracy(truth, pred);
  EXPECT_EQ(a.accuracy, 1.0);
  EXPECT_EQ(a.matched, 6);
  EXPECT_EQ(a.total, 6);
  EXPECT_EQ(a.mapping, (std::vector<int>{2, 0, 1}));
}

TEST(ClusterAccuracy, HandCounted) {
  // w[pred][true]: pred 0 = {2, 0, 0}, pred 1 = {1, 2, 1}, pred 2 = {0, 0, 0}: best 0->0, 1->1, 2->2.
  const std::vector<int> truth = {0, 0, 0, 1, 1, 2}, pred = {0, 0, 1, 1, 1, 1};
  const ClusterAccuracy a = cluster_accuracy(truth, pred);
  EXPECT_EQ(a.matched, 4);
  EXPECT_DOUBLE_EQ(a.accuracy, 4.0 / 6.0);
  EXPECT_EQ(a.mapping[0], 0);
  EXPECT_EQ(a.mapping[1], 1);
}

TEST(ClusterAccuracy, DimensionFromTheLargestLabelOfEither) {
  // D = max(3, 1) + 1 = 4: cluster 3 -> class 0, cluster 0 -> class 1.
  const std::vector<int> truth = {0, 0, 1}, pred = {3, 3, 0};
  const ClusterAccuracy a = cluster_accuracy(truth, pred);
  EXPECT_EQ(a.accuracy, 1.0);
  ASSERT_EQ(a.mapping.size(), 4u);
  EXPECT_EQ(a.mapping[3], 0);
  EXPECT_EQ(a.mapping[0], 1);
}

TEST(ClusterAccuracy, PerBatchMeanIsOptimisticVersusGlobal) {
  // Each batch of 4 is perfectly clustered under its own relabelling, but the two batches need
  // opposite relabellings: per-batch mean 1, global 0.5. The 2-jet tail is dropped per batch.
  const std::vector<int> truth = {0, 0, 1, 1, 0, 0, 1, 1, 0, 1};
  const std::vector<int> pred = {0, 0, 1, 1, 1, 1, 0, 0, 1, 1};
  EXPECT_EQ(per_batch_mean_accuracy(truth, pred, 4), 1.0);
  const ClusterAccuracy global = cluster_accuracy(truth, pred);
  EXPECT_EQ(global.matched, 5);
  EXPECT_DOUBLE_EQ(global.accuracy, 0.5);
  // Batches of 5: {0,0,1,1,0} vs {0,0,1,1,1} -> 4/5; {0,1,1,0,1} vs {1,0,0,1,1} -> 4/5.
  EXPECT_DOUBLE_EQ(per_batch_mean_accuracy(truth, pred, 5), 0.8);
}

TEST(ClusterAccuracy, ConfusionCountsAccumulateAndMergeAcrossRanks) {
  Rng rng(3);
  std::vector<int> truth(1000), pred(1000);
  for (int i = 0; i < 1000; ++i) {
    truth[i] = static_cast<int>(rng.below(3));
    pred[i] = rng.uniform() < 0.7 ? (truth[i] + 1) % 3 : static_cast<int>(rng.below(3));
  }
  const ClusterAccuracy direct = cluster_accuracy(truth, pred);
  // Two "ranks" with 600 and 400 jets, each adding batches of 128 (and a tail).
  ConfusionCounts rank0(3), rank1(3);
  const std::span<const int> t(truth), p(pred);
  for (int off = 0; off < 600; off += 128) {
    const int len = std::min(128, 600 - off);
    rank0.add(t.subspan(off, len), p.subspan(off, len));
  }
  rank1.add(t.subspan(600), p.subspan(600));
  // Merging as an allreduce would: element-wise sum of the plain count arrays.
  ConfusionCounts reduced(3);
  for (std::size_t k = 0; k < reduced.size(); ++k) reduced.data()[k] = rank0.data()[k] + rank1.data()[k];
  rank0 += rank1;
  EXPECT_EQ(rank0.total(), 1000);
  for (const ConfusionCounts* c : {&rank0, &reduced}) {
    const ClusterAccuracy a = c->accuracy();
    EXPECT_EQ(a.matched, direct.matched);
    EXPECT_EQ(a.accuracy, direct.accuracy);
    EXPECT_EQ(a.mapping, direct.mapping);
  }
  EXPECT_EQ(direct.mapping, (std::vector<int>{2, 0, 1}));
  // A larger fixed dimension (unused ids) gives the same accuracy.
  ConfusionCounts wide(6);
  wide.add(truth, pred);
  EXPECT_EQ(wide.accuracy().matched, direct.matched);
  EXPECT_EQ(rank0.count(2, 1), reduced.count(2, 1));
}

TEST(ClusterAccuracy, BadInputsThrow) {
  const std::vector<int> a = {0, 1, 2}, b = {0, 1};
  EXPECT_THROW(cluster_accuracy(a, b), Error);
  EXPECT_THROW(cluster_accuracy(std::vector<int>{}, std::vector<int>{}), Error);
  EXPECT_THROW(cluster_accuracy(std::vector<int>{0, -1}, std::vector<int>{0, 0}), Error);
  EXPECT_THROW(per_batch_mean_accuracy(a, a, 4), Error);  // no full batch
  EXPECT_THROW(per_batch_mean_accuracy(a, a, 0), Error);
  ConfusionCounts c(2);
  EXPECT_THROW(c.add(2, 0), Error);
  EXPECT_THROW(c.add(0, -1), Error);
  EXPECT_THROW(c += ConfusionCounts(3), Error);
  EXPECT_EQ(c.accuracy().accuracy, 0.0);  // nothing counted yet
}

}  // namespace
}  // namespace ucluster
