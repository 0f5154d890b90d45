// The 8 UCluster features of a jet computed from its constituents' four-momenta, exactly as
// prepare-data computes them from the HLS4ML columns (spec 1.3; data-format.md 3.4 for the columns
// the toy generator derives from four-momenta): the same double arithmetic (io/jet_feature_math.h,
// header-only, shared with the toy and prepare-data), then the same float32 cast, so the bits are
// equal.
//
// One known difference: the reflection of data-format.md 3.4 (x -> -x when the pT sum at x < 0
// is the larger) sums over all the jet's constituents, and this code sees only the `count` it is
// given (at most max_particles). For a jet the toy truncated at 100 constituents, costhetarel
// (feature 7) may therefore differ in sign; the other 7 features depend only on the constituent
// and the jet four-momentum and are equal.
#pragma once

#include <string>

namespace ucluster::embed {

// One jet: `count` constituents by decreasing pt (the HLS4ML order; the rotation of
// data-format.md 3.4 takes the first constituent with deltaR > 0.1 as the hardest), each with
// pt (GeV), pseudorapidity eta, azimuth phi and energy E; and the jet's own four-momentum (for
// the toy: the sum of all its constituents).
struct FourMomentumJet {
  const double* pt;
  const double* eta;
  const double* phi;
  const double* energy;
  int count;  // constituents, 1..max_particles
  double jet_pt, jet_eta, jet_phi, jet_energy;
};

// Checks a jet: non-null arrays, count in 1..max_particles, finite values, pt > 0 and energy > 0
// for every constituent, jet pt and energy > 0, |phi| <= 4 pi (any convention, (-pi, pi] or
// [0, 2 pi)), eta - jet eta and deltaR within float32 (what prepare-data demands of etarel and
// deltaR). Returns "" when fine, else what is wrong, naming the particle and the quantity
// ("particle 3: eta is NaN", "count is 0, must be 1..100", "jet pt is 0, must be > 0").
// Throws nothing.
std::string check_four_momentum_jet(const FourMomentumJet& jet, int max_particles);

// Writes the [max_particles][8] float32 features of spec 1.3 to `out`: one row per constituent,
// all-zero rows after `count`. The jet must pass check_four_momentum_jet. Allocates nothing.
void four_momentum_features(const FourMomentumJet& jet, int max_particles, float* out);

}  // namespace ucluster::embed
