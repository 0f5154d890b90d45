// The per-event part of prepare-data --task lhco (ucluster-ad-spec.md 1.2-1.4): one LHCO R&D row
// -> FastJet generalised-kT (R = 1.0, p = -1, E-scheme) jets with pT > 20 GeV -> the two heaviest
// jets with m >= 10 GeV (J1 heavier) -> 100 particles x 7 features relative to their own jet, the
// per-particle mass-bin target, the globals [ln m_J1, tau21(J1), ln m_J2, tau21(J2)] and m_jj.
// Pure functions of the row and the options (no file, no randomness); the pipeline around them
// (splits, injection, files, summary) is io/lhco_prepare.h.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <fastjet/PseudoJet.hh>

#include "io/event_file.h"

namespace ucluster::lhco {

inline constexpr double kJetRadius = 1.0;    // spec 1.2 step 2
inline constexpr double kJetPtMin = 20.0;    // GeV, inclusive_jets(ptmin = 20)
inline constexpr double kJetMassMin = 10.0;  // GeV, lighter jets are skipped (step 4)
inline constexpr double kSubjetRadius = 0.2;  // kT re-clustering for the tau_N axes (spec 1.4)
inline constexpr int kRowParticles = 700;    // (pT, eta, phi) triplets of a raw row (spec 1.1)

// Delta-phi of feature 1, feature 6 and the tau_N distances (quirk Q6).
enum class DphiMode {
  Wrapped,    // default: phi_p - phi_J wrapped to (-pi, pi]
  Unwrapped,  // the original: the plain difference of two phi_std values, in (-2 pi, 2 pi)
};
// The order of each jet's constituents before the 100-particle cut (quirk Q7).
enum class ConstituentOrder {
  Pt,       // default: descending pT within each jet (J1's, then J2's)
  History,  // the original: FastJet's ClusterSequence::constituents order (a walk of the merge tree)
};

const char* name(DphiMode m);
const char* name(ConstituentOrder o);
// "wrapped" | "unwrapped", "pt" | "history"; anything else throws naming `option` and the choices.
DphiMode parse_dphi(const std::string& option, const std::string& value);
ConstituentOrder parse_constituent_order(const std::string& option, const std::string& value);

struct EventOptions {
  DphiMode dphi = DphiMode::Wrapped;
  ConstituentOrder order = ConstituentOrder::Pt;
  // Quirk Q5 parity: the original's input list for signal rows had one extra all-zero 4-vector (its
  // size counted the label column). It is harmless (its own pT = 0 jet, removed by ptmin); off by
  // default, kept for the regression test that says so.
  bool label_ghost = false;
};

// Why an event was not kept (spec 1.2 steps 3-4).
enum class Drop {
  None,
  FewJets,        // fewer than 2 jets with pT > 20 GeV
  FewMassiveJets  // >= 2 such jets, but fewer than 2 of them with m >= 10 GeV
};

struct ProcessedEvent {
  Drop drop = Drop::None;
  int n_jets = 0;  // jets with pT > 20 GeV
  // Filled when drop == None:
  std::array<float, events::kEventParticles * events::kEventFeatures> data{};
  std::array<std::int8_t, events::kEventParticles> target{};
  std::array<float, events::kEventGlobals> global{};
  float mjj = 0;
  double m_j1 = 0, m_j2 = 0;
  int n_j1 = 0, n_j2 = 0;   // constituents of J1 and J2 (before the 100-particle cut)
  int stored = 0;           // real particles in `data` (min(n_j1 + n_j2, 100))
  int dphi_off = 0;         // constituents of J1, J2 whose raw phi_p - phi_J is off by 2 pi (|.| > pi), Q6
  bool pair_differs = false;  // {J1, J2} is not the pair of the two leading-pT jets (Q8)
};

// The number of particles of a raw row: the pT > 0 entries must be contiguous from entry 0 (the
// original fills entry j at index j, spec 1.2 step 1) and every value of the 700 triplets finite.
// Throws naming `file` and `row` for a gap (a pT > 0 particle after a zero), a negative pT, or a
// non-finite value.
int count_particles(const double* particles, const std::string& file, std::int64_t row);

// The massless inputs of the first n particles (spec 1.2 step 1, as pyjet converts them: px = pT
// cos phi, py = pT sin phi, pz = pT sinh eta, E = |p|); user_index = the particle's entry.
std::vector<fastjet::PseudoJet> make_inputs(const double* particles, int n, bool label_ghost = false);

// Runs spec 1.2 steps 2-9 on the first n particles of a row.
ProcessedEvent process_event(const double* particles, int n, const EventOptions& options);

// The mass-bin edges of spec 1.4 (quirk Q10): linspace(10, 1000, 20) as numpy computes it, then
// 1e5. mass_bin(m) = the first i with edge_i >= m (0..20); 20 also above 1e5.
double mass_edge(int i);
int mass_bin(double m);

// phi_a - phi_b for two phi_std values, wrapped to (-pi, pi] or not.
double delta_phi(double phi_a, double phi_b, DphiMode mode);

// tau2 / tau1 of a jet with a cluster sequence (spec 1.4): its constituents re-clustered with kT,
// R = 0.2; exclusive_jets(N) as axes; tau_N = sum_i pT_i min_a dR(i, a) / sum_i pT_i (beta = 1,
// no R0, dR with pseudorapidity and `mode` for delta-phi). A one-constituent jet gives 0.
double tau21(const fastjet::PseudoJet& jet, DphiMode mode);

}  // namespace ucluster::lhco
