#include "io/lhco_physics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <numeric>

#include <fastjet/ClusterSequence.hh>

#include "engine/error.h"

namespace ucluster::lhco {

namespace {

using fastjet::PseudoJet;
constexpr double kPi = std::numbers::pi;

// FastJet prints a banner on stdout at its first clustering; pyjet silences it too.
void silence_banner() {
  static const bool silenced = [] {
    fastjet::ClusterSequence::set_fastjet_banner_stream(nullptr);
    return true;
  }();
  (void)silenced;
}

double delta_r(const PseudoJet& a, const PseudoJet& b, DphiMode mode) {
  const double deta = a.pseudorapidity() - b.pseudorapidity();
  const double dphi = delta_phi(a.phi_std(), b.phi_std(), mode);
  return std::sqrt(deta * deta + dphi * dphi);
}

// tau_N of spec 1.4 with the given axes.
double subjettiness(const std::vector<PseudoJet>& axes, const std::vector<PseudoJet>& constituents, DphiMode mode) {
  double sum_pt = 0, sum = 0;
  for (const PseudoJet& c : constituents) {
    double d = std::numeric_limits<double>::infinity();
    for (const PseudoJet& a : axes) d = std::min(d, delta_r(c, a, mode));
    sum_pt += c.pt();
    sum += c.pt() * d;
  }
  return sum / sum_pt;
}

}  // namespace

const char* name(DphiMode m) { return m == DphiMode::Wrapped ? "wrapped" : "unwrapped"; }
const char* name(ConstituentOrder o) { return o == ConstituentOrder::Pt ? "pt" : "history"; }

DphiMode parse_dphi(const std::string& option, const std::string& value) {
  if (value == "wrapped") return DphiMode::Wrapped;
  if (value == "unwrapped") return DphiMode::Unwrapped;
  fail("option ", option, ": '", value, "' is not one of wrapped, unwrapped");
}

ConstituentOrder parse_constituent_order(const std::string& option, const std::string& value) {
  if (value == "pt") return ConstituentOrder::Pt;
  if (value == "history") return ConstituentOrder::History;
  fail("option ", option, ": '", value, "' is not one of pt, history");
}

int count_particles(const double* particles, const std::string& file, std::int64_t row) {
  int n = 0, first_zero = -1;
  for (int j = 0; j < kRowParticles; ++j) {
    const double pt = particles[3 * j], eta = particles[3 * j + 1], phi = particles[3 * j + 2];
    UCLUSTER_CHECK(std::isfinite(pt) && std::isfinite(eta) && std::isfinite(phi), "file '", file, "': row ", row,
                   ", particle ", j, ": (pT, eta, phi) = (", pt, ", ", eta, ", ", phi, ") is not finite");
    UCLUSTER_CHECK(pt >= 0, "file '", file, "': row ", row, ", particle ", j, ": negative pT ", pt);
    if (pt == 0) {
      if (first_zero < 0) first_zero = j;
      continue;
    }
    UCLUSTER_CHECK(first_zero < 0, "file '", file, "': row ", row, ", particle ", j, " has pT = ", pt,
                   " after particle ", first_zero, " with pT = 0: the particles of a row must be contiguous from ",
                   "entry 0, zero-padded after the last one (LHCO R&D layout, spec 1.1)");
    ++n;
  }
  return n;
}

std::vector<PseudoJet> make_inputs(const double* particles, int n, bool label_ghost) {
  std::vector<PseudoJet> inputs;
  inputs.reserve(static_cast<std::size_t>(n) + 1);
  for (int j = 0; j < n; ++j) {
    const double pt = particles[3 * j], eta = particles[3 * j + 1], phi = particles[3 * j + 2];
    const double px = pt * std::cos(phi), py = pt * std::sin(phi), pz = pt * std::sinh(eta);
    PseudoJet p(px, py, pz, std::sqrt(px * px + py * py + pz * pz));
    p.set_user_index(j);
    inputs.push_back(p);
  }
  if (label_ghost) {
    PseudoJet ghost(0.0, 0.0, 0.0, 0.0);
    ghost.set_user_index(n);
    inputs.push_back(ghost);
  }
  return inputs;
}

double mass_edge(int i) {
  if (i >= 20) return 1e5;
  if (i == 19) return 1000.0;  // numpy's linspace sets the end point exactly
  return static_cast<double>(i) * (990.0 / 19.0) + 10.0;
}

int mass_bin(double m) {
  // The original's next(...) would raise above 1e5 GeV (unreachable at 13 TeV); 20 here.
  for (int i = 0; i <= 20; ++i)
    if (mass_edge(i) >= m) return i;
  return 20;
}

double delta_phi(double phi_a, double phi_b, DphiMode mode) {
  double d = phi_a - phi_b;
  if (mode == DphiMode::Wrapped) {
    // Both are phi_std values in (-pi, pi], so d is in (-2 pi, 2 pi): one shift is enough.
    if (d > kPi) d -= 2 * kPi;
    else if (d <= -kPi) d += 2 * kPi;
  }
  return d;
}

double tau21(const PseudoJet& jet, DphiMode mode) {
  silence_banner();
  const std::vector<PseudoJet> constituents = jet.constituents();
  if (constituents.size() < 2) return 0.0;  // the original sets tau2 = 0 (unreachable for m >= 10 GeV)
  // pyjet's cluster(jet, R=0.2, algo='kt') re-clusters the jet's constituents (E-scheme).
  const fastjet::JetDefinition kt(fastjet::kt_algorithm, kSubjetRadius, fastjet::E_scheme, fastjet::Best);
  const fastjet::ClusterSequence seq(constituents, kt);
  const double tau1 = subjettiness(seq.exclusive_jets(1), constituents, mode);
  const double tau2 = subjettiness(seq.exclusive_jets(2), constituents, mode);
  return tau2 / tau1;
}

ProcessedEvent process_event(const double* particles, int n, const EventOptions& options) {
  silence_banner();
  ProcessedEvent ev;
  const std::vector<PseudoJet> inputs = make_inputs(particles, n, options.label_ghost);
  // Spec 1.2 step 2 (Q9): pyjet's default algo 'genkt' with p = -1, i.e. anti-kT; E-scheme.
  const fastjet::JetDefinition def(fastjet::genkt_algorithm, kJetRadius, -1.0, fastjet::E_scheme, fastjet::Best);
  const fastjet::ClusterSequence cs(inputs, def);
  const std::vector<PseudoJet> jets = fastjet::sorted_by_pt(cs.inclusive_jets(kJetPtMin));
  ev.n_jets = static_cast<int>(jets.size());
  if (jets.size() < 2) {
    ev.drop = Drop::FewJets;
    return ev;
  }
  // Step 4 (Q8, kept as the original): by mass, descending; m < 10 GeV skipped; the first two.
  std::vector<int> by_mass(jets.size());
  std::iota(by_mass.begin(), by_mass.end(), 0);
  std::stable_sort(by_mass.begin(), by_mass.end(), [&](int a, int b) { return jets[a].m() > jets[b].m(); });
  std::vector<int> chosen;
  for (int i : by_mass) {
    if (jets[i].m() < kJetMassMin) continue;
    chosen.push_back(i);
    if (chosen.size() == 2) break;
  }
  if (chosen.size() < 2) {
    ev.drop = Drop::FewMassiveJets;
    return ev;
  }
  ev.pair_differs = std::min(chosen[0], chosen[1]) != 0 || std::max(chosen[0], chosen[1]) != 1;

  const int P = events::kEventParticles, F = events::kEventFeatures;
  double p4[4] = {0, 0, 0, 0};
  for (int k = 0; k < 2; ++k) {
    const PseudoJet& jet = jets[chosen[k]];
    // Step 5 (Q7): FastJet's history order, or each jet's constituents by descending pT.
    std::vector<PseudoJet> cons = cs.constituents(jet);
    if (options.order == ConstituentOrder::Pt) {
      std::stable_sort(cons.begin(), cons.end(),
                       [](const PseudoJet& a, const PseudoJet& b) { return a.perp2() > b.perp2(); });
    }
    (k == 0 ? ev.n_j1 : ev.n_j2) = static_cast<int>(cons.size());
    (k == 0 ? ev.m_j1 : ev.m_j2) = jet.m();
    const double eta_j = jet.pseudorapidity(), phi_j = jet.phi_std(), pt_j = jet.pt(), e_j = jet.e();
    const int bin = mass_bin(jet.m());
    for (const PseudoJet& c : cons) {
      // Q6: the raw delta-phi is a difference of two phi_std values; counted over all constituents.
      if (std::abs(c.phi_std() - phi_j) > kPi) ++ev.dphi_off;
      if (ev.stored == P) continue;
      // Spec 1.3, in this order.
      const double deta = c.pseudorapidity() - eta_j;
      const double dphi = delta_phi(c.phi_std(), phi_j, options.dphi);
      float* f = ev.data.data() + static_cast<std::size_t>(ev.stored) * F;
      f[0] = static_cast<float>(deta);
      f[1] = static_cast<float>(dphi);
      f[2] = static_cast<float>(std::log(c.pt() / pt_j));
      f[3] = static_cast<float>(std::log(c.e() / e_j));
      f[4] = static_cast<float>(std::log(c.pt()));
      f[5] = static_cast<float>(std::log(c.e()));
      f[6] = static_cast<float>(std::sqrt(deta * deta + dphi * dphi));
      ev.target[static_cast<std::size_t>(ev.stored)] = static_cast<std::int8_t>(bin);
      ++ev.stored;
    }
    // Step 8: globals, no scaling.
    ev.global[2 * k] = static_cast<float>(std::log(jet.m()));
    ev.global[2 * k + 1] = static_cast<float>(tau21(jet, options.dphi));
    p4[0] += jet.px();
    p4[1] += jet.py();
    p4[2] += jet.pz();
    p4[3] += jet.e();
  }
  // Step 9: sqrt|E^2 - p^2| of J1 + J2.
  ev.mjj = static_cast<float>(std::sqrt(std::abs(p4[3] * p4[3] - p4[0] * p4[0] - p4[1] * p4[1] - p4[2] * p4[2])));
  return ev;
}

}  // namespace ucluster::lhco
