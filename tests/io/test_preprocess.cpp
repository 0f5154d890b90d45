// The preprocessing of spec section 1 against values worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "io/preprocess.h"

namespace ucluster::jets {
namespace {

std::vector<double> raw_particle(double etarel, double phirel, double ptrel, double deltar, double e, double erel,
                                 double pt, double costhetarel) {
  std::vector<double> r(kRawParticleColumns, 0.0);
  r[kEtaRel] = etarel;
  r[kPhiRel] = phirel;
  r[kPtRel] = ptrel;
  r[kDeltaR] = deltar;
  r[kE] = e;
  r[kERel] = erel;
  r[kPt] = pt;
  r[kCosThetaRel] = costhetarel;
  r[kEta] = 7.0;  // columns not used by the preprocessing
  r[kPx] = -3.0;
  return r;
}

TEST(Preprocess, ParticleFeaturesOfASmallJetMatchHandWorkedValues) {
  // Three slots: a real particle, a particle with non-positive and infinite inputs, padding.
  std::vector<double> raw = raw_particle(0.1, -0.2, 0.5, 0.2236068, 100.0, 0.25, 50.0, 0.3);
  const double inf = std::numeric_limits<double>::infinity();
  const auto odd = raw_particle(-inf, 0.05, -1.0, 0.06, inf, 0.0, 2.0, -0.7);
  raw.insert(raw.end(), odd.begin(), odd.end());
  raw.insert(raw.end(), kRawParticleColumns, 0.0);
  std::vector<float> out(3 * kFeatures, -99.0f);
  particle_features(raw.data(), 3, out.data());
  // Order (spec 1.3): etarel, phirel, ln ptrel, deltaR, ln e, ln erel, ln pt, costhetarel.
  // ln 0.5 = -0.693147, ln 100 = 4.605170, ln 0.25 = -1.386294, ln 50 = 3.912023.
  const std::vector<float> first = {0.1f, -0.2f, -0.6931472f, 0.2236068f, 4.6051702f, -1.3862944f, 3.9120230f, 0.3f};
  for (int f = 0; f < kFeatures; ++f) EXPECT_NEAR(out[f], first[f], 1e-6) << "feature " << f;
  // -inf etarel -> 0; ln(-1) -> 0 (masked log); ln(inf) = inf -> 0; ln 0 -> 0; ln 2 = 0.693147.
  const std::vector<float> second = {0.0f, 0.05f, 0.0f, 0.06f, 0.0f, 0.0f, 0.6931472f, -0.7f};
  for (int f = 0; f < kFeatures; ++f) EXPECT_NEAR(out[kFeatures + f], second[f], 1e-6) << "feature " << f;
  for (int f = 0; f < kFeatures; ++f) EXPECT_EQ(out[2 * kFeatures + f], 0.0f) << "padding feature " << f;
}

TEST(Preprocess, MassBinIsThePlainBinIndexOnTheReferenceEdges) {
  const double step = 200.0 / 19.0;  // 10.526315789...
  EXPECT_EQ(mass_bin(10.2), 0);
  EXPECT_EQ(mass_bin(step), 1);  // an edge belongs to the bin above: [edge_i, edge_i+1)
  EXPECT_EQ(mass_bin(std::nextafter(step, 0.0)), 0);
  EXPECT_EQ(mass_bin(80.38), 7);   // 80.38 / 10.526 = 7.64
  EXPECT_EQ(mass_bin(91.19), 8);   // 8.66
  EXPECT_EQ(mass_bin(172.5), 16);  // 16.39
  EXPECT_EQ(mass_bin(18 * step), 18);
  EXPECT_EQ(mass_bin(199.999), 18);
  EXPECT_EQ(mass_bin(200.0), 19);
  EXPECT_EQ(mass_bin(9999.0), 19);
  EXPECT_EQ(mass_bin(-1.0), -1);
  EXPECT_EQ(mass_bin(1e4), -1);
}

std::vector<double> jet_row(int label_column, double mass) {
  std::vector<double> r(kJetColumns, 0.0);
  r[kJetMass] = mass;
  r[label_column] = 1.0;
  return r;
}

TEST(Preprocess, SelectionKeepsWZTopInsideTheMassWindow) {
  EXPECT_EQ(truth_class(jet_row(kJetW, 80).data()), 0);
  EXPECT_EQ(truth_class(jet_row(kJetZ, 80).data()), 1);
  EXPECT_EQ(truth_class(jet_row(kJetT, 80).data()), 2);
  EXPECT_EQ(truth_class(jet_row(kJetG, 80).data()), -1);
  EXPECT_TRUE(keep_jet(jet_row(kJetW, 10.001).data()));
  EXPECT_FALSE(keep_jet(jet_row(kJetW, 10.0).data()));  // strict bounds
  EXPECT_FALSE(keep_jet(jet_row(kJetT, 200.0).data()));
  EXPECT_TRUE(keep_jet(jet_row(kJetT, 199.9).data()));
  EXPECT_FALSE(keep_jet(jet_row(kJetQ, 80).data()));
  EXPECT_FALSE(keep_jet(jet_row(kJetUndef, 80).data()));
}

TEST(Preprocess, GlobalFeaturesAreC1B1C1B2C2B1Zlogz) {
  std::vector<double> r(kJetColumns, 0.0);
  r[kJetC1B1] = 1;
  r[kJetC1B2] = 2;
  r[kJetC2B1] = 3;
  r[kJetZlogz] = -4;
  float g[kGlobals];
  global_features(r.data(), g);
  EXPECT_EQ(g[0], 1.0f);
  EXPECT_EQ(g[1], 2.0f);
  EXPECT_EQ(g[2], 3.0f);
  EXPECT_EQ(g[3], -4.0f);
}

TEST(Preprocess, RawJetChecksNameTheProblem) {
  std::vector<double> cons(2 * kRawParticleColumns, 0.0);
  cons[kPt] = 5.0;
  auto row = jet_row(kJetW, 80);
  EXPECT_EQ(check_raw_jet(cons.data(), 2, row.data()), "");
  EXPECT_EQ(count_constituents(cons.data(), 2), 1);
  auto bad = cons;
  bad[kRawParticleColumns + kEta] = std::nan("");
  EXPECT_NE(check_raw_jet(bad.data(), 2, row.data()).find("NaN in jetConstituentList (particle 1, column 7 'j1_eta')"),
            std::string::npos);
  bad = cons;
  bad[kE] = std::numeric_limits<double>::infinity();
  EXPECT_NE(check_raw_jet(bad.data(), 2, row.data()).find("infinity"), std::string::npos);
  auto two = row;
  two[kJetZ] = 1.0;
  EXPECT_NE(check_raw_jet(cons.data(), 2, two.data()).find("not one-hot"), std::string::npos);
  auto half = jet_row(kJetW, 80);
  half[kJetW] = 0.5;
  half[kJetZ] = 1.0;
  EXPECT_NE(check_raw_jet(cons.data(), 2, half.data()).find("not one-hot"), std::string::npos);
  std::vector<double> empty(2 * kRawParticleColumns, 0.0);
  EXPECT_NE(check_raw_jet(empty.data(), 2, row.data()).find("no constituents"), std::string::npos);
}

}  // namespace
}  // namespace ucluster::jets
