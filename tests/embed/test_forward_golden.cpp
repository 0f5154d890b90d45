// The library's forward pass (embed/src/forward.h) against the golden tensors of ../shared/golden
// (the compact extract tests/data/golden_small.h5: 16 jets with the published weights and 4 with
// random weights; the full float64 file too when it is beside the checkout), at the golden README's
// inference tolerance, 2e-5 * max|ref| (section 8: ~10x the worst float32-vs-float64 deviation of
// a correct float32 engine), with identical cluster ids and kNN sets. And the compressed form
// (padding-compression.md) against the same code run on all 100 rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "embed/src/forward.h"
#include "model/ucluster_model.h"
#include "tests/embed/golden_model.h"

namespace ucluster {
namespace {

using embed::JetResult;
using embed::JetRunner;
using embed::Network;
using test::GoldenArray;
using test::GoldenFile;

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double x : v) m = std::max(m, std::abs(x));
  return m;
}

struct Case {
  const char* name;
  bool full;
  const char* prefix;
};

class EmbedGolden : public testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    const std::string path = GetParam().full ? test::full_golden_path() : test::compact_golden_path();
    if (path.empty()) GTEST_SKIP() << "full golden file ../shared/golden/ucluster_golden.h5 not present";
    file_ = std::make_unique<GoldenFile>(path);
    prefix_ = GetParam().prefix;
    network_ = std::make_unique<Network>(test::golden_contents(*file_, prefix_ + "weights"));
    data_ = file_->read(prefix_ + "input/data");
  }
  GoldenArray ref(const std::string& name) const { return file_->read(prefix_ + name); }

  std::unique_ptr<GoldenFile> file_;
  std::string prefix_;
  std::unique_ptr<Network> network_;
  GoldenArray data_;
};

int real_rows(const std::vector<float>& jet) {
  for (int r = 100; r > 0; --r)
    for (int c = 0; c < 8; ++c)
      if (jet[(r - 1) * 8 + c] != 0.0f) return r;
  return 0;
}

TEST_P(EmbedGolden, OutputsAndNeighbourSetsMatchTheReference) {
  const std::int64_t jets = data_.shape[0], n = 100, k = 10;
  const GoldenArray z = ref("infer/z"), logits = ref("infer/logits"), dist = ref("infer/dist"),
                    cluster = ref("infer/cluster"), knn1 = ref("infer/knn1"), knn2 = ref("infer/knn2"),
                    cls = ref("infer/knn2_class");
  const double tz = 2e-5 * max_abs(z.values), tl = 2e-5 * max_abs(logits.values), td = 2e-5 * max_abs(dist.values);
  JetRunner runner(*network_);
  for (std::int64_t b = 0; b < jets; ++b) {
    std::vector<float> jet(data_.values.begin() + b * n * 8, data_.values.begin() + (b + 1) * n * 8);
    const int real = real_rows(jet);
    JetResult r;
    runner.run(jet.data(), real, r);
    for (int c = 0; c < 3; ++c) {
      EXPECT_NEAR(r.z[c], z.values[b * 3 + c], tz) << "jet " << b << " z[" << c << "]";
      EXPECT_NEAR(r.distances[c], dist.values[b * 3 + c], td) << "jet " << b << " distance " << c;
    }
    for (int c = 0; c < 20; ++c) EXPECT_NEAR(r.logits[c], logits.values[b * 20 + c], tl) << "jet " << b << " logit " << c;
    EXPECT_EQ(r.cluster, cluster.values[b]) << "jet " << b;

    // Neighbour sets, row by row: a golden padded index (>= real) is the compressed padding row;
    // a padded query row's list is the padding row's. kNN #2 modulo the golden equivalence class
    // of identical points (README: knn2_class).
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t row = std::min<std::int64_t>(i, real);
      for (int graph = 0; graph < 2; ++graph) {
        const GoldenArray& g = graph == 0 ? knn1 : knn2;
        const std::vector<std::int32_t>& ours_idx = graph == 0 ? runner.knn1() : runner.knn2();
        std::vector<double> want, got;
        for (std::int64_t j = 0; j < k; ++j) {
          const auto gi = static_cast<std::int64_t>(g.values[(b * n + i) * k + j]);
          const std::int64_t oi = ours_idx[row * k + j];
          if (graph == 0) {
            want.push_back(double(std::min<std::int64_t>(gi, real)));
            got.push_back(double(oi));
          } else {
            want.push_back(cls.values[b * n + gi]);
            got.push_back(cls.values[b * n + oi]);  // oi == real is a padded row: the padding class
          }
        }
        std::sort(want.begin(), want.end());
        std::sort(got.begin(), got.end());
        EXPECT_EQ(got, want) << "jet " << b << " row " << i << " knn" << graph + 1;
      }
    }
  }
}

// The compressed form against the same code on all 100 rows (the padded rows then computed one by
// one, as the reference does): jets of the golden batch cut to n = 1, 2, 5, 9, 10, 11, 30, 50, 99
// particles cover a jet with fewer real particles than k (padding in the real rows' lists), the
// first jets with k or more, one padded row, and none.
TEST_P(EmbedGolden, CompressedPaddingEqualsAllRowsComputed) {
  const std::int64_t jets = data_.shape[0], n = 100;
  JetRunner runner(*network_);
  const GoldenArray z = ref("infer/z");
  const double tz = 2e-5 * max_abs(z.values);
  for (std::int64_t b = 0; b < jets; ++b) {
    for (int cut : {1, 2, 5, 9, 10, 11, 30, 50, 99, 100}) {
      std::vector<float> jet(data_.values.begin() + b * n * 8, data_.values.begin() + (b + 1) * n * 8);
      std::fill(jet.begin() + cut * 8, jet.end(), 0.0f);
      const int real = real_rows(jet);
      if (real != cut) continue;  // the golden jet has fewer particles than the cut
      JetResult compressed, all;
      runner.run(jet.data(), real, compressed);
      runner.run(jet.data(), 100, all);
      for (int c = 0; c < 3; ++c) EXPECT_NEAR(compressed.z[c], all.z[c], tz) << "jet " << b << " cut " << cut;
      for (int c = 0; c < 20; ++c)
        EXPECT_NEAR(compressed.logits[c], all.logits[c], 2e-5 * (1 + std::abs(all.logits[c])))
            << "jet " << b << " cut " << cut << " logit " << c;
      EXPECT_EQ(compressed.cluster, all.cluster) << "jet " << b << " cut " << cut;
    }
  }
}

TEST_P(EmbedGolden, ResultsDoNotDependOnThePreviousJet) {
  JetRunner a(*network_), b(*network_);
  std::vector<float> jet0(data_.values.begin(), data_.values.begin() + 800);
  std::vector<float> jet1(data_.values.begin() + 800, data_.values.begin() + 1600);
  JetResult fresh, after;
  a.run(jet1.data(), real_rows(jet1), fresh);
  b.run(jet0.data(), real_rows(jet0), after);
  b.run(jet1.data(), real_rows(jet1), after);
  EXPECT_EQ(0, std::memcmp(&fresh, &after, sizeof fresh)) << "bits differ after another jet ran first";
}

INSTANTIATE_TEST_SUITE_P(Cases, EmbedGolden,
                         testing::Values(Case{"compact_main", false, ""}, Case{"compact_tiny", false, "tiny/"},
                                         Case{"full_main", true, ""}, Case{"full_tiny", true, "tiny/"}),
                         [](const testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace ucluster
