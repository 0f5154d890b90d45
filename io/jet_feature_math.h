// The arithmetic of the UCluster per-particle features, shared by the toy generator's raw columns
// (io/toy/observables.cpp), prepare-data's features (io/preprocess.cpp) and the embeddable
// library's four-momentum path (embed/src/jet_features.cpp), so that all of them run the same
// double operations in the same order and get the same float32 bits.
//
// Header-only, standard library only: embed/ includes it without linking io/ or engine/.
#pragma once

#include <cmath>
#include <cstddef>

namespace ucluster::jets {

// The value of M_PI, spelled out (M_PI is not standard C++).
inline constexpr double kPi = 3.14159265358979323846;

// Wraps an angle difference to (-pi, pi] (data-format.md 1.3, j1_phirel). Loops once per 2 pi, so
// callers keep |d| small.
inline double wrap_phi(double d) {
  while (d > kPi) d -= 2 * kPi;
  while (d <= -kPi) d += 2 * kPi;
  return d;
}

// (x, y) = (etarel, phirel) of a constituent: eta - eta_jet and phi - phi_jet wrapped
// (data-format.md 1.3, columns 8 and 11).
struct RelativePosition {
  double x, y;
};

inline RelativePosition relative_position(double eta, double phi, double jet_eta, double jet_phi) {
  return {eta - jet_eta, wrap_phi(phi - jet_phi)};
}

// deltaR = sqrt(etarel^2 + phirel^2) (column 13).
inline double delta_r(RelativePosition p) { return std::hypot(p.x, p.y); }

// The rotation and reflection of data-format.md 3.4: the point p is rotated by angle a about the
// origin, then x -> reflect * x.
struct EtaPhiRotation {
  double cos_a = 1.0, sin_a = 0.0, reflect = 1.0;

  double x_rotated(RelativePosition p) const { return cos_a * p.x - sin_a * p.y; }  // before the reflection
  double etarot(RelativePosition p) const { return reflect * x_rotated(p); }        // column 9
  double phirot(RelativePosition p) const { return sin_a * p.x + cos_a * p.y; }     // column 12
};

// The rotation of the n constituents of a jet (data-format.md 3.4), given in decreasing pT order
// as position(i) -> RelativePosition and pt(i) -> double: the first (hardest) constituent with
// deltaR > 0.1 is rotated onto +y, then x -> -x if the pT sum at x < 0 exceeds the one at x > 0
// (the sums run over all n, in order). Without such a constituent there is no rotation.
template <class Position, class Pt>
EtaPhiRotation eta_phi_rotation(std::size_t n, Position position, Pt pt) {
  EtaPhiRotation r;
  for (std::size_t i = 0; i < n; ++i) {
    const RelativePosition p = position(i);
    if (delta_r(p) > 0.1) {
      // Rotating by a = pi/2 - atan2(y, x) puts this point on +y.
      const double a = kPi / 2 - std::atan2(p.y, p.x);
      r.cos_a = std::cos(a);
      r.sin_a = std::sin(a);
      break;
    }
  }
  double pt_neg = 0, pt_pos = 0;
  for (std::size_t i = 0; i < n; ++i) (r.x_rotated(position(i)) < 0 ? pt_neg : pt_pos) += pt(i);
  r.reflect = pt_neg > pt_pos ? -1.0 : 1.0;
  return r;
}

// costhetarel = tanh(etarot) (data-format.md 3.4, column 15).
inline double costhetarel(double etarot) { return std::tanh(etarot); }

// np.ma.log(x).filled(0) (spec 1.3): the log of a value <= 0 is 0; NaN passes through as in numpy.
inline double masked_log(double x) {
  if (!(x > 0.0)) return x != x ? x : 0.0;
  return std::log(x);
}

// features[|features| == inf] = 0, then the float32 of the file (spec 1.3).
inline float finite_or_zero(double v) { return std::isinf(v) ? 0.0f : static_cast<float>(v); }

// The raw columns the 8 features of spec 1.3 are made from (data-format.md 1.3 numbering).
struct FeatureColumns {
  double etarel, phirel, ptrel, deltar, e, erel, pt, costhetarel;
};

// The 8 features of spec 1.3, in order: etarel, phirel, ln ptrel, deltaR, ln e, ln erel, ln pt,
// costhetarel.
inline void particle_feature_row(const FeatureColumns& c, float* out) {
  out[0] = finite_or_zero(c.etarel);
  out[1] = finite_or_zero(c.phirel);
  out[2] = finite_or_zero(masked_log(c.ptrel));
  out[3] = finite_or_zero(c.deltar);
  out[4] = finite_or_zero(masked_log(c.e));
  out[5] = finite_or_zero(masked_log(c.erel));
  out[6] = finite_or_zero(masked_log(c.pt));
  out[7] = finite_or_zero(c.costhetarel);
}

}  // namespace ucluster::jets
