// The UCluster preprocessing of one raw HLS4ML jet (spec section 1; data-format.md section 2),
// as pure functions on plain arrays so that they can be tested without files.
#pragma once

#include <cstdint>
#include <string>

#include "io/jet_layout.h"

namespace ucluster::jets {

// Selection bounds (spec 1.2): 10 < j_mass < 200 GeV, strict.
inline constexpr double kMassMin = 10.0;
inline constexpr double kMassMax = 200.0;

// The 8 per-particle features of spec 1.3, in the reference order:
//   etarel, phirel, ln ptrel, deltaR, ln e, ln erel, ln pt, costhetarel.
// `raw` is [n_particles, 16] (the jetConstituentList row of one jet), `out` is [n_particles, 8].
// As the reference (np.ma.log(x).filled(0), then features[|features| == inf] = 0): the log of a
// value <= 0 is 0 (so zero padding gives the all-zero feature vector) and +-inf becomes 0. NaN is
// passed through; the file readers reject non-finite inputs before this is called.
void particle_features(const double* raw, int n_particles, float* out);

// Mass-bin target (spec 1.5): the bin of `mass` on the reference edges linspace(0, 200, 20)
// (edge i = i * 200/19, computed like numpy) plus a last edge at 1e4, i.e. floor(m / (200/19))
// with exact edge handling; 0..18 for selected jets, 19 for 200 <= m < 1e4.
// Deliberate deviation from the reference: the reference numbers the non-empty bins
// consecutively per input file, so a file with an empty low bin shifts all higher ids by one.
// Here the id is always the plain bin index, independent of the file. Returns -1 for m < 0 or
// m >= 1e4 (not reachable after the selection).
int mass_bin(double mass);

// Truth class from a raw `jets` row (59 columns): 0 = W (j_w), 1 = Z (j_z), 2 = top (j_t), -1 for
// every other label (gluon, quark, undefined).
int truth_class(const double* jet_row);

// Spec 1.2: W, Z or top and 10 < j_mass < 200.
bool keep_jet(const double* jet_row);

// The `global` columns (c1_b1, c1_b2, c2_b1, zlogz) of a raw `jets` row.
void global_features(const double* jet_row, float* out);

// Checks of one raw jet for the bad-input cases (data-format.md 1.7): every value finite, labels
// j_g..j_undef one-hot, at least one constituent (j1_pt > 0 for the first row). Returns "" when
// fine, else what is wrong (without the jet index, which the caller adds).
std::string check_raw_jet(const double* constituents, int n_particles, const double* jet_row);

// Number of constituents (rows before the zero padding, i.e. with j1_pt > 0).
int count_constituents(const double* constituents, int n_particles);

}  // namespace ucluster::jets
