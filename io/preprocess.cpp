#include "io/preprocess.h"

#include <cmath>
#include <limits>

#include "engine/error.h"
#include "io/jet_feature_math.h"

namespace ucluster::jets {

namespace {

bool fits_float32(double v) { return std::fabs(v) <= double(std::numeric_limits<float>::max()); }

}  // namespace

void particle_features(const double* raw, int n_particles, float* out) {
  for (int p = 0; p < n_particles; ++p) {
    const double* r = raw + static_cast<std::ptrdiff_t>(p) * kRawParticleColumns;
    // The arithmetic is shared with embed/'s four-momentum path (io/jet_feature_math.h).
    particle_feature_row({r[kEtaRel], r[kPhiRel], r[kPtRel], r[kDeltaR], r[kE], r[kERel], r[kPt], r[kCosThetaRel]},
                         out + static_cast<std::ptrdiff_t>(p) * kFeatures);
  }
}

int mass_bin(double mass) {
  if (!(mass >= 0.0) || mass >= 1e4) return -1;
  // numpy's linspace(0, 200, 20): edge i = i * step with step = 200/19, last edge exactly 200.
  const double step = 200.0 / 19.0;
  auto edge = [&](int i) { return i == 19 ? 200.0 : static_cast<double>(i) * step; };
  if (mass >= 200.0) return 19;
  int b = static_cast<int>(std::floor(mass / step));
  if (b > 18) b = 18;
  while (b < 18 && mass >= edge(b + 1)) ++b;
  while (b > 0 && mass < edge(b)) --b;
  return b;
}

int truth_class(const double* jet_row) {
  if (jet_row[kJetW] == 1.0) return 0;
  if (jet_row[kJetZ] == 1.0) return 1;
  if (jet_row[kJetT] == 1.0) return 2;
  return -1;
}

bool keep_jet(const double* jet_row) {
  const double m = jet_row[kJetMass];
  return truth_class(jet_row) >= 0 && m > kMassMin && m < kMassMax;
}

void global_features(const double* jet_row, float* out) {
  for (int i = 0; i < kGlobals; ++i) out[i] = static_cast<float>(jet_row[kGlobalColumns[i]]);
}

int count_constituents(const double* constituents, int n_particles) {
  int n = 0;
  while (n < n_particles && constituents[static_cast<std::ptrdiff_t>(n) * kRawParticleColumns + kPt] > 0.0) ++n;
  return n;
}

std::string check_raw_jet(const double* constituents, int n_particles, const double* jet_row) {
  for (int p = 0; p < n_particles; ++p) {
    const double* particle = constituents + static_cast<std::ptrdiff_t>(p) * kRawParticleColumns;
    for (int c = 0; c < kRawParticleColumns; ++c) {
      if (!std::isfinite(particle[c])) {
        return make_message(std::isnan(particle[c]) ? "NaN" : "infinity", " in jetConstituentList (particle ", p,
                            ", column ", c, " '", kParticleNames[c], "')");
      }
    }
    // Features stored as they are (not through a logarithm) must fit in float32: a finite float64
    // beyond its range would be written as an infinity.
    for (int c : {kEtaRel, kPhiRel, kDeltaR, kCosThetaRel}) {
      if (!fits_float32(particle[c])) {
        return make_message(particle[c], " in jetConstituentList (particle ", p, ", column ", c, " '",
                            kParticleNames[c], "') does not fit in float32 (largest ",
                            std::numeric_limits<float>::max(), ")");
      }
    }
    if (particle[kPt] < 0.0) return make_message("particle ", p, " has a negative pt (j1_pt = ", particle[kPt], ")");
  }
  for (int c = 0; c < kJetColumns; ++c) {
    if (!std::isfinite(jet_row[c])) {
      return make_message(std::isnan(jet_row[c]) ? "NaN" : "infinity", " in jets (column ", c, " '", kJetNames[c],
                          "')");
    }
  }
  for (int c : kGlobalColumns) {
    if (!fits_float32(jet_row[c])) {
      return make_message(jet_row[c], " in jets (column ", c, " '", kJetNames[c],
                          "') does not fit in float32 (largest ", std::numeric_limits<float>::max(), ")");
    }
  }
  int ones = 0;
  bool binary = true;
  for (int c = kJetG; c <= kJetUndef; ++c) {
    if (jet_row[c] == 1.0) ++ones;
    else if (jet_row[c] != 0.0) binary = false;
  }
  if (ones != 1 || !binary) {
    std::string values;
    for (int c = kJetG; c <= kJetUndef; ++c) values += make_message(c == kJetG ? "" : ", ", jet_row[c]);
    return make_message("labels j_g, j_q, j_w, j_z, j_t, j_undef (columns 53..58) are not one-hot: [", values, "]");
  }
  if (count_constituents(constituents, n_particles) == 0) {
    return "has no constituents (j1_pt of the first particle is 0)";
  }
  return "";
}

}  // namespace ucluster::jets
