#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/rng.h"
#include "train/hungarian.h"
#include "train/kmeans.h"

namespace ucluster {
namespace {

// Gaussian blobs in 3-d around `centres` ([k*3]), `per` points each, interleaved (row i belongs to
// blob i % k). truth gets the blob of each row.
std::vector<double> blobs(const std::vector<double>& centres, int per, double sigma, std::uint64_t seed,
                          std::vector<int>* truth = nullptr) {
  const int k = static_cast<int>(centres.size() / 3);
  Rng rng(seed);
  std::vector<double> x;
  for (int i = 0; i < per * k; ++i) {
    for (int c = 0; c < 3; ++c) x.push_back(centres[(i % k) * 3 + c] + rng.normal(0.0, sigma));
    if (truth) truth->push_back(i % k);
  }
  return x;
}

const std::vector<double> kCentres = {0, 0, 0, 10, 0, 0, 0, 10, 0};

void expect_same_bits(const KMeansResult& a, const KMeansResult& b) {
  EXPECT_EQ(a.centroids, b.centroids);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.inertia, b.inertia);
  EXPECT_EQ(a.iterations, b.iterations);
  EXPECT_EQ(a.best_run, b.best_run);
}

TEST(KMeans, RecoversWellSeparatedBlobCentres) {
  std::vector<int> truth;
  const auto x = blobs(kCentres, 300, 0.5, 11, &truth);
  const KMeansResult r = kmeans(x, 3, KMeansOptions{});
  ASSERT_EQ(r.centroids.size(), 9u);
  ASSERT_EQ(r.labels.size(), truth.size());
  EXPECT_EQ(r.fitted_rows, 900);
  // Every blob is one cluster.
  const ClusterAccuracy acc = cluster_accuracy(truth, r.labels);
  EXPECT_EQ(acc.matched, 900);
  // Each matched centroid sits on its blob centre (sampling error ~ 0.5 / sqrt(300) = 0.03).
  for (int j = 0; j < 3; ++j) {
    const int blob = acc.mapping[j];
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.centroids[j * 3 + c], kCentres[blob * 3 + c], 0.15);
  }
  EXPECT_GE(r.iterations, 1);
  EXPECT_LE(r.iterations, 300);
}

TEST(KMeans, InertiaAndLabelsMatchTheReturnedCentroids) {
  const auto x = blobs(kCentres, 200, 2.0, 3);
  const KMeansResult r = kmeans(x, 3, KMeansOptions{});
  std::vector<int> labels(600);
  const double inertia = kmeans_assign(x.data(), 600, 3, r.centroids.data(), 3, labels.data());
  EXPECT_EQ(labels, r.labels);
  EXPECT_NEAR(inertia, r.inertia, 1e-9 * r.inertia);
}

TEST(KMeans, SameSeedGivesSameBitsAndSeedsDiffer) {
  Rng rng(5);
  std::vector<double> x(3000 * 2);
  for (double& v : x) v = rng.uniform();
  KMeansOptions o;
  o.clusters = 6;
  o.n_init = 1;
  const KMeansResult a = kmeans(x, 2, o);
  expect_same_bits(a, kmeans(x, 2, o));
  // Uniform data have many local optima: some other seed lands elsewhere.
  bool differs = false;
  for (std::uint64_t seed = 2; seed < 8 && !differs; ++seed) {
    o.seed = seed;
    differs = kmeans(x, 2, o).centroids != a.centroids;
  }
  EXPECT_TRUE(differs);
}

TEST(KMeans, SameBitsForAnyThreadCount) {
  // More rows than one reduction block, so the blocked sums are exercised.
  const auto x = blobs(kCentres, 3000, 3.0, 8);
  KMeansOptions o;
  o.n_init = 3;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const KMeansResult one = kmeans(x, 3, o);
  omp_set_num_threads(3);
  const KMeansResult three = kmeans(x, 3, o);
  omp_set_num_threads(saved);
  expect_same_bits(one, three);
}

TEST(KMeans, FloatInputEqualsItsDoubleConversion) {
  const auto xd = blobs(kCentres, 100, 1.0, 4);
  std::vector<float> xf(xd.begin(), xd.end());
  std::vector<double> back(xf.begin(), xf.end());
  expect_same_bits(kmeans(xf.data(), 300, 3, KMeansOptions{}), kmeans(back.data(), 300, 3, KMeansOptions{}));
}

TEST(KMeans, BestOfRunsNeverWorseThanASingleRun) {
  Rng rng(9);
  std::vector<double> x(2000 * 3);
  for (double& v : x) v = rng.uniform();
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    KMeansOptions o;
    o.clusters = 5;
    o.seed = seed;
    const KMeansResult best = kmeans(x, 3, o);
    o.n_init = 1;
    const KMeansResult single = kmeans(x, 3, o);  // run 0 of the n_init = 10 fit
    EXPECT_LE(best.inertia, single.inertia) << "seed " << seed;
    EXPECT_GE(best.best_run, 0);
    EXPECT_LT(best.best_run, 10);
    if (best.best_run == 0) expect_same_bits(best, single);
  }
}

TEST(KMeans, MaxIterAndToleranceStopTheRun) {
  const auto x = blobs(kCentres, 300, 4.0, 21);
  KMeansOptions o;
  o.n_init = 1;
  o.tol = 0.0;
  const KMeansResult exact = kmeans(x, 3, o);
  for (int max_iter : {1, 2, 3}) {
    o.max_iter = max_iter;
    EXPECT_EQ(kmeans(x, 3, o).iterations, std::min(max_iter, exact.iterations));
  }
  o.max_iter = 300;
  // The iterates of one run do not depend on tol: a larger tol stops at the same or an earlier one.
  int previous = exact.iterations;
  for (double tol : {1e-6, 1e-4, 1e-2, 1.0}) {
    o.tol = tol;
    const int it = kmeans(x, 3, o).iterations;
    EXPECT_LE(it, previous) << "tol " << tol;
    previous = it;
  }
  o.tol = 1e9;  // any first shift is within tolerance
  EXPECT_EQ(kmeans(x, 3, o).iterations, 1);
}

TEST(KMeans, ToleranceZeroEndsAtAFixedPoint) {
  const auto x = blobs(kCentres, 200, 4.0, 22);
  KMeansOptions o;
  o.tol = 0.0;
  const KMeansResult r = kmeans(x, 3, o);
  ASSERT_LT(r.iterations, 300);
  for (int j = 0; j < 3; ++j) {
    double sum[3] = {0, 0, 0};
    int count = 0;
    for (int i = 0; i < 600; ++i)
      if (r.labels[i] == j) {
        ++count;
        for (int c = 0; c < 3; ++c) sum[c] += x[i * 3 + c];
      }
    ASSERT_GT(count, 0);
    for (int c = 0; c < 3; ++c) EXPECT_NEAR(r.centroids[j * 3 + c], sum[c] / count, 1e-12);
  }
}

TEST(KMeans, ToleranceIsRelativeToTheDataVariance) {
  // Scaling by a power of two scales every intermediate exactly: same labels, same iteration count.
  const auto x = blobs(kCentres, 200, 3.0, 23);
  std::vector<double> scaled(x);
  for (double& v : scaled) v *= 1024.0;
  KMeansOptions o;
  o.tol = 1e-2;
  const KMeansResult a = kmeans(x, 3, o), b = kmeans(scaled, 3, o);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.iterations, b.iterations);
  for (std::size_t k = 0; k < a.centroids.size(); ++k) EXPECT_EQ(a.centroids[k] * 1024.0, b.centroids[k]);
  EXPECT_EQ(a.inertia * 1024.0 * 1024.0, b.inertia);
}

TEST(KMeans, MeanFeatureVarianceIsSklearnsTolerance) {
  // Columns {1,2,3,4} (variance 1.25) and {0,0,0,8} (variance 12): mean 6.625.
  const std::vector<double> x = {1, 0, 2, 0, 3, 0, 4, 8};
  EXPECT_DOUBLE_EQ(mean_feature_variance(x.data(), 4, 2), 6.625);
}

TEST(KMeans, EmptyClusterTakesTheFarthestPoint) {
  // 1-d points; the third start centroid (100) gets no point in the first assignment. The point
  // farthest from its own centre is 2 (distance^2 4 to centre 0): it moves to cluster 2, cluster 0
  // keeps {0, 1} -> 0.5. The second iteration reproduces the same means and stops.
  const std::vector<double> x = {0, 1, 2, 10, 11, 12};
  KMeansOptions o;
  o.init_centroids = {0, 11, 100};
  const KMeansResult r = kmeans(x, 1, o);
  EXPECT_EQ(r.centroids, (std::vector<double>{0.5, 11, 2}));
  EXPECT_EQ(r.labels, (std::vector<int>{0, 0, 2, 1, 1, 1}));
  EXPECT_DOUBLE_EQ(r.inertia, 2.5);
  EXPECT_EQ(r.iterations, 2);
}

TEST(KMeans, DuplicatePointsGiveFiniteCentroids) {
  // Fewer distinct points than clusters: k-means++ repeats a point, clusters come out empty
  // and are relocated on every step; the result must stay finite.
  const std::vector<double> x = {0, 0, 0, 0, 0, 10};
  KMeansOptions o;
  const KMeansResult r = kmeans(x, 1, o);
  for (double c : r.centroids) EXPECT_TRUE(std::isfinite(c));
  EXPECT_NEAR(r.inertia, 0.0, 1e-20);
  std::vector<double> sorted = r.centroids;
  std::sort(sorted.begin(), sorted.end());
  // Centring rounds: the centroids are 0, 0, 10 up to a few ulps of the data mean.
  ASSERT_EQ(sorted.size(), 3u);
  EXPECT_NEAR(sorted[0], 0.0, 1e-14);
  EXPECT_NEAR(sorted[1], 0.0, 1e-14);
  EXPECT_NEAR(sorted[2], 10.0, 1e-14);
}

TEST(KMeans, BoundedSampleOfRows) {
  std::vector<int> truth;
  const auto x = blobs(kCentres, 4000, 0.5, 31, &truth);
  KMeansOptions o;
  o.max_samples = 1500;
  const KMeansResult r = kmeans(x, 3, o);
  EXPECT_EQ(r.fitted_rows, 1500);
  ASSERT_EQ(r.labels.size(), 12000u);
  EXPECT_EQ(cluster_accuracy(truth, r.labels).matched, 12000);
  std::vector<int> labels(12000);
  const double inertia = kmeans_assign(x.data(), 12000, 3, r.centroids.data(), 3, labels.data());
  EXPECT_EQ(labels, r.labels);
  EXPECT_NEAR(inertia, r.inertia, 1e-9 * inertia);
  expect_same_bits(r, kmeans(x, 3, o));
  o.seed = 2;
  EXPECT_NE(kmeans(x, 3, o).centroids, r.centroids);  // another sample
  o.max_samples = 12000;                               // not more rows than the bound: no sampling
  EXPECT_EQ(kmeans(x, 3, o).fitted_rows, 12000);
}

TEST(KMeans, BadInputsThrow) {
  const std::vector<double> x = {0, 1, 2, 3};
  KMeansOptions o;
  o.clusters = 5;
  EXPECT_THROW(kmeans(x, 1, o), Error);  // 4 rows < 5 clusters
  o = {};
  o.n_init = 0;
  EXPECT_THROW(kmeans(x, 1, o), Error);
  o = {};
  o.max_iter = 0;
  EXPECT_THROW(kmeans(x, 1, o), Error);
  o = {};
  o.tol = -1;
  EXPECT_THROW(kmeans(x, 1, o), Error);
  o = {};
  o.max_samples = 2;  // 2 sampled rows < 3 clusters
  EXPECT_THROW(kmeans(x, 1, o), Error);
  o = {};
  o.init_centroids = {0, 1};
  EXPECT_THROW(kmeans(x, 1, o), Error);
  EXPECT_THROW(kmeans(x, 3, KMeansOptions{}), Error);  // 4 values are not rows of 3
  const std::vector<double> bad = {0, 1, NAN, 3};
  try {
    kmeans(bad, 1, KMeansOptions{});
    FAIL() << "expected ucluster::Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("row 2"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ucluster
