// embed/src/jet_features: the 8 features from four-momenta against what prepare-data computes
// from the columns the toy generator writes for the same jets (bit for bit), the bad-input
// messages, and the zero padding.
#include "embed/src/jet_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "io/jet_layout.h"
#include "io/preprocess.h"
#include "io/toy/generator.h"
#include "io/toy/observables.h"

namespace ucluster::embed {
namespace {

using namespace ucluster::jets;
using toy::Vec4;

constexpr int P = kDefaultParticles;  // 100 slots, as in the HLS4ML files

// The constituents of a jet as pt, eta, phi, E arrays (the first `count` of them).
struct Arrays {
  std::vector<double> pt, eta, phi, e;
  FourMomentumJet jet(int count, const Vec4& j) const {
    return {pt.data(), eta.data(), phi.data(), e.data(), count, j.pt(), j.eta(), j.phi(), j.e};
  }
};

Arrays arrays_of(const std::vector<Vec4>& cs) {
  Arrays a;
  for (const Vec4& c : cs) {
    a.pt.push_back(c.pt());
    a.eta.push_back(c.eta());
    a.phi.push_back(c.phi());
    a.e.push_back(c.e);
  }
  return a;
}

TEST(EmbedJetFeatures, BitIdenticalToPrepareDataOnToyJets) {
  // Jets of W, Z and top from the project's generator. Generated with room for 1000 rows, the
  // raw columns hold every constituent's (px, py, pz, E) exactly: the four-vectors the generator
  // itself passed to constituent_columns.
  const toy::Generator generator(20240611);
  const int n_jets = 600, room = kMaxParticles;
  std::vector<double> raw_all(static_cast<std::size_t>(room) * kRawParticleColumns), jet_row(kJetColumns);
  std::vector<double> raw(static_cast<std::size_t>(P) * kRawParticleColumns);
  std::vector<float> expected(P * kFeatures), got(P * kFeatures);
  int classes[5] = {0, 0, 0, 0, 0}, compared = 0, truncated = 0, truncated_same_sign = 0;
  for (int j = 0; j < n_jets; ++j) {
    ++classes[static_cast<int>(generator.generate(j, room, raw_all.data(), jet_row.data()))];
    const int n = count_constituents(raw_all.data(), room);
    ASSERT_LT(n, room) << "jet " << j;
    std::vector<Vec4> cs(n);
    for (int i = 0; i < n; ++i) {
      const double* r = raw_all.data() + static_cast<std::size_t>(i) * kRawParticleColumns;
      cs[i] = {r[kPx], r[kPy], r[kPz], r[kE]};
    }
    // prepare-data's side: the 100-slot columns of the toy, then particle_features.
    toy::constituent_columns(cs, P, raw.data());
    ASSERT_TRUE(std::equal(raw.begin(), raw.end(), raw_all.begin())) << "jet " << j << ": rebuilt four-vectors differ";
    particle_features(raw.data(), P, expected.data());
    // The library's side: the (at most 100) constituents given and the jet = sum of all of them.
    Vec4 sum;
    for (const Vec4& c : cs) sum += c;
    const Arrays a = arrays_of(cs);
    const FourMomentumJet jet = a.jet(std::min(n, P), sum);
    ASSERT_EQ(check_four_momentum_jet(jet, P), "") << "jet " << j;
    four_momentum_features(jet, P, got.data());
    if (n <= P) {
      ASSERT_EQ(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)), 0) << "jet " << j;
      ++compared;
    } else {
      // Truncated by the toy: the reflection of data-format.md 3.4 summed pT over all n, the
      // library over 100, so costhetarel (feature 7) may differ in sign; features 0..6 may not.
      ++truncated;
      bool same_sign = true;
      for (int p = 0; p < P; ++p) {
        const float* g = got.data() + p * kFeatures;
        const float* e = expected.data() + p * kFeatures;
        ASSERT_EQ(std::memcmp(g, e, 7 * sizeof(float)), 0) << "jet " << j << " particle " << p;
        same_sign = same_sign && std::memcmp(g + 7, e + 7, sizeof(float)) == 0;
      }
      truncated_same_sign += same_sign;
    }
  }
  std::printf("jets: %d W, %d Z, %d top; %d with <= %d constituents compared bit for bit; %d with more "
              "(features 0..6 equal, costhetarel equal in %d of them)\n",
              classes[2], classes[3], classes[4], compared, P, truncated, truncated_same_sign);
  EXPECT_GT(classes[2], 100);
  EXPECT_GT(classes[3], 100);
  EXPECT_GT(classes[4], 100);
  EXPECT_GT(compared, n_jets / 2);
}

// A well-formed jet of 5 constituents (by decreasing pt) and its four-vector.
struct GoodJet {
  std::vector<Vec4> cs;
  Vec4 sum;
  Arrays a;
  GoodJet() {
    for (int i = 0; i < 5; ++i) cs.push_back(toy::from_pt_eta_phi_m(500.0 / (i + 1), 0.1 * i, -0.2 * i, 0.0));
    for (const Vec4& c : cs) sum += c;
    a = arrays_of(cs);
  }
  FourMomentumJet jet() const { return a.jet(5, sum); }
};

TEST(EmbedJetFeatures, BadInputsAreNamed) {
  GoodJet good;
  EXPECT_EQ(check_four_momentum_jet(good.jet(), P), "");
  auto expect_message = [&](FourMomentumJet jet, const std::string& fragment) {
    const std::string message = check_four_momentum_jet(jet, P);
    EXPECT_NE(message.find(fragment), std::string::npos) << "got '" << message << "', expected '" << fragment << "'";
  };
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  FourMomentumJet jet = good.jet();
  jet.pt = nullptr;
  expect_message(jet, "pt is a null pointer");
  jet = good.jet();
  jet.energy = nullptr;
  expect_message(jet, "energy is a null pointer");
  jet = good.jet();
  jet.count = 0;
  expect_message(jet, "count is 0, must be 1..100");
  Arrays many;  // 101 valid constituents: only the count is wrong
  for (int i = 0; i < 101; ++i) {
    many.pt.push_back(1.0);
    many.eta.push_back(0.0);
    many.phi.push_back(0.0);
    many.e.push_back(1.0);
  }
  expect_message(many.jet(101, good.sum), "count is 101, must be 1..100");
  Arrays a = good.a;
  a.eta[3] = nan;
  expect_message(a.jet(5, good.sum), "particle 3: eta is NaN");
  a = good.a;
  a.e[2] = inf;
  expect_message(a.jet(5, good.sum), "particle 2: energy is infinity");
  a = good.a;
  a.pt[1] = -1.0;
  expect_message(a.jet(5, good.sum), "particle 1: pt is -1, must be > 0");
  a = good.a;
  a.e[4] = 0.0;
  expect_message(a.jet(5, good.sum), "particle 4: energy is 0, must be > 0");
  a = good.a;
  a.phi[0] = 100.0;
  expect_message(a.jet(5, good.sum), "particle 0: phi is 100, must be within [-4 pi, 4 pi]");
  a = good.a;
  a.eta[2] = 1e39;
  expect_message(a.jet(5, good.sum), "particle 2: eta - jet eta is 1e+39, does not fit in float32");
  jet = good.jet();
  jet.jet_pt = 0.0;
  expect_message(jet, "jet pt is 0, must be > 0");
  jet = good.jet();
  jet.jet_energy = -inf;
  expect_message(jet, "jet energy is -infinity");
  jet = good.jet();
  jet.jet_phi = nan;
  expect_message(jet, "jet phi is NaN");
}

TEST(EmbedJetFeatures, ZeroPaddedAfterCount) {
  GoodJet good;
  std::vector<float> out(P * kFeatures, 7.0f);  // not zero: every slot must be written
  four_momentum_features(good.jet(), P, out.data());
  for (int p = 0; p < 5; ++p) EXPECT_NE(out[p * kFeatures + 6], 0.0f) << "particle " << p << ": ln pt";
  const std::vector<float> zeros((P - 5) * kFeatures, 0.0f);
  EXPECT_EQ(std::memcmp(out.data() + 5 * kFeatures, zeros.data(), zeros.size() * sizeof(float)), 0);
  // The real rows do not depend on the number of slots.
  std::vector<float> tight(5 * kFeatures);
  four_momentum_features(good.jet(), 5, tight.data());
  EXPECT_EQ(std::memcmp(out.data(), tight.data(), tight.size() * sizeof(float)), 0);
  // Spot values: etarel of the leading constituent, ln pt of the second (spec 1.3).
  EXPECT_FLOAT_EQ(out[0], static_cast<float>(0.0 - good.sum.eta()));
  EXPECT_FLOAT_EQ(out[kFeatures + 6], static_cast<float>(std::log(250.0)));
}

}  // namespace
}  // namespace ucluster::embed
