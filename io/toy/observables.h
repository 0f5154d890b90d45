// The stored per-constituent and per-jet columns of a raw HLS4ML file, computed for a toy jet
// (data-format.md 1.3, 1.4 and 3.4).
#pragma once

#include <vector>

#include "io/toy/physics.h"

namespace ucluster::toy {

// Fills the jetConstituentList row of one jet: `constituents` sorted by decreasing pT (all of
// them: the jet axis, energy and the etarot/phirot rotation use every constituent); the first
// n_particles rows of `raw` ([n_particles, 16]) are written, the rest zero-padded.
//   etarot/phirot (3.4): with (x, y) = (etarel, phirel), the hardest constituent with
//   sqrt(x^2 + y^2) > 0.1 is rotated onto +y, then x -> -x if the pT sum at x < 0 exceeds the one
//   at x > 0; costhetarel = tanh(etarot).
void constituent_columns(const std::vector<Vec4>& constituents, int n_particles, double* raw);

// Fills the 59 `jets` columns of one jet: ptfrac, pt, eta, mass, N-subjettiness (exclusive-kT
// axes, unnormalised, beta = 1, 2), tau32, zlogz, C1 (beta 0, 1, 2), C2 and D2 (beta 1, 2),
// the SoftDrop(beta = 0, z_cut = 0.1) mass, the multiplicity and the one-hot label. The other
// columns (groomed variants, trimmed/pruned masses, M2/N2) are 0: UCluster never reads them.
// tau2 / tau1 (beta = 1, exclusive-kT axes, as jet_columns), 0 for a jet with fewer than 2
// constituents. Used by the event toy's summary (ucluster-ad-spec.md 5.4).
double tau21(const std::vector<Vec4>& constituents);

void jet_columns(const std::vector<Vec4>& constituents, JetClass cls, double* jet_row);

}  // namespace ucluster::toy
