// Four-vectors for the toy jet generator (GeV, (px, py, pz, E)).
#pragma once

#include <algorithm>
#include <cmath>

#include "io/jet_feature_math.h"

namespace ucluster::toy {

struct Vec4 {
  double px = 0, py = 0, pz = 0, e = 0;

  Vec4& operator+=(const Vec4& o) {
    px += o.px;
    py += o.py;
    pz += o.pz;
    e += o.e;
    return *this;
  }
  friend Vec4 operator+(Vec4 a, const Vec4& b) { return a += b; }
  Vec4 scaled(double s) const { return {px * s, py * s, pz * s, e * s}; }

  double pt2() const { return px * px + py * py; }
  double pt() const { return std::sqrt(pt2()); }
  double p2() const { return pt2() + pz * pz; }
  double p() const { return std::sqrt(p2()); }
  double m2() const { return e * e - p2(); }
  double m() const { return std::sqrt(std::max(0.0, m2())); }
  double phi() const { return std::atan2(py, px); }
  // Pseudorapidity asinh(pz / pT) (large finite value along the beam).
  double eta() const {
    const double pt_ = pt();
    return pt_ > 0 ? std::asinh(pz / pt_) : (pz >= 0 ? 1e5 : -1e5);
  }
  // Rapidity 0.5 ln((E + pz)/(E - pz)), used by the jet algorithms as in FastJet.
  double rapidity() const {
    const double plus = e + pz, minus = e - pz;
    if (plus <= 0 || minus <= 0) return pz >= 0 ? 1e5 : -1e5;
    return 0.5 * std::log(plus / minus);
  }
};

inline Vec4 from_pt_eta_phi_m(double pt, double eta, double phi, double m) {
  const double px = pt * std::cos(phi), py = pt * std::sin(phi), pz = pt * std::sinh(eta);
  return {px, py, pz, std::sqrt(px * px + py * py + pz * pz + m * m)};
}

// Wraps an angle difference to (-pi, pi] (shared with the feature arithmetic).
using jets::wrap_phi;

// Boosts `p` (given in the rest frame of `frame`) into the frame where `frame` has its momentum:
// E = g(E* + b.p*), p = p* + [(g - 1)(p*.n) + g|b| E*] n (data-format.md 4.1).
inline Vec4 boost_from_rest(const Vec4& p, const Vec4& frame) {
  const double m = frame.m();
  const double bx = frame.px / frame.e, by = frame.py / frame.e, bz = frame.pz / frame.e;
  const double b2 = bx * bx + by * by + bz * bz;
  if (b2 <= 0) return p;
  const double g = frame.e / m;
  const double bp = bx * p.px + by * p.py + bz * p.pz;
  const double k = (g - 1.0) * bp / b2 + g * p.e;
  return {p.px + k * bx, p.py + k * by, p.pz + k * bz, g * (p.e + bp)};
}

// The inverse: `p` in the lab -> the rest frame of `frame`.
inline Vec4 boost_to_rest(const Vec4& p, const Vec4& frame) {
  Vec4 inv = frame;
  inv.px = -inv.px;
  inv.py = -inv.py;
  inv.pz = -inv.pz;
  return boost_from_rest(p, inv);
}

// An orthonormal frame (u, v, w) with w along the 3-vector (x, y, z).
struct Axes {
  double u[3], v[3], w[3];
};

inline Axes axes_along(double x, double y, double z) {
  Axes a{};
  const double n = std::sqrt(x * x + y * y + z * z);
  a.w[0] = x / n;
  a.w[1] = y / n;
  a.w[2] = z / n;
  // u: perpendicular to w, built from the axis least aligned with w.
  double t[3] = {0, 0, 0};
  const double ax = std::fabs(a.w[0]), ay = std::fabs(a.w[1]), az = std::fabs(a.w[2]);
  if (ax <= ay && ax <= az) t[0] = 1;
  else if (ay <= az) t[1] = 1;
  else t[2] = 1;
  a.u[0] = t[1] * a.w[2] - t[2] * a.w[1];
  a.u[1] = t[2] * a.w[0] - t[0] * a.w[2];
  a.u[2] = t[0] * a.w[1] - t[1] * a.w[0];
  const double un = std::sqrt(a.u[0] * a.u[0] + a.u[1] * a.u[1] + a.u[2] * a.u[2]);
  for (double& c : a.u) c /= un;
  a.v[0] = a.w[1] * a.u[2] - a.w[2] * a.u[1];
  a.v[1] = a.w[2] * a.u[0] - a.w[0] * a.u[2];
  a.v[2] = a.w[0] * a.u[1] - a.w[1] * a.u[0];
  return a;
}

// A 3-vector of length `p` at polar angle theta and azimuth phi around the axes' w.
inline void direction_in(const Axes& a, double p, double theta, double phi, double out[3]) {
  const double st = std::sin(theta), ct = std::cos(theta), cp = std::cos(phi), sp = std::sin(phi);
  for (int i = 0; i < 3; ++i) out[i] = p * (st * cp * a.u[i] + st * sp * a.v[i] + ct * a.w[i]);
}

}  // namespace ucluster::toy
