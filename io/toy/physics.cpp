#include "io/toy/physics.h"

#include <array>
#include <cmath>

namespace ucluster::toy {

namespace {

constexpr double kCF = 4.0 / 3.0, kCA = 3.0, kTR = 0.5;
constexpr double kMassB = 4.8;
constexpr double kMassPi = 0.13957, kMassPi0 = 0.13498;

struct Parton {
  Vec4 p;
  int flavour = 0;       // 0: gluon; otherwise |quark flavour| 1..5
  double theta_max = 0;  // angular-ordering limit
  int heavy = 0;         // 4 or 5 on the line of a c or b quark from the hard decay (for leptons)
};

double alpha_s(double kt, const PhysicsConfig& cfg) {
  // One-loop running, frozen below alpha_freeze_kt (data-format.md 4.2).
  kt = std::max(kt, cfg.alpha_freeze_kt);
  const double b0 = (33.0 - 2.0 * cfg.nf) / (12.0 * M_PI);
  return cfg.alpha_scale / (b0 * std::log(kt * kt / (cfg.lambda_qcd * cfg.lambda_qcd)));
}

double breit_wigner(double m0, double gamma, Rng& rng) {
  for (;;) {
    const double m = m0 + 0.5 * gamma * std::tan(M_PI * (rng.uniform() - 0.5));
    if (std::fabs(m - m0) < 5.0 * gamma) return m;
  }
}

double truncated_normal(double mean, double sigma, double limit, Rng& rng) {
  for (;;) {
    const double x = rng.normal(mean, sigma);
    if (std::fabs(x) < limit) return x;
  }
}

// Decay angle cos(theta*) of a vector boson relative to its flight direction: with probability
// `transverse` a transversely polarised boson, (1 +- cos)^2 (asymmetric decays, which feed the
// low-mass tail), otherwise a longitudinal one, 1 - cos^2. transverse < 0: isotropic.
double boson_cos_theta(double transverse, Rng& rng) {
  if (transverse < 0) return rng.uniform(-1.0, 1.0);
  if (rng.uniform() < transverse) {
    const double c = 2.0 * std::cbrt(rng.uniform()) - 1.0;  // density (1 + c)^2
    return rng.uniform() < 0.5 ? c : -c;
  }
  for (;;) {
    const double c = rng.uniform(-1.0, 1.0);
    if (rng.uniform() < 1.0 - c * c) return c;
  }
}

// Two-body decay of `parent` into masses m1, m2 at polar angle acos(cost) to the parent's flight
// direction in its rest frame, azimuth uniform.
void decay2_at(const Vec4& parent, double m1, double m2, double cost, Rng& rng, Vec4& d1, Vec4& d2) {
  const double M = parent.m();
  const double a = M * M - (m1 + m2) * (m1 + m2), b = M * M - (m1 - m2) * (m1 - m2);
  const double pstar = a > 0 ? std::sqrt(a * b) / (2.0 * M) : 0.0;
  const double phi = rng.uniform(0.0, 2.0 * M_PI);
  const bool at_rest = parent.p2() <= 0;
  const Axes ax = at_rest ? axes_along(0, 0, 1) : axes_along(parent.px, parent.py, parent.pz);
  double v[3];
  direction_in(ax, pstar, std::acos(std::clamp(cost, -1.0, 1.0)), phi, v);
  const Vec4 r1{v[0], v[1], v[2], std::sqrt(pstar * pstar + m1 * m1)};
  const Vec4 r2{-v[0], -v[1], -v[2], std::sqrt(pstar * pstar + m2 * m2)};
  d1 = boost_from_rest(r1, parent);
  d2 = boost_from_rest(r2, parent);
}

// Isotropic two-body decay.
void decay2(const Vec4& parent, double m1, double m2, Rng& rng, Vec4& d1, Vec4& d2) {
  decay2_at(parent, m1, m2, rng.uniform(-1.0, 1.0), rng, d1, d2);
}

double angle_between(const Vec4& a, const Vec4& b) {
  const double c = (a.px * b.px + a.py * b.py + a.pz * b.pz) / std::sqrt(a.p2() * b.p2());
  return std::acos(std::clamp(c, -1.0, 1.0));
}

// Angular-ordered collinear cascade with the veto algorithm (data-format.md 4.2).
void shower(const Parton& start, const PhysicsConfig& cfg, Rng& rng, std::vector<Parton>& final_partons) {
  const double a_hat = alpha_s(cfg.kt0, cfg) / M_PI;  // the largest coupling reachable
  std::vector<Parton> stack{start};
  while (!stack.empty()) {
    const Parton par = stack.back();
    stack.pop_back();
    const double E = par.p.e;
    const bool gluon = par.flavour == 0;
    double theta = par.theta_max;
    bool branched = false;
    while (!branched) {
      const double eps = cfg.kt0 / (E * theta);
      if (eps >= 0.5 || theta < cfg.theta_min) break;
      const double L = std::log((1.0 - eps) / eps);
      const double i_main = 2.0 * (gluon ? kCA : kCF) * L;           // q->qg or g->gg overestimate
      const double i_split = gluon ? kTR * cfg.nf * (1.0 - 2.0 * eps) : 0.0;  // g->qqbar
      const double total = i_main + i_split;
      theta *= std::pow(rng.uniform() + 1e-300, 1.0 / (a_hat * total));
      if (theta < cfg.theta_min) break;
      double z = 0, accept = 0;
      bool split_qq = false;
      if (rng.uniform() * total < i_main) {
        const double w = eps * std::pow((1.0 - eps) / eps, rng.uniform());  // 1 - z, log-uniform
        if (gluon) {
          z = rng.uniform() < 0.5 ? w : 1.0 - w;
          accept = z * z + (1 - z) * (1 - z) + z * z * (1 - z) * (1 - z);  // P_gg / P_over
        } else {
          z = 1.0 - w;
          accept = 0.5 * (1.0 + z * z);  // P_qq / P_over
        }
      } else {
        split_qq = true;
        z = rng.uniform(eps, 1.0 - eps);
        accept = z * z + (1 - z) * (1 - z);
      }
      const double kt = z * (1.0 - z) * E * theta;
      if (kt < cfg.kt0) continue;
      accept *= alpha_s(kt, cfg) / (M_PI * a_hat);
      if (rng.uniform() >= accept) continue;
      // Daughters at polar angles (1 - z) theta and z theta on opposite sides of the parent axis.
      const Axes ax = axes_along(par.p.px, par.p.py, par.p.pz);
      const double phi = rng.uniform(0.0, 2.0 * M_PI);
      double v1[3], v2[3];
      direction_in(ax, z * E, (1.0 - z) * theta, phi, v1);
      direction_in(ax, (1.0 - z) * E, z * theta, phi + M_PI, v2);
      Parton d1, d2;
      d1.p = {v1[0], v1[1], v1[2], z * E};
      d2.p = {v2[0], v2[1], v2[2], (1.0 - z) * E};
      d1.theta_max = d2.theta_max = theta;
      if (split_qq) {
        d1.flavour = d2.flavour = 1 + static_cast<int>(rng.below(3));
      } else if (gluon) {
        d1.flavour = d2.flavour = 0;
      } else {
        d1.flavour = par.flavour;  // the quark keeps fraction z
        d1.heavy = par.heavy;
        d2.flavour = 0;
      }
      stack.push_back(d2);
      stack.push_back(d1);
      branched = true;
    }
    if (!branched) final_partons.push_back(par);
  }
}

struct Species {
  int pdg;
  double mass;
  double prob;
  bool charged;
};

// LEP-like per-hadron species (data-format.md 4.3); Lambda and the rest folded into n.
constexpr std::array<Species, 7> kSpecies = {{{211, 0.13957, 0.56, true},
                                              {111, 0.13498, 0.28, false},
                                              {321, 0.49368, 0.055, true},
                                              {130, 0.49761, 0.03, false},
                                              {310, 0.49761, 0.03, false},
                                              {2212, 0.93827, 0.025, true},
                                              {2112, 0.93957, 0.025, false}}};

const Species& pick_species(Rng& rng) {
  double total = 0;
  for (const auto& s : kSpecies) total += s.prob;
  double u = rng.uniform() * total;
  for (const auto& s : kSpecies) {
    if (u < s.prob) return s;
    u -= s.prob;
  }
  return kSpecies[0];
}

// Field-Feynman f(z) = (1 - a) + 3a(1 - z)^2 by rejection (maximum 1 + 2a at z = 0).
double field_feynman(double a, Rng& rng) {
  for (;;) {
    const double z = rng.uniform();
    const double f = (1.0 - a) + 3.0 * a * (1.0 - z) * (1.0 - z);
    if (rng.uniform() * (1.0 + 2.0 * a) < f) return z;
  }
}

// A hadron of energy E and mass m along the parton axes with a Gaussian transverse kick.
Vec4 along_axis(const Axes& ax, double E, double m, double kick_sigma, Rng& rng) {
  E = std::max(E, m + 1e-3);
  const double p = std::sqrt(E * E - m * m);
  double kx = rng.normal(0.0, kick_sigma), ky = rng.normal(0.0, kick_sigma);
  const double kt = std::sqrt(kx * kx + ky * ky);
  if (kt > 0.9 * p) {
    kx *= 0.9 * p / kt;
    ky *= 0.9 * p / kt;
  }
  const double pl = std::sqrt(std::max(0.0, p * p - kx * kx - ky * ky));
  Vec4 v;
  v.px = pl * ax.w[0] + kx * ax.u[0] + ky * ax.v[0];
  v.py = pl * ax.w[1] + kx * ax.u[1] + ky * ax.v[1];
  v.pz = pl * ax.w[2] + kx * ax.u[2] + ky * ax.v[2];
  v.e = E;
  return v;
}

void emit_hadron(int pdg, const Vec4& p, Rng& rng, std::vector<Particle>& out) {
  if (pdg == 111) {  // pi0 -> gamma gamma, isotropic in its rest frame
    Vec4 g1, g2;
    decay2(p, 0.0, 0.0, rng, g1, g2);
    out.push_back({g1, 22});
    out.push_back({g2, 22});
  } else {
    out.push_back({p, pdg});
  }
}

// Independent fragmentation of one parton (data-format.md 4.3).
void fragment(const Parton& q, const PhysicsConfig& cfg, Rng& rng, std::vector<Particle>& out) {
  const Axes ax = axes_along(q.p.px, q.p.py, q.p.pz);
  double e_rem = q.p.e;
  const double lepton_prob = q.heavy == 5 ? cfg.lepton_prob_b : q.heavy == 4 ? cfg.lepton_prob_c : 0.0;
  if (lepton_prob > 0 && e_rem > 10.0 && rng.uniform() < lepton_prob) {
    // Semileptonic heavy-flavour decay: a lepton and an (invisible) neutrino.
    const double zl = rng.uniform(0.1, 0.5), zn = rng.uniform(0.05, 0.25);
    const int lep = rng.uniform() < 0.5 ? 11 : 13;
    const int sign = rng.uniform() < 0.5 ? 1 : -1;
    out.push_back({along_axis(ax, zl * e_rem, lep == 11 ? 0.000511 : 0.10566, 1.0, rng), sign * lep});
    out.push_back({along_axis(ax, zn * e_rem, 0.0, 1.0, rng), sign * (lep + 1)});
    e_rem *= 1.0 - zl - zn;
  }
  while (e_rem > cfg.e_stop) {
    const Species& s = pick_species(rng);
    const double e = std::max(field_feynman(cfg.ff_a, rng) * e_rem, s.mass + 0.05);
    if (e > e_rem) break;
    const int sign = s.charged || s.pdg == 2112 ? (rng.uniform() < 0.5 ? 1 : -1) : 1;
    emit_hadron(sign * s.pdg, along_axis(ax, e, s.mass, cfg.frag_pt_sigma, rng), rng, out);
    e_rem -= e;
  }
  if (e_rem > kMassPi + 0.01) {  // the remainder goes to a last pion
    const bool charged = rng.uniform() < 2.0 / 3.0;
    const int pdg = charged ? (rng.uniform() < 0.5 ? 211 : -211) : 111;
    emit_hadron(pdg, along_axis(ax, e_rem, charged ? kMassPi : kMassPi0, cfg.frag_pt_sigma, rng), rng, out);
  }
}

// Rescales the particles [first, end) so that they add up to `target` exactly: in the rest frame
// of their sum, scale all 3-momenta by one factor (Newton on sum sqrt(l^2 p^2 + m^2) = M), then
// boost with the target. This restores the resonance mass that the massless collinear shower and
// the fragmentation kicks do not conserve (the parton-shower recoil of real generators).
bool reshuffle(std::vector<Particle>& ps, std::size_t first, const Vec4& target) {
  Vec4 sum;
  for (std::size_t i = first; i < ps.size(); ++i) sum += ps[i].p;
  const double M = target.m();
  std::vector<Vec4> rest;
  std::vector<double> m2;
  double msum = 0;
  for (std::size_t i = first; i < ps.size(); ++i) {
    rest.push_back(boost_to_rest(ps[i].p, sum));
    m2.push_back(std::max(0.0, ps[i].p.m2()));
    msum += std::sqrt(m2.back());
  }
  if (msum >= M) return false;
  double lambda = 1.0;
  for (int it = 0; it < 50; ++it) {
    double f = -M, df = 0;
    for (std::size_t k = 0; k < rest.size(); ++k) {
      const double p2 = rest[k].p2(), e = std::sqrt(lambda * lambda * p2 + m2[k]);
      f += e;
      df += e > 0 ? lambda * p2 / e : 0.0;
    }
    if (df <= 0) return false;
    const double next = std::max(0.5 * lambda, lambda - f / df);
    if (std::fabs(next - lambda) < 1e-14 * lambda) {
      lambda = next;
      break;
    }
    lambda = next;
  }
  for (std::size_t k = 0; k < rest.size(); ++k) {
    Vec4 q{lambda * rest[k].px, lambda * rest[k].py, lambda * rest[k].pz, 0};
    q.e = std::sqrt(q.p2() + m2[k]);
    ps[first + k].p = boost_from_rest(q, target);
  }
  return true;
}

// Hadronic W: u dbar or c sbar (CKM-favoured, equal rates).
void w_flavours(Rng& rng, int& f1, int& f2) {
  if (rng.uniform() < 0.5) {
    f1 = 2;
    f2 = 1;
  } else {
    f1 = 4;
    f2 = 3;
  }
}

// Hadronic Z: quark flavour with the measured branching fractions (u, d, s, c, b).
int z_flavour(Rng& rng) {
  constexpr std::array<double, 5> br = {0.116, 0.156, 0.156, 0.120, 0.151};
  double u = rng.uniform() * (br[0] + br[1] + br[2] + br[3] + br[4]);
  constexpr std::array<int, 5> flav = {2, 1, 3, 4, 5};
  for (int i = 0; i < 5; ++i) {
    if (u < br[i]) return flav[i];
    u -= br[i];
  }
  return 1;
}

Parton make_quark(const Vec4& p, int flavour, double theta_max) {
  Parton q;
  q.p = p;
  q.flavour = flavour;
  q.theta_max = theta_max;
  q.heavy = flavour >= 4 ? flavour : 0;
  return q;
}

void add_underlying_event(const Vec4& axis, const PhysicsConfig& cfg, Rng& rng, std::vector<Particle>& out) {
  const double mean = cfg.ue_density * M_PI * cfg.ue_radius * cfg.ue_radius;
  if (mean <= 0) return;
  // Poisson by multiplying uniforms (the mean is a few tens at most).
  int n = 0;
  const double limit = std::exp(-mean);
  double prod = rng.uniform();
  while (prod > limit) {
    ++n;
    prod *= rng.uniform();
  }
  const double eta0 = axis.eta(), phi0 = axis.phi();
  for (int i = 0; i < n; ++i) {
    const double pt = -cfg.ue_mean_pt * std::log(rng.uniform() + 1e-300);
    const double r = cfg.ue_radius * std::sqrt(rng.uniform()), a = rng.uniform(0.0, 2.0 * M_PI);
    const bool charged = rng.uniform() < 2.0 / 3.0;
    const Vec4 p = from_pt_eta_phi_m(std::max(pt, 0.05), eta0 + r * std::cos(a), phi0 + r * std::sin(a),
                                     charged ? kMassPi : kMassPi0);
    emit_hadron(charged ? (rng.uniform() < 0.5 ? 211 : -211) : 111, p, rng, out);
  }
}

}  // namespace

const char* class_name(JetClass c) {
  switch (c) {
    case JetClass::Gluon: return "g";
    case JetClass::Quark: return "q";
    case JetClass::W: return "W";
    case JetClass::Z: return "Z";
    case JetClass::Top: return "top";
  }
  return "?";
}

bool is_neutrino(int pdg) {
  const int a = std::abs(pdg);
  return a == 12 || a == 14 || a == 16;
}

void shower_and_fragment(const std::vector<ShowerSeed>& seeds, const Vec4* colour_singlet, const PhysicsConfig& cfg,
                         Rng& rng, std::vector<Particle>& out) {
  std::vector<Parton> final_partons;
  for (const ShowerSeed& s : seeds) {
    Parton p = make_quark(s.p, s.flavour, s.theta_max);
    if (s.flavour == 0) p.heavy = 0;
    shower(p, cfg, rng, final_partons);
  }
  const std::size_t first = out.size();
  for (const Parton& p : final_partons) fragment(p, cfg, rng, out);
  if (colour_singlet != nullptr) (void)reshuffle(out, first, *colour_singlet);
}

void decay_isotropic(const Vec4& parent, double m1, double m2, Rng& rng, Vec4& d1, Vec4& d2) {
  decay2(parent, m1, m2, rng, d1, d2);
}

double breit_wigner_mass(double m0, double gamma, Rng& rng) { return breit_wigner(m0, gamma, rng); }

double opening_angle(const Vec4& a, const Vec4& b) { return angle_between(a, b); }

Vec4 generate_event(JetClass cls, const PhysicsConfig& cfg, Rng& rng, std::vector<Particle>& out) {
  double pt = rng.normal(cfg.pt_mean, cfg.pt_sigma);
  if ((cls == JetClass::W || cls == JetClass::Z || cls == JetClass::Top) && rng.uniform() < cfg.isr_fraction) {
    // An ISR jet carrying the sample's label (see PhysicsConfig::isr_fraction).
    cls = rng.uniform() < 0.5 ? JetClass::Gluon : JetClass::Quark;
    pt = cfg.isr_pt_min - cfg.isr_pt_mean * std::log(rng.uniform() + 1e-300);
  }
  const double eta = truncated_normal(0.0, cfg.eta_sigma, cfg.eta_max, rng);
  const double phi = rng.uniform(-M_PI, M_PI);
  std::vector<Parton> partons;
  Vec4 object;
  switch (cls) {
    case JetClass::W:
    case JetClass::Z: {
      const double m = cls == JetClass::W ? breit_wigner(80.38, 2.09, rng) : breit_wigner(91.19, 2.50, rng);
      object = from_pt_eta_phi_m(pt, eta, phi, m);
      int f1 = 0, f2 = 0;
      if (cls == JetClass::W) w_flavours(rng, f1, f2);
      else f1 = f2 = z_flavour(rng);
      const double mq = f1 == 5 ? kMassB : 0.0;
      Vec4 q1, q2;
      decay2_at(object, mq, mq, boson_cos_theta(cfg.wz_transverse_fraction, rng), rng, q1, q2);
      const double open = angle_between(q1, q2);  // colour partner: theta_max = dipole opening
      partons.push_back(make_quark(q1, f1, open));
      partons.push_back(make_quark(q2, f2, open));
      break;
    }
    case JetClass::Top: {
      const double mt = breit_wigner(172.5, 1.4, rng);
      double mw = breit_wigner(80.38, 2.09, rng);
      if (mw > mt - kMassB - 1.0) mw = mt - kMassB - 1.0;
      object = from_pt_eta_phi_m(pt, eta, phi, mt);
      Vec4 b, w;
      decay2(object, kMassB, mw, rng, b, w);
      Vec4 q1, q2;
      decay2_at(w, 0.0, 0.0, boson_cos_theta(cfg.top_w_transverse_fraction, rng), rng, q1, q2);
      int f1 = 0, f2 = 0;
      w_flavours(rng, f1, f2);
      // Colour coherence: all three prongs start at their largest mutual angle.
      const double open = std::max({angle_between(b, q1), angle_between(b, q2), angle_between(q1, q2)});
      partons.push_back(make_quark(b, 5, open));
      partons.push_back(make_quark(q1, f1, open));
      partons.push_back(make_quark(q2, f2, open));
      break;
    }
    case JetClass::Gluon:
    case JetClass::Quark: {
      object = from_pt_eta_phi_m(pt, eta, phi, 0.0);
      Parton p;
      p.p = object;
      p.flavour = cls == JetClass::Gluon ? 0 : 1 + static_cast<int>(rng.below(3));
      p.theta_max = 0.8;
      partons.push_back(p);
      break;
    }
  }
  std::vector<Parton> final_partons;
  for (const Parton& p : partons) shower(p, cfg, rng, final_partons);
  const std::size_t first = out.size();
  for (const Parton& p : final_partons) fragment(p, cfg, rng, out);
  if (cls == JetClass::W || cls == JetClass::Z || cls == JetClass::Top) {
    // When the hadron masses exceed the resonance mass (very rare), the energy-conserving
    // kinematics are kept as they are.
    (void)reshuffle(out, first, object);
  }
  add_underlying_event(object, cfg, rng, out);
  return object;
}

}  // namespace ucluster::toy
