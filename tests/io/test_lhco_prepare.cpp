// prepare-data --task lhco (io/lhco_physics.h, io/lhco_prepare.h; ucluster-ad-spec.md 1.2-1.5, Q1-Q10):
// the per-event physics against values computed here by hand, the injection, the splits, the
// errors, and end-to-end runs on make-toy-events files through the library and the tool.
#include <gtest/gtest.h>

#include <fastjet/ClusterSequence.hh>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "io_test_util.h"
#include "io/event_file.h"
#include "io/lhco_file.h"
#include "io/lhco_prepare.h"
#include "io/toy/events.h"
#include "io/toy_events_file.h"

namespace ucluster::lhco {
namespace {

using test::TempDir;
using test::error_of;
using test::expect_parts;
constexpr double kPi = std::numbers::pi;
constexpr int P = events::kEventParticles, F = events::kEventFeatures;

// One raw row (spec 1.1): particles appended in order, then the label.
struct Row {
  std::vector<double> v = std::vector<double>(kLabelledColumns, 0.0);
  int n = 0;
  Row& add(double pt, double eta, double phi) {
    v[3 * n] = pt;
    v[3 * n + 1] = eta;
    v[3 * n + 2] = phi;
    ++n;
    return *this;
  }
  Row& label(int l) {
    v[kParticleColumns] = l;
    return *this;
  }
};

ProcessedEvent run(const Row& r, DphiMode dphi = DphiMode::Wrapped, ConstituentOrder order = ConstituentOrder::Pt) {
  EventOptions o;
  o.dphi = dphi;
  o.order = order;
  return process_event(r.v.data(), count_particles(r.v.data(), "row", 0), o);
}

// Four-momenta by hand (massless inputs: E = |p|).
struct P4 {
  double px = 0, py = 0, pz = 0, e = 0;
  static P4 of(double pt, double eta, double phi) {
    P4 p{pt * std::cos(phi), pt * std::sin(phi), pt * std::sinh(eta), 0};
    p.e = std::sqrt(p.px * p.px + p.py * p.py + p.pz * p.pz);
    return p;
  }
  P4 operator+(const P4& o) const { return {px + o.px, py + o.py, pz + o.pz, e + o.e}; }
  double pt() const { return std::hypot(px, py); }
  double eta() const { return std::asinh(pz / pt()); }
  double phi() const { return std::atan2(py, px); }
  double m() const { return std::sqrt(e * e - px * px - py * py - pz * pz); }
};

void expect_close(double actual, double expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 2e-6 * std::max(1.0, std::abs(expected))) << what;
}

// The hand-made event of the feature test: J1 (m = 152.6 GeV) near phi = 0, J2 (m = 100.0 GeV)
// astride the phi = +-pi seam; particles listed out of pT order.
Row seam_event() {
  Row r;
  r.add(300, 0.1, -0.1).add(250, -0.3, -kPi + 0.05).add(600, 0.3, 0.2).add(500, -0.5, kPi - 0.15);
  return r;
}

TEST(LhcoPhysics, FeaturesOfAHandMadeEventInBothDphiModes) {
  const P4 a1 = P4::of(600, 0.3, 0.2), a2 = P4::of(300, 0.1, -0.1);
  const P4 b1 = P4::of(500, -0.5, kPi - 0.15), b2 = P4::of(250, -0.3, -kPi + 0.05);
  const P4 ja = a1 + a2, jb = b1 + b2;
  struct Expected {
    double pt, eta, phi;
    const P4* jet;
  };
  // pT order within each jet: J1 = the heavier (a), then J2 (b).
  const std::vector<Expected> parts = {{600, 0.3, 0.2, &ja}, {300, 0.1, -0.1, &ja},
                                       {500, -0.5, kPi - 0.15, &jb}, {250, -0.3, -kPi + 0.05, &jb}};
  for (DphiMode mode : {DphiMode::Wrapped, DphiMode::Unwrapped}) {
    SCOPED_TRACE(name(mode));
    const ProcessedEvent ev = run(seam_event(), mode);
    ASSERT_EQ(ev.drop, Drop::None);
    EXPECT_EQ(ev.n_jets, 2);
    EXPECT_EQ(ev.stored, 4);
    EXPECT_EQ(ev.n_j1, 2);
    EXPECT_EQ(ev.n_j2, 2);
    EXPECT_EQ(ev.dphi_off, 1) << "the 250 GeV particle across the seam";  // raw, in both modes
    EXPECT_FALSE(ev.pair_differs);
    expect_close(ev.m_j1, ja.m(), "m_J1");
    expect_close(ev.m_j2, jb.m(), "m_J2");
    EXPECT_NEAR(ja.m(), 152.6, 0.1);
    EXPECT_NEAR(jb.m(), 100.0, 0.01);
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const Expected& x = parts[i];
      const P4 p = P4::of(x.pt, x.eta, x.phi);
      const double deta = x.eta - x.jet->eta();
      double dphi = x.phi - x.jet->phi();
      if (mode == DphiMode::Wrapped && dphi < -kPi) dphi += 2 * kPi;
      const float* f = ev.data.data() + i * F;
      const std::string at = "particle " + std::to_string(i) + ", feature ";
      expect_close(f[0], deta, at + "0");
      expect_close(f[1], dphi, at + "1");
      expect_close(f[2], std::log(x.pt / x.jet->pt()), at + "2");
      expect_close(f[3], std::log(p.e / x.jet->e), at + "3");
      expect_close(f[4], std::log(x.pt), at + "4");
      expect_close(f[5], std::log(x.pt * std::cosh(x.eta)), at + "5");
      expect_close(f[6], std::sqrt(deta * deta + dphi * dphi), at + "6");
      EXPECT_EQ(ev.target[i], i < 2 ? 3 : 2) << "mass bins: 152.6 GeV -> 3, 100.0 GeV -> 2";
    }
    // The seam particle: about -2 pi + 0.133 unwrapped, +0.133 wrapped.
    EXPECT_NEAR(ev.data[3 * F + 1], mode == DphiMode::Wrapped ? 0.1334 : 0.1334 - 2 * kPi, 1e-3);
    for (int k = 4 * F; k < P * F; ++k) ASSERT_EQ(ev.data[k], 0.0f) << "padding";
    for (int p = 4; p < P; ++p) ASSERT_EQ(ev.target[p], 0) << "padding";
    expect_close(ev.global[0], std::log(ja.m()), "ln m_J1");
    expect_close(ev.global[2], std::log(jb.m()), "ln m_J2");
    // Two-particle jets: exclusive_jets(2) are the particles themselves, tau2 = 0.
    EXPECT_EQ(ev.global[1], 0.0f);
    EXPECT_EQ(ev.global[3], 0.0f);
    expect_close(ev.mjj, (ja + jb).m(), "m_jj");
  }
}

TEST(LhcoPhysics, MassBinEdges) {
  EXPECT_NEAR(mass_edge(1), 10 + 990.0 / 19, 1e-12);
  EXPECT_EQ(mass_edge(19), 1000.0);
  EXPECT_EQ(mass_edge(20), 1e5);
  EXPECT_EQ(mass_bin(10.0), 0);  // Q10: only m == 10 exactly (class 0 doubles as padding)
  EXPECT_EQ(mass_bin(10.01), 1);
  EXPECT_EQ(mass_bin(62.1), 1);
  EXPECT_EQ(mass_bin(62.2), 2);
  EXPECT_EQ(mass_bin(100.0), 2);  // Y of the signal
  EXPECT_EQ(mass_bin(500.0), 10);  // X of the signal
  EXPECT_EQ(mass_bin(1000.0), 19);
  EXPECT_EQ(mass_bin(1000.1), 20);
  EXPECT_EQ(mass_bin(2e5), 20);
}

TEST(LhcoPhysics, DeltaPhiWrapping) {
  EXPECT_NEAR(delta_phi(3.0, -3.0, DphiMode::Wrapped), 6.0 - 2 * kPi, 1e-12);
  EXPECT_NEAR(delta_phi(3.0, -3.0, DphiMode::Unwrapped), 6.0, 1e-12);
  EXPECT_NEAR(delta_phi(-3.0, 3.0, DphiMode::Wrapped), 2 * kPi - 6.0, 1e-12);
  EXPECT_EQ(delta_phi(0.5, 0.25, DphiMode::Wrapped), 0.25);
  EXPECT_EQ(delta_phi(kPi, 0.0, DphiMode::Wrapped), kPi);  // (-pi, pi]
}

// A jet of the given particles clustered alone (anti-kT R = 1); the sequence must outlive the jet.
struct OneJet {
  fastjet::ClusterSequence cs;
  fastjet::PseudoJet jet;
  explicit OneJet(const Row& r)
      : cs(make_inputs(r.v.data(), r.n), fastjet::JetDefinition(fastjet::antikt_algorithm, 1.0)),
        jet(fastjet::sorted_by_pt(cs.inclusive_jets())[0]) {}
};

TEST(LhcoPhysics, Tau21ByHandOnThreeParticles) {
  // kT R = 0.2: b + c merge first (d = 6.25), then a and bc each with the beam, so
  // exclusive_jets(1) = {bc} and exclusive_jets(2) = {a, bc}. All at eta = 0: dR = |dphi|.
  Row r;
  r.add(100, 0, 0).add(100, 0, 0.5).add(10, 0, 0.55);
  const OneJet j(r);
  ASSERT_EQ(j.jet.constituents().size(), 3u);
  const double phi_bc = (P4::of(100, 0, 0.5) + P4::of(10, 0, 0.55)).phi();
  const double b = 100 * std::abs(0.5 - phi_bc), c = 10 * std::abs(0.55 - phi_bc);
  const double tau1 = (100 * phi_bc + b + c) / 210, tau2 = (b + c) / 210;
  EXPECT_NEAR(tau21(j.jet, DphiMode::Wrapped), tau2 / tau1, 1e-12);
  EXPECT_NEAR(tau21(j.jet, DphiMode::Unwrapped), tau2 / tau1, 1e-12);
}

TEST(LhcoPhysics, Tau21OfATwoProngJetIsMuchLowerThanOfAOneProngJet) {
  Row two, one;
  for (int k = 0; k < 6; ++k) {
    const double a = 2 * kPi * k / 6;
    two.add(50, 0.02 * std::cos(a), 0.02 * std::sin(a));
    two.add(40, 0.3 + 0.02 * std::cos(a), 0.3 + 0.02 * std::sin(a));
  }
  two.add(200, 0, 0).add(160, 0.3, 0.3);
  one.add(400, 0, 0);
  for (int k = 0; k < 12; ++k) {
    const double a = 2 * kPi * k / 12;
    one.add(25 + k, 0.15 * std::cos(a), 0.15 * std::sin(a));
  }
  const double t2 = tau21(OneJet(two).jet, DphiMode::Wrapped), t1 = tau21(OneJet(one).jet, DphiMode::Wrapped);
  EXPECT_LT(t2, 0.2);
  EXPECT_GT(t1, 0.6);
  EXPECT_LT(t2, 0.25 * t1);
}

TEST(LhcoPhysics, MjjOfTwoBackToBackJets) {
  Row r;
  r.add(500, 0, 0.1).add(500, 0, -0.1).add(500, 0, kPi - 0.1).add(500, 0, -kPi + 0.1);
  const ProcessedEvent ev = run(r);
  ASSERT_EQ(ev.drop, Drop::None);
  EXPECT_NEAR(ev.mjj, 2000.0, 0.01);  // E = 2000 GeV, p = 0
  EXPECT_NEAR(ev.m_j1, std::sqrt(2 * 500.0 * 500.0 * (1 - std::cos(0.2))), 1e-6);
}

// J1: 14 particles of distinct pT in a loose cone; J2: 5 particles opposite.
Row ordering_event() {
  Row r;
  for (int k = 0; k < 14; ++k) {
    const double a = 2.3 * k, rad = 0.05 + 0.04 * k;
    r.add(5.0 + 37.0 * ((k * 5) % 14), rad * std::cos(a), rad * std::sin(a));
  }
  for (int k = 0; k < 5; ++k) r.add(30.0 + 20 * k, 0.1 * k, 3.0 - 0.05 * k);
  return r;
}

TEST(LhcoPhysics, ConstituentOrderPtAndHistory) {
  const Row r = ordering_event();
  const ProcessedEvent pt = run(r, DphiMode::Wrapped, ConstituentOrder::Pt);
  const ProcessedEvent hist = run(r, DphiMode::Wrapped, ConstituentOrder::History);
  ASSERT_EQ(pt.drop, Drop::None);
  ASSERT_EQ(pt.n_j1, 14);
  ASSERT_EQ(pt.n_j2, 5);
  ASSERT_EQ(pt.stored, 19);
  // pt: descending within each jet, J1's first.
  for (int i = 1; i < pt.stored; ++i) {
    if (i == 14) continue;
    EXPECT_GE(pt.data[(i - 1) * F + 4], pt.data[i * F + 4]) << "particle " << i;
  }
  // history: FastJet's ClusterSequence::constituents order of each jet (spec 1.2 step 5).
  const fastjet::ClusterSequence cs(make_inputs(r.v.data(), r.n),
                                    fastjet::JetDefinition(fastjet::genkt_algorithm, 1.0, -1.0));
  auto jets = fastjet::sorted_by_pt(cs.inclusive_jets(20.0));
  ASSERT_EQ(jets.size(), 2u);
  if (jets[0].m() < jets[1].m()) std::swap(jets[0], jets[1]);
  std::vector<double> expected;
  for (const auto& j : jets)
    for (const auto& c : cs.constituents(j)) expected.push_back(std::log(c.pt()));
  bool differs_from_pt = false;
  for (int i = 0; i < hist.stored; ++i) {
    EXPECT_NEAR(hist.data[i * F + 4], expected[i], 1e-5) << "particle " << i;
    differs_from_pt |= hist.data[i * F + 4] != pt.data[i * F + 4];
  }
  EXPECT_TRUE(differs_from_pt) << "the test event should tell the two orders apart";
  // Same particles, same jet-level values.
  EXPECT_EQ(hist.global, pt.global);
  EXPECT_EQ(hist.mjj, pt.mjj);
}

TEST(LhcoPhysics, TruncationToOneHundredParticlesKeepsJ1First) {
  Row r;
  for (int k = 0; k < 120; ++k) {
    const double a = 0.7 * k, rad = 0.5 * std::sqrt((k + 0.5) / 120.0);
    r.add(10.0 + 0.25 * k, rad * std::cos(a), rad * std::sin(a));
  }
  for (int k = 0; k < 30; ++k) r.add(20.0 + k, 0.003 * k, 3.0 + 0.002 * k);
  const ProcessedEvent ev = run(r);
  ASSERT_EQ(ev.drop, Drop::None);
  EXPECT_EQ(ev.n_j1, 120);
  EXPECT_EQ(ev.n_j2, 30);
  EXPECT_EQ(ev.stored, 100);
  const int j1_bin = mass_bin(ev.m_j1);
  for (int p = 0; p < P; ++p) ASSERT_EQ(ev.target[p], j1_bin) << "J2 is absent when n(J1) >= 100 (Q7)";
  // pt order keeps the 100 hardest of J1: the softest kept is the 21st softest, 10 + 0.25 * 20.
  EXPECT_NEAR(std::exp(ev.data[99 * F + 4]), 15.0, 1e-3);
}

TEST(LhcoPhysics, DropReasons) {
  EXPECT_EQ(run(Row()).drop, Drop::FewJets);
  Row one_jet;
  one_jet.add(100, 0, 0).add(100, 0, 0.3).add(15, 0, 3.0);  // the 15 GeV "jet" is below ptmin
  EXPECT_EQ(run(one_jet).drop, Drop::FewJets);
  EXPECT_EQ(run(one_jet).n_jets, 1);
  Row massless;
  massless.add(100, 0, 0).add(100, 0, 0.3).add(100, 0, 3.0);  // the second jet is one particle: m = 0
  EXPECT_EQ(run(massless).drop, Drop::FewMassiveJets);
  EXPECT_EQ(run(massless).n_jets, 2);
}

TEST(LhcoPhysics, JetsAreChosenByMassNotPt) {
  // X: pT 1000, m 20; Y: pT 784, m 158.9; Z: pT 116, m 29.7. By mass: J1 = Y, J2 = Z (Q8).
  Row r;
  r.add(500, 0, 0).add(500, 0, 0.04).add(400, 0, 3.0).add(400, 0, 2.6).add(60, 2.5, 1.4).add(60, 2.5, 0.9);
  const ProcessedEvent ev = run(r);
  ASSERT_EQ(ev.drop, Drop::None);
  EXPECT_EQ(ev.n_jets, 3);
  EXPECT_TRUE(ev.pair_differs);
  const P4 y = P4::of(400, 0, 3.0) + P4::of(400, 0, 2.6), z = P4::of(60, 2.5, 1.4) + P4::of(60, 2.5, 0.9);
  expect_close(ev.m_j1, y.m(), "m_J1 = m_Y");
  expect_close(ev.m_j2, z.m(), "m_J2 = m_Z");
  expect_close(ev.mjj, (y + z).m(), "m_jj of Y + Z");
}

TEST(LhcoPhysics, LabelGhostOfTheOriginalChangesNothing) {
  // Q5: the original's extra zero 4-vector for signal rows; compared on toy events.
  const toy::EventGenerator gen(3, 0.5);
  std::vector<double> row(kLabelledColumns);
  for (int i = 0; i < 40; ++i) {
    gen.generate(i, row.data());
    const int n = count_particles(row.data(), "toy", i);
    for (ConstituentOrder order : {ConstituentOrder::Pt, ConstituentOrder::History}) {
      EventOptions plain, ghost;
      plain.order = ghost.order = order;
      ghost.label_ghost = true;
      const ProcessedEvent a = process_event(row.data(), n, plain), b = process_event(row.data(), n, ghost);
      ASSERT_EQ(a.drop, b.drop) << "event " << i;
      EXPECT_EQ(a.data, b.data) << "event " << i;
      EXPECT_EQ(a.target, b.target) << "event " << i;
      EXPECT_EQ(a.global, b.global) << "event " << i;
      EXPECT_EQ(a.mjj, b.mjj) << "event " << i;
    }
  }
}

TEST(LhcoPhysics, RowErrorsNameTheRow) {
  Row gap;
  gap.add(10, 0, 0).add(20, 0, 0.1);
  gap.v[9] = 30;  // particle 3 after the zero particle 2
  expect_parts(error_of([&] { count_particles(gap.v.data(), "f.h5", 7); }),
               {"f.h5", "row 7", "particle 3", "after particle 2", "contiguous"});
  Row nan;
  nan.add(10, std::nan(""), 0);
  expect_parts(error_of([&] { count_particles(nan.v.data(), "f.h5", 9); }), {"row 9", "particle 0", "not finite"});
  Row neg;
  neg.add(10, 0, 0).add(-5, 0, 0);
  expect_parts(error_of([&] { count_particles(neg.v.data(), "f.h5", 2); }), {"row 2", "particle 1", "negative pT"});
  EXPECT_EQ(count_particles(seam_event().v.data(), "f.h5", 0), 4);
}

TEST(LhcoPrepare, InjectionIsSeededPerRow) {
  const std::int64_t n = 20000;
  std::int64_t kept = 0, other = 0, both = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    const bool a = keep_signal(7, r, 0.1);
    ASSERT_EQ(a, keep_signal(7, r, 0.1));
    const bool b = keep_signal(8, r, 0.1);
    kept += a;
    other += b;
    both += a && b;
    EXPECT_TRUE(keep_signal(7, r, 1.0));
    EXPECT_FALSE(keep_signal(7, r, 0.0));
    if (a) {
      EXPECT_TRUE(keep_signal(7, r, 0.2)) << "a larger fraction keeps a superset";
    }
  }
  const double sigma = std::sqrt(n * 0.1 * 0.9);  // 42.4
  EXPECT_NEAR(kept, 2000, 4 * sigma);
  EXPECT_NEAR(other, 2000, 4 * sigma);
  EXPECT_NEAR(both, 200, 4 * std::sqrt(200.0)) << "another seed draws an independent set";
  EXPECT_EQ(injection_hash(7, 12345), injection_hash(7, 12345));
}

TEST(LhcoPrepare, SplitRanges) {
  const auto prod = default_split_ranges(1100000);
  EXPECT_EQ(prod[0], (RowRange{0, 400000}));
  EXPECT_EQ(prod[1], (RowRange{400001, 550000}));
  EXPECT_EQ(prod[2], (RowRange{650001, 990001}));
  EXPECT_EQ(default_split_ranges(990001), prod);
  const auto small = default_split_ranges(20000);
  EXPECT_EQ(small[0], (RowRange{0, 8000}));
  EXPECT_EQ(small[1], (RowRange{8000, 11000}));
  EXPECT_EQ(small[2], (RowRange{13000, 19800}));
  EXPECT_EQ(parse_row_range("--train-rows", "5:17"), (RowRange{5, 17}));
  expect_parts(error_of([] { parse_row_range("--test-rows", "5"); }), {"--test-rows", "'5'", "A:B"});
  expect_parts(error_of([] { parse_row_range("--test-rows", "9:3"); }), {"--test-rows", "'9:3'", "A < B"});
  expect_parts(error_of([] { parse_row_range("--eval-rows", "-1:3"); }), {"--eval-rows"});
  expect_parts(error_of([] { parse_row_range("--eval-rows", "1:x"); }), {"--eval-rows", "'1:x'"});
}

}  // namespace
}  // namespace ucluster::lhco
