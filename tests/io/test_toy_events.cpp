// The event toy of ucluster-ad-spec.md 5.3 (no HDF5): reproducibility, the signal fraction, the row
// layout of spec 1.1, and the physics targets of spec 5.4 measured with the summary checker.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "io/toy/event_summary.h"
#include "io/toy/events.h"

namespace ucluster::toy {
namespace {

std::vector<double> make_rows(std::uint64_t seed, double fraction, std::int64_t n, int threads, std::int64_t first = 0) {
  std::vector<double> rows(static_cast<std::size_t>(n) * kLhcoColumns);
  EventGenerator(seed, fraction).generate_block(first, n, rows.data(), threads);
  return rows;
}

std::int64_t count_signal(const std::vector<double>& rows) {
  std::int64_t s = 0;
  for (std::size_t i = kLhcoParticleColumns; i < rows.size(); i += kLhcoColumns) s += rows[i] == 1.0;
  return s;
}

// A physics sample shared by the tests below: 3000 events, half signal (about 1.5 s in Release).
const std::vector<double>& physics_sample() {
  static const std::vector<double> rows = make_rows(7, 0.5, 3000, 2);
  return rows;
}

TEST(ToyEvents, SameSeedSameRowsWhateverTheThreadCount) {
  const auto a = make_rows(11, 0.3, 40, 1), b = make_rows(11, 0.3, 40, 2);
  ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(double)), 0);
  // Event i depends on (seed, i) only: a block starting at 20 repeats rows 20..39.
  const auto tail = make_rows(11, 0.3, 20, 1, 20);
  EXPECT_EQ(std::memcmp(a.data() + 20 * kLhcoColumns, tail.data(), tail.size() * sizeof(double)), 0);
  const auto c = make_rows(12, 0.3, 40, 1);
  std::int64_t differing = 0;
  for (int i = 0; i < 40; ++i) differing += a[static_cast<std::size_t>(i) * kLhcoColumns] != c[static_cast<std::size_t>(i) * kLhcoColumns];
  EXPECT_GE(differing, 39) << "another seed should change every event";
}

TEST(ToyEvents, SignalFractionWithinFiveBinomialSigma) {
  const std::vector<double>& rows = physics_sample();
  const double n = 3000, p = 0.5, sigma = std::sqrt(n * p * (1 - p));  // 27.4 events
  EXPECT_NEAR(static_cast<double>(count_signal(rows)), n * p, 5 * sigma);
  // f = 0.1 on 2000 cheap-to-check events: sigma = 13.4.
  EXPECT_NEAR(static_cast<double>(count_signal(make_rows(3, 0.1, 2000, 2))), 200.0, 5 * std::sqrt(2000 * 0.1 * 0.9));
  EXPECT_EQ(count_signal(make_rows(5, 0.0, 30, 2)), 0);
  EXPECT_EQ(count_signal(make_rows(5, 1.0, 30, 2)), 30);
  EXPECT_THROW(EventGenerator(1, 1.5), std::exception);
}

TEST(ToyEvents, RowsFollowTheRnDLayout) {
  const std::vector<double>& rows = physics_sample();
  for (std::int64_t e = 0; e < 200; ++e) {
    const double* r = rows.data() + e * kLhcoColumns;
    int n = 0;
    while (n < kLhcoParticles && r[3 * n] > 0) ++n;
    ASSERT_GE(n, 20) << "event " << e;
    for (int i = 0; i < kLhcoParticles; ++i) {
      if (i < n) {
        ASSERT_TRUE(i == 0 || r[3 * i] <= r[3 * (i - 1)]) << "not pT-descending, event " << e;
        ASSERT_LT(std::fabs(r[3 * i + 1]), 5.0);
        ASSERT_LE(std::fabs(r[3 * i + 2]), M_PI);
      } else {
        ASSERT_TRUE(r[3 * i] == 0 && r[3 * i + 1] == 0 && r[3 * i + 2] == 0) << "padding, event " << e;
      }
    }
    ASSERT_TRUE(r[kLhcoParticleColumns] == 0.0 || r[kLhcoParticleColumns] == 1.0);
  }
}

// Spec 5.4 targets on the stored (massless, detector-level) particles, re-clustered with anti-kT
// R = 1.0. Windows: signal jet masses "near 500 and 100 GeV, somewhat low after the detector";
// m_jj peak at 3.5 TeV with a 5-8 % width; background falling from the trigger threshold.
TEST(ToyEvents, PhysicsMatchesTheSpecTargets) {
  const std::vector<double>& rows = physics_sample();
  EventSummary summary;
  for (std::size_t i = 0; i < rows.size(); i += kLhcoColumns) summary.add(rows.data() + i, kLhcoColumns);
  const EventClassStats sig = summary.stats(1), bkg = summary.stats(0);
  ASSERT_GT(sig.events, 1000);
  ASSERT_GT(bkg.events, 1000);
  EXPECT_GT(sig.two_jet_fraction, 0.99);
  EXPECT_GT(bkg.two_jet_fraction, 0.99);
  // Signal: X and Y masses, two-prong tau21, the W' peak.
  EXPECT_NEAR(sig.m_heavy_median, 480.0, 50.0);
  EXPECT_NEAR(sig.m_heavy_mode, 490.0, 40.0);
  EXPECT_NEAR(sig.m_light_median, 97.0, 20.0);
  EXPECT_NEAR(sig.m_light_mode, 95.0, 20.0);
  EXPECT_NEAR(sig.mjj_median, 3480.0, 100.0);
  EXPECT_GT(sig.mjj_rel_width, 0.03);
  EXPECT_LT(sig.mjj_rel_width, 0.09);
  EXPECT_GT(sig.sr_fraction, 0.6);
  EXPECT_LT(sig.tau21_heavy_median, 0.45);
  EXPECT_LT(sig.tau21_light_median, 0.45);
  EXPECT_NEAR(sig.lead_pt_median, 1650.0, 150.0);
  // Background: falling m_jj from the trigger, broad light jets, one-prong tau21.
  EXPECT_LT(bkg.mjj_median, 3200.0);
  EXPECT_GT(bkg.mjj_p16, 2300.0);
  EXPECT_LT(bkg.sr_fraction, 0.2);
  EXPECT_GT(bkg.m_heavy_median, 60.0);
  EXPECT_LT(bkg.m_heavy_median, 250.0);
  EXPECT_GT(bkg.tau21_heavy_median, 0.45);
  EXPECT_GT(bkg.tau21_light_median, 0.5);
  EXPECT_GT(bkg.lead_pt_median, 1200.0);
}

}  // namespace
}  // namespace ucluster::toy
