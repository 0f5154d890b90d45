// The anomaly-detection report (train/event_report.h, ucluster-ad-spec.md §3.2) on small hand-built
// event sets whose numbers are worked out in the comments.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/error.h"
#include "train/event_report.h"

namespace ucluster {
namespace {

struct Event {
  int cluster;
  int is_signal;
  float ln_mj1;
};

// The columnar inputs of event_report; the other global columns hold a decoy (ln m_J2 = 10 - ln m_J1,
// so a rule reading the wrong column picks the lightest cluster instead).
struct Events {
  std::vector<std::int32_t> cluster, is_signal;
  std::vector<float> global;

  explicit Events(const std::vector<Event>& events) {
    for (const Event& e : events) {
      cluster.push_back(e.cluster);
      is_signal.push_back(e.is_signal);
      global.insert(global.end(), {e.ln_mj1, 0.3f, 10.0f - e.ln_mj1, 0.7f});
    }
  }
  std::int64_t n() const { return static_cast<std::int64_t>(cluster.size()); }
  EventReport report(int k, std::uint64_t seed = 1) const {
    return event_report(cluster.data(), is_signal.data(), global.data(), n(), k, seed);
  }
};

// K = 3, 20 events, interleaved:
//   cluster 0: 10 events, 1 signal;  ln m_J1 = 4.0 x 9 and 5.0 -> mean 4.1
//   cluster 1:  6 events, 3 signal;  ln m_J1 = 6.5, 5.5, 6.0, 6.0, 6.2, 5.8 -> mean 6.0
//   cluster 2:  4 events, 0 signal;  ln m_J1 = 5.0, 5.2, 4.8, 5.0 -> mean 5.0
// S = 4, B = 16, f_in = 0.2.
Events three_clusters() {
  return Events({{0, 0, 4.0f}, {1, 1, 6.5f}, {2, 0, 5.0f}, {0, 1, 5.0f}, {1, 0, 5.5f}, {0, 0, 4.0f}, {2, 0, 5.2f},
                 {1, 1, 6.0f}, {0, 0, 4.0f}, {0, 0, 4.0f}, {1, 0, 6.0f}, {0, 0, 4.0f}, {2, 0, 4.8f}, {1, 1, 6.2f},
                 {0, 0, 4.0f}, {0, 0, 4.0f}, {1, 0, 5.8f}, {2, 0, 5.0f}, {0, 0, 4.0f}, {0, 0, 4.0f}});
}

void expect_error(const std::function<void()>& call, const std::string& needle) {
  try {
    call();
    ADD_FAILURE() << "no ucluster::Error thrown (expected one containing '" << needle << "')";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(EventReport, InputTotals) {
  const EventReport r = three_clusters().report(3);
  EXPECT_EQ(r.events, 20);
  EXPECT_EQ(r.signal, 4);
  EXPECT_EQ(r.background, 16);
  EXPECT_DOUBLE_EQ(r.f_in, 0.2);
  EXPECT_DOUBLE_EQ(r.f_in_error, std::sqrt(0.2 * 0.8 / 20));  // 0.0894
  EXPECT_DOUBLE_EQ(r.s_over_b_in, 0.25);
  ASSERT_EQ(r.clusters.size(), 3u);
}

TEST(EventReport, PerClusterCountsAndFractions) {
  const EventReport r = three_clusters().report(3);
  const EventClusterStats& c0 = r.clusters[0];
  EXPECT_EQ(c0.cluster, 0);
  EXPECT_EQ(c0.events, 10);
  EXPECT_EQ(c0.signal, 1);
  EXPECT_EQ(c0.background, 9);
  EXPECT_DOUBLE_EQ(c0.purity, 0.1);
  EXPECT_DOUBLE_EQ(c0.purity_error, std::sqrt(0.1 * 0.9 / 10));
  EXPECT_DOUBLE_EQ(c0.s_over_b, 1.0 / 9);
  EXPECT_DOUBLE_EQ(c0.signal_efficiency, 0.25);       // 1/4
  EXPECT_DOUBLE_EQ(c0.background_efficiency, 0.5625);  // 9/16
  EXPECT_DOUBLE_EQ(c0.significance_improvement, 0.25 / 0.75);
  EXPECT_DOUBLE_EQ(c0.enrichment, 0.5);  // 0.1 / 0.2

  const EventClusterStats& c1 = r.clusters[1];
  EXPECT_EQ(c1.cluster, 1);
  EXPECT_EQ(c1.events, 6);
  EXPECT_EQ(c1.signal, 3);
  EXPECT_EQ(c1.background, 3);
  EXPECT_DOUBLE_EQ(c1.purity, 0.5);
  EXPECT_DOUBLE_EQ(c1.purity_error, 0.5 / std::sqrt(6.0));
  EXPECT_DOUBLE_EQ(c1.s_over_b, 1.0);
  EXPECT_DOUBLE_EQ(c1.signal_efficiency, 0.75);
  EXPECT_DOUBLE_EQ(c1.background_efficiency, 0.1875);
  EXPECT_NEAR(c1.significance_improvement, std::sqrt(3.0), 1e-12);  // 0.75 / sqrt(3/16)
  EXPECT_DOUBLE_EQ(c1.enrichment, 2.5);

  const EventClusterStats& c2 = r.clusters[2];
  EXPECT_EQ(c2.events, 4);
  EXPECT_EQ(c2.signal, 0);
  EXPECT_EQ(c2.background, 4);
  EXPECT_EQ(c2.purity, 0.0);
  EXPECT_EQ(c2.purity_error, 0.0);
  EXPECT_EQ(c2.s_over_b, 0.0);
  EXPECT_EQ(c2.signal_efficiency, 0.0);
  EXPECT_DOUBLE_EQ(c2.background_efficiency, 0.25);
  EXPECT_EQ(c2.significance_improvement, 0.0);
  EXPECT_EQ(c2.enrichment, 0.0);
}

TEST(EventReport, MeanLnMj1ReadsTheFirstGlobalColumn) {
  const EventReport r = three_clusters().report(3);
  EXPECT_NEAR(r.clusters[0].mean_ln_mj1, 4.1, 1e-6);
  EXPECT_NEAR(r.clusters[1].mean_ln_mj1, 6.0, 1e-6);
  EXPECT_NEAR(r.clusters[2].mean_ln_mj1, 5.0, 1e-6);
}

TEST(EventReport, PicksAndRandomBaseline) {
  const EventReport r = three_clusters().report(3);
  EXPECT_EQ(r.best_by_truth, 1);
  EXPECT_EQ(r.label_free_pick, 1);  // heaviest mean ln m_J1 (the decoy column would give cluster 0)
  EXPECT_NE(r.label_free_rule.find("largest mean ln m_J1"), std::string::npos) << r.label_free_rule;
  EXPECT_EQ(r.smallest_cluster, 2);
  EXPECT_DOUBLE_EQ(r.mean_cluster_purity, (0.1 + 0.5 + 0.0) / 3);
}

TEST(EventReport, LabelFreePickCanDifferFromTruth) {
  // Cluster 0: 2 signal events with light J1; cluster 1: 5 background events with heavy J1.
  const Events e({{0, 1, 4.0f}, {1, 0, 6.0f}, {1, 0, 6.1f}, {0, 1, 4.2f}, {1, 0, 5.9f}, {1, 0, 6.0f}, {1, 0, 6.0f}});
  const EventReport r = e.report(2);
  EXPECT_EQ(r.best_by_truth, 0);
  EXPECT_EQ(r.label_free_pick, 1);
  EXPECT_EQ(r.smallest_cluster, 0);
  const nlohmann::json j = r.to_json();
  EXPECT_EQ(j["label_free_is_best"], false);
  EXPECT_EQ(j["smallest_is_best"], true);
}

TEST(EventReport, UndefinedRatiosAreInfOrNanAndNullInJson) {
  // Cluster 0: 2 signal, no background; cluster 1: 3 background. S/B_0 and SIC_0 divide by zero.
  const Events e({{0, 1, 6.0f}, {1, 0, 4.0f}, {0, 1, 6.0f}, {1, 0, 4.0f}, {1, 0, 4.0f}});
  const EventReport r = e.report(2);
  EXPECT_DOUBLE_EQ(r.clusters[0].purity, 1.0);
  EXPECT_EQ(r.clusters[0].purity_error, 0.0);
  EXPECT_TRUE(std::isinf(r.clusters[0].s_over_b));
  EXPECT_EQ(r.clusters[0].background_efficiency, 0.0);
  EXPECT_TRUE(std::isinf(r.clusters[0].significance_improvement));
  EXPECT_DOUBLE_EQ(r.clusters[0].enrichment, 2.5);  // 1 / 0.4
  const nlohmann::json c0 = r.to_json()["clusters"][0];
  EXPECT_TRUE(c0["s_over_b"].is_null());
  EXPECT_TRUE(c0["significance_improvement"].is_null());
  EXPECT_EQ(c0["purity"], 1.0);

  // No signal at all: efficiencies of signal and enrichment are undefined (NaN), S/B_in = 0.
  const Events bkg({{0, 0, 5.0f}, {1, 0, 5.0f}, {1, 0, 5.0f}});
  const EventReport b = bkg.report(2);
  EXPECT_EQ(b.s_over_b_in, 0.0);
  EXPECT_TRUE(std::isnan(b.clusters[1].signal_efficiency));
  EXPECT_TRUE(std::isnan(b.clusters[1].enrichment));
  EXPECT_EQ(b.best_by_truth, 0);  // all purities 0: the lower index
  EXPECT_TRUE(b.to_json()["clusters"][1]["enrichment"].is_null());
  EXPECT_EQ(b.to_json()["s_over_b_in"], 0.0);
}

TEST(EventReport, EmptyClustersAreListedButNeverPicked) {
  // K = 4; cluster 1 and 3 hold no event. Cluster 0: 3 background (ln m 7); cluster 2: 1 signal of 2.
  const Events e({{0, 0, 7.0f}, {2, 1, 5.0f}, {0, 0, 7.0f}, {2, 0, 5.0f}, {0, 0, 7.0f}});
  const EventReport r = e.report(4);
  ASSERT_EQ(r.clusters.size(), 4u);
  for (int c : {1, 3}) {
    const EventClusterStats& s = r.clusters[c];
    EXPECT_EQ(s.cluster, c);
    EXPECT_EQ(s.events, 0);
    EXPECT_EQ(s.signal, 0);
    EXPECT_EQ(s.background, 0);
    EXPECT_TRUE(std::isnan(s.purity));
    EXPECT_TRUE(std::isnan(s.purity_error));
    EXPECT_TRUE(std::isnan(s.s_over_b));
    EXPECT_TRUE(std::isnan(s.mean_ln_mj1));
    EXPECT_EQ(s.signal_efficiency, 0.0);
    EXPECT_EQ(s.background_efficiency, 0.0);
  }
  EXPECT_EQ(r.best_by_truth, 2);
  EXPECT_EQ(r.label_free_pick, 0);
  EXPECT_EQ(r.smallest_cluster, 2);                   // 2 events; the empty ones do not count
  EXPECT_DOUBLE_EQ(r.mean_cluster_purity, 0.25);      // (0 + 0.5) / 2 non-empty clusters
  std::set<int> drawn;
  for (std::uint64_t seed = 0; seed < 64; ++seed) drawn.insert(e.report(4, seed).random_cluster);
  EXPECT_EQ(drawn, (std::set<int>{0, 2}));

  const nlohmann::json c1 = r.to_json()["clusters"][1];
  EXPECT_EQ(c1["events"], 0);
  EXPECT_TRUE(c1["purity"].is_null());
  EXPECT_TRUE(c1["mean_ln_mj1"].is_null());
}

TEST(EventReport, TiesGoToTheLowerIndex) {
  // Purities 0.25, 0.5, 0.5 and sizes 4, 2, 2; equal mean ln m_J1 in clusters 1 and 2.
  const Events e({{0, 1, 3.0f}, {0, 0, 3.0f}, {0, 0, 3.0f}, {0, 0, 3.0f}, {2, 1, 6.0f}, {2, 0, 6.0f},
                  {1, 1, 6.0f}, {1, 0, 6.0f}});
  const EventReport r = e.report(3);
  EXPECT_EQ(r.best_by_truth, 1);
  EXPECT_EQ(r.label_free_pick, 1);
  EXPECT_EQ(r.smallest_cluster, 1);
}

TEST(EventReport, RandomClusterIsSeededAndUniform) {
  const Events e = three_clusters();
  std::vector<int> counts(3, 0);
  for (std::uint64_t seed = 0; seed < 300; ++seed) {
    const int c = e.report(3, seed).random_cluster;
    ASSERT_TRUE(c >= 0 && c < 3) << c;
    ++counts[c];
    EXPECT_EQ(e.report(3, seed).random_cluster, c) << "seed " << seed;
  }
  for (int c = 0; c < 3; ++c) EXPECT_GT(counts[c], 60) << "cluster " << c;  // expected 100 each
  EXPECT_EQ(e.report(3, 42).random_seed, 42u);
}

TEST(EventReport, JsonFields) {
  const nlohmann::json j = three_clusters().report(3, 7).to_json();
  std::set<std::string> keys;
  for (const auto& item : j.items()) keys.insert(item.key());
  EXPECT_EQ(keys, (std::set<std::string>{"events", "signal", "background", "f_in", "f_in_error", "s_over_b_in",
                                         "num_clusters", "clusters", "best_by_truth", "label_free_pick",
                                         "label_free_rule", "label_free_is_best", "smallest_cluster",
                                         "smallest_is_best", "random_cluster", "random_seed",
                                         "mean_cluster_purity"}));
  EXPECT_EQ(j["events"], 20);
  EXPECT_EQ(j["signal"], 4);
  EXPECT_EQ(j["background"], 16);
  EXPECT_DOUBLE_EQ(j["f_in"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(j["s_over_b_in"].get<double>(), 0.25);
  EXPECT_EQ(j["num_clusters"], 3);
  EXPECT_EQ(j["best_by_truth"], 1);
  EXPECT_EQ(j["label_free_pick"], 1);
  EXPECT_EQ(j["label_free_is_best"], true);
  EXPECT_EQ(j["smallest_cluster"], 2);
  EXPECT_EQ(j["smallest_is_best"], false);
  EXPECT_EQ(j["random_seed"], 7);
  EXPECT_DOUBLE_EQ(j["mean_cluster_purity"].get<double>(), 0.2);

  ASSERT_EQ(j["clusters"].size(), 3u);
  const nlohmann::json c1 = j["clusters"][1];
  std::set<std::string> cluster_keys;
  for (const auto& item : c1.items()) cluster_keys.insert(item.key());
  EXPECT_EQ(cluster_keys, (std::set<std::string>{"cluster", "events", "signal", "background", "purity",
                                                 "purity_error", "s_over_b", "signal_efficiency",
                                                 "background_efficiency", "significance_improvement",
                                                 "enrichment", "mean_ln_mj1"}));
  EXPECT_EQ(c1["cluster"], 1);
  EXPECT_EQ(c1["events"], 6);
  EXPECT_EQ(c1["signal"], 3);
  EXPECT_EQ(c1["background"], 3);
  EXPECT_DOUBLE_EQ(c1["purity"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(c1["s_over_b"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(c1["signal_efficiency"].get<double>(), 0.75);
  EXPECT_DOUBLE_EQ(c1["background_efficiency"].get<double>(), 0.1875);
  EXPECT_DOUBLE_EQ(c1["enrichment"].get<double>(), 2.5);
  EXPECT_NEAR(c1["mean_ln_mj1"].get<double>(), 6.0, 1e-6);
}

TEST(EventReport, TableShowsEveryClusterAndThePicks) {
  const Events e({{0, 1, 6.0f}, {1, 0, 4.0f}, {0, 1, 6.0f}, {1, 0, 4.0f}, {1, 0, 4.0f}});
  const std::string t = e.report(3).table();
  EXPECT_NE(t.find("5 events: 2 signal, 3 background"), std::string::npos) << t;
  EXPECT_NE(t.find("f_in = 40.000 %"), std::string::npos) << t;
  // Cluster 0: purity 100 %, S/B infinite; cluster 2 is empty (undefined purity printed as "-").
  EXPECT_NE(t.find("      0         2         2  100.000   0.000        inf"), std::string::npos) << t;
  EXPECT_NE(t.find("      2         0         0        -       -          -"), std::string::npos) << t;
  EXPECT_NE(t.find("best by truth (largest purity): cluster 0"), std::string::npos) << t;
  EXPECT_NE(t.find("label-free pick (largest mean ln m_J1): cluster 0 (same as best by truth)"), std::string::npos)
      << t;
  EXPECT_NE(t.find("smallest cluster: cluster 0 (same as best by truth)"), std::string::npos) << t;
}

TEST(EventReport, BadInputsThrow) {
  const Events e = three_clusters();
  expect_error([&] { e.report(2); }, "has cluster id 2, outside 0..1");
  Events negative = e;
  negative.cluster[5] = -1;
  expect_error([&] { negative.report(3); }, "event 5 has cluster id -1");
  Events bad_truth = e;
  bad_truth.is_signal[3] = 2;
  expect_error([&] { bad_truth.report(3); }, "event 3 has is_signal = 2, must be 0 or 1");
  expect_error([&] { event_report(e.cluster.data(), e.is_signal.data(), e.global.data(), 0, 3, 1); }, "no events");
  expect_error([&] { e.report(0); }, "num_clusters = 0");
  Events nan_mass = e;
  nan_mass.global[4 * 7] = NAN;
  expect_error([&] { nan_mass.report(3); }, "event 7 has ln m_J1");
}

TEST(ClusterHistogram, BinsClampsAndSplitsByTruth) {
  // [0, 10] in 5 bins of width 2; below 0 goes to bin 0, at or above 10 to bin 4.
  const std::vector<std::int32_t> cluster = {0, 0, 0, 0, 1, 1, 1, 1, 1, 0};
  const std::vector<std::int32_t> truth = {0, 0, 1, 0, 1, 1, 0, 0, 0, 1};
  const std::vector<float> values = {-3.0f, 1.99f, 2.0f, 9.99f, 10.0f, 25.0f, INFINITY, -INFINITY, 5.0f, 0.0f};
  const ClusterHistogram h = cluster_histogram(cluster.data(), truth.data(), values.data(), 10, 2, 0.0, 10.0, 5);
  EXPECT_EQ(h.bins, 5);
  EXPECT_EQ(h.lo, 0.0);
  EXPECT_EQ(h.hi, 10.0);
  using Rows = std::vector<std::vector<std::int64_t>>;
  EXPECT_EQ(h.background, (Rows{{2, 0, 0, 0, 1}, {1, 0, 1, 0, 1}}));
  EXPECT_EQ(h.signal, (Rows{{1, 1, 0, 0, 0}, {0, 0, 0, 0, 2}}));

  const nlohmann::json j = h.to_json();
  EXPECT_EQ(j["bins"], 5);
  EXPECT_EQ(j["lo"], 0.0);
  EXPECT_EQ(j["hi"], 10.0);
  EXPECT_EQ(j["edges"], nlohmann::json({0.0, 2.0, 4.0, 6.0, 8.0, 10.0}));
  EXPECT_EQ(j["background"], nlohmann::json(h.background));
  EXPECT_EQ(j["signal"][1], nlohmann::json({0, 0, 0, 0, 2}));
}

TEST(ClusterHistogram, EmptyClusterHasZeroRows) {
  const std::vector<std::int32_t> cluster = {2, 0}, truth = {1, 0};
  const std::vector<float> values = {0.5f, 0.25f};
  const ClusterHistogram h = cluster_histogram(cluster.data(), truth.data(), values.data(), 2, 3, 0.0, 1.0, 4);
  ASSERT_EQ(h.signal.size(), 3u);
  ASSERT_EQ(h.background.size(), 3u);
  EXPECT_EQ(h.signal[1], (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(h.background[1], (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(h.signal[2], (std::vector<std::int64_t>{0, 0, 1, 0}));
  EXPECT_EQ(h.background[0], (std::vector<std::int64_t>{0, 1, 0, 0}));
}

TEST(ClusterHistogram, BadInputsThrow) {
  const std::vector<std::int32_t> cluster = {0, 1}, truth = {0, 1};
  const std::vector<float> values = {1.0f, NAN};
  const auto hist = [&](std::int64_t n, int k, double lo, double hi, int bins) {
    cluster_histogram(cluster.data(), truth.data(), values.data(), n, k, lo, hi, bins);
  };
  expect_error([&] { hist(2, 2, 0.0, 2.0, 4); }, "event 1 has a NaN value");
  expect_error([&] { hist(1, 2, 2.0, 2.0, 4); }, "lo < hi");
  expect_error([&] { hist(1, 2, 0.0, INFINITY, 4); }, "finite");
  expect_error([&] { hist(1, 2, 0.0, 2.0, 0); }, "bins = 0");
  expect_error([&] { hist(2, 1, 0.0, 2.0, 4); }, "event 1 has cluster id 1, outside 0..0");
  expect_error([&] { hist(0, 2, 0.0, 2.0, 4); }, "no events");
}

}  // namespace
}  // namespace ucluster
