// The toy generator: reproducibility, the stored columns of a small hand-made jet, jet clustering,
// and physics sanity on a few hundred jets.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "io/jet_layout.h"
#include "io/toy/cluster.h"
#include "io/toy/generator.h"
#include "io/toy/observables.h"

namespace ucluster::toy {
namespace {

using namespace ucluster::jets;

TEST(ToyGenerator, SameSeedSameJetsWhateverTheThreadCount) {
  const Generator g(42);
  const int P = 100, n = 24;
  std::vector<double> raw1(n * P * kRawParticleColumns), rows1(n * kJetColumns);
  std::vector<double> raw2 = raw1, rows2 = rows1;
  g.generate_block(100, n, P, raw1.data(), rows1.data(), nullptr, 1);
  g.generate_block(100, n, P, raw2.data(), rows2.data(), nullptr, 2);
  EXPECT_EQ(raw1, raw2);
  EXPECT_EQ(rows1, rows2);
  // Jet i depends only on (seed, i): a block starting later sees the same jet 105.
  std::vector<double> raw3(P * kRawParticleColumns), row3(kJetColumns);
  g.generate(105, P, raw3.data(), row3.data());
  EXPECT_TRUE(std::equal(raw3.begin(), raw3.end(), raw1.begin() + 5 * P * kRawParticleColumns));
  // Another seed, other jets.
  const Generator other(43);
  other.generate(105, P, raw3.data(), row3.data());
  EXPECT_FALSE(std::equal(raw3.begin(), raw3.end(), raw1.begin() + 5 * P * kRawParticleColumns));
}

TEST(ToyObservables, ConstituentColumnsOfATwoParticleJet) {
  // A hard particle near the axis and a softer one at (eta, phi) = (0.3, 0.4).
  const Vec4 a = from_pt_eta_phi_m(900.0, 0.0, 0.0, 0.0);
  const Vec4 b = from_pt_eta_phi_m(100.0, 0.3, 0.4, 0.0);
  std::vector<double> raw(3 * kRawParticleColumns, -1.0);
  constituent_columns({a, b}, 3, raw.data());
  // Jet = a + b, worked out from the components.
  const double jpx = 900.0 + 100.0 * std::cos(0.4), jpy = 100.0 * std::sin(0.4), jpz = 100.0 * std::sinh(0.3);
  const double jpt = std::hypot(jpx, jpy), je = 900.0 + 100.0 * std::cosh(0.3);
  const double jeta = std::asinh(jpz / jpt), jphi = std::atan2(jpy, jpx);
  const double* rb = raw.data() + kRawParticleColumns;
  EXPECT_NEAR(rb[kPx], 100.0 * std::cos(0.4), 1e-9);
  EXPECT_NEAR(rb[kE], 100.0 * std::cosh(0.3), 1e-9);
  EXPECT_NEAR(rb[kERel], 100.0 * std::cosh(0.3) / je, 1e-12);
  EXPECT_NEAR(rb[kPt], 100.0, 1e-9);
  EXPECT_NEAR(rb[kPtRel], 100.0 / jpt, 1e-12);
  EXPECT_NEAR(rb[kEta], 0.3, 1e-12);
  EXPECT_NEAR(rb[kEtaRel], 0.3 - jeta, 1e-12);
  EXPECT_NEAR(rb[kPhi], 0.4, 1e-12);
  EXPECT_NEAR(rb[kPhiRel], 0.4 - jphi, 1e-12);
  const double dr_b = std::hypot(0.3 - jeta, 0.4 - jphi);
  EXPECT_NEAR(rb[kDeltaR], dr_b, 1e-12);
  EXPECT_NEAR(rb[kCosTheta], std::tanh(0.3), 1e-12);
  // Rotation (data-format.md 3.4): b (the hardest constituent beyond 0.1) lands on +y, and a is
  // at distance dr_a on the side that makes the positive-x pT sum the larger one.
  EXPECT_NEAR(rb[kEtaRot], 0.0, 1e-12);
  EXPECT_NEAR(rb[kPhiRot], dr_b, 1e-12);
  EXPECT_NEAR(rb[kCosThetaRel], 0.0, 1e-12);
  const double* ra = raw.data();
  const double dr_a = std::hypot(jeta, jphi);
  EXPECT_LT(dr_a, 0.1);
  EXPECT_NEAR(std::hypot(ra[kEtaRot], ra[kPhiRot]), dr_a, 1e-12);
  EXPECT_GE(ra[kEtaRot], 0.0);
  EXPECT_NEAR(ra[kCosThetaRel], std::tanh(ra[kEtaRot]), 1e-15);
  for (int c = 0; c < kRawParticleColumns; ++c) EXPECT_EQ(raw[2 * kRawParticleColumns + c], 0.0) << "padding";

  std::vector<double> row(kJetColumns);
  jet_columns({a, b}, JetClass::Z, row.data());
  EXPECT_NEAR(row[kJetPt], jpt, 1e-9);
  EXPECT_NEAR(row[kJetEta], jeta, 1e-12);
  const double m2 = je * je - jpx * jpx - jpy * jpy - jpz * jpz;
  EXPECT_NEAR(row[kJetMass], std::sqrt(m2), 1e-6);
  EXPECT_EQ(row[kJetMultiplicity], 2.0);
  EXPECT_EQ(row[kJetZ], 1.0);
  EXPECT_EQ(row[kJetW] + row[kJetG] + row[kJetQ] + row[kJetT] + row[kJetUndef], 0.0);
  // C1 at beta = 0: pT_a pT_b / (pT_a + pT_b)^2.
  EXPECT_NEAR(row[kJetC1B0], 900.0 * 100.0 / (1000.0 * 1000.0), 1e-12);
}

TEST(ToyCluster, AntiKtSeparatesFarAndMergesNearParticles) {
  const std::vector<Vec4> ps = {from_pt_eta_phi_m(500, 0, 0, 0), from_pt_eta_phi_m(20, 0.5, 0.2, 0),
                                from_pt_eta_phi_m(300, 0, 2.5, 0), from_pt_eta_phi_m(1, 1.2, 0, 0)};
  const ClusterHistory h = cluster(ps, -1, 0.8, true);
  ASSERT_EQ(h.jets.size(), 3u);  // {0, 1}, {2}, {3}
  std::vector<int> counts;
  for (int j : h.jets) {
    std::vector<int> leaves;
    leaves_of(h, j, leaves);
    counts.push_back(static_cast<int>(leaves.size()));
    if (leaves.size() == 2) {
      EXPECT_NEAR(h.nodes[j].p.pt(), (ps[0] + ps[1]).pt(), 1e-9);
    }
  }
  std::sort(counts.begin(), counts.end());
  EXPECT_EQ(counts, (std::vector<int>{1, 1, 2}));
  // Exclusive kT down to 2 objects keeps the two hard regions apart.
  const ClusterHistory kt = cluster(ps, 1, 1.0, false, 1, 3);
  EXPECT_EQ(kt.snapshots[2].size(), 2u);
  EXPECT_EQ(kt.snapshots[3].size(), 3u);
  EXPECT_EQ(kt.jets.size(), 1u);
}

TEST(ToyGenerator, JetsLookLikeBoostedWZTop) {
  const Generator g(7);
  const int P = 100, n = 240;
  std::vector<double> raw(n * P * kRawParticleColumns), rows(n * kJetColumns);
  g.generate_block(0, n, P, raw.data(), rows.data(), nullptr, 2);
  double msum[3] = {0, 0, 0}, count[3] = {0, 0, 0};
  std::vector<double> pts;
  int outside = 0, constituents = 0;
  for (int i = 0; i < n; ++i) {
    const double* r = rows.data() + i * kJetColumns;
    pts.push_back(r[kJetPt]);
    int ones = 0;
    for (int c = kJetG; c <= kJetUndef; ++c) ones += r[c] == 1.0;
    ASSERT_EQ(ones, 1);
    const int cls = r[kJetW] == 1 ? 0 : r[kJetZ] == 1 ? 1 : 2;
    ASSERT_EQ(r[kJetG] + r[kJetQ], 0.0);
    msum[cls] += r[kJetMass];
    count[cls] += 1;
    // Constituents: sorted by decreasing pT, then zero padding.
    const double* c = raw.data() + static_cast<std::size_t>(i) * P * kRawParticleColumns;
    int k = 0;
    while (k < P && c[k * kRawParticleColumns + kPt] > 0) {
      if (k > 0) {
        EXPECT_LE(c[k * kRawParticleColumns + kPt], c[(k - 1) * kRawParticleColumns + kPt]);
      }
      // Anti-kT works in rapidity, deltaR uses pseudorapidity: soft massive hadrons may sit
      // beyond R = 0.8 in (eta, phi), as in the real files, but they are few.
      outside += c[k * kRawParticleColumns + kDeltaR] > 0.8;
      ++constituents;
      ++k;
    }
    EXPECT_GE(k, 5);
    EXPECT_EQ(static_cast<int>(std::min<double>(P, r[kJetMultiplicity])), k);
    for (int q = k * kRawParticleColumns; q < P * kRawParticleColumns; ++q) ASSERT_EQ(c[q], 0.0);
  }
  EXPECT_LT(outside, constituents / 30);
  // Jet pT near 1 TeV: the median within 3 %, most jets within 15 % (the neutral-hadron
  // resolution of the detector and the 5 % of ISR jets give tails).
  std::sort(pts.begin(), pts.end());
  EXPECT_NEAR(pts[n / 2], 1000.0, 30.0);
  EXPECT_GT(pts[n / 10], 850.0);
  EXPECT_LT(pts[n - n / 10], 1100.0);
  for (int c = 0; c < 3; ++c) ASSERT_GT(count[c], 40);
  EXPECT_NEAR(msum[0] / count[0], 81.0, 6.0);   // W
  EXPECT_NEAR(msum[1] / count[1], 90.0, 6.0);   // Z
  EXPECT_NEAR(msum[2] / count[2], 162.0, 12.0);  // top
}

}  // namespace
}  // namespace ucluster::toy
