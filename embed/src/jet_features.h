// The 8 UCluster features of a jet computed from its constituents' four-momenta, exactly as
// prepare-data computes them from the HLS4ML columns (spec 1.3; data-format.md 3.4 for the columns
// the toy generator derives from four-momenta): the same double arithmetic, then the same float32
// cast, so the bits are equal.
#pragma once

#include <cstdint>
#include <string>

namespace ucluster::embed {

struct FourMomentumJet {
  const double* pt;
  const double* eta;
  const double* phi;
  const double* energy;
  int count;  // constituents, 1..max_particles
  double jet_pt, jet_eta, jet_phi, jet_energy;
};

// Checks a jet (non-null arrays, count in 1..max_particles, finite values, pt > 0 and energy > 0
// for every constituent, jet pt and energy > 0). Returns "" when fine, else what is wrong, naming
// the particle (e.g. "particle 3: eta is NaN").
std::string check_four_momentum_jet(const FourMomentumJet& jet, int max_particles);

// Writes [max_particles][8] float32 features to `out`, zero padded after `count` rows.
void four_momentum_features(const FourMomentumJet& jet, int max_particles, float* out);

}  // namespace ucluster::embed
