#include "io/toy/events.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "engine/error.h"
#include "io/toy/cluster.h"

namespace ucluster::toy {

namespace {

constexpr double kMassB = 4.8;

double rayleigh(double sigma, Rng& rng) { return sigma * std::sqrt(-2.0 * std::log(1.0 - rng.uniform())); }

// x = m_jj / sqrt(s) from (1 - x)^8 / x^5 on [a, b]: an x^-5 power law by inversion, accepted with
// ((1 - x) / (1 - a))^8 (the factor is largest at the lower edge).
double draw_dijet_mass(const EventConfig& c, Rng& rng) {
  const double a = c.mjj_min / c.sqrt_s, b = c.mjj_max / c.sqrt_s;
  const double ia = std::pow(a, -4.0), ib = std::pow(b, -4.0);
  for (;;) {
    const double x = std::pow(ia - rng.uniform() * (ia - ib), -0.25);
    if (rng.uniform() < std::pow((1.0 - x) / (1.0 - a), 8.0)) return x * c.sqrt_s;
  }
}

// cos(theta*) from (1 - c)^-2 + (1 + c)^-2 on |c| < cmax: (1 - c)^-2 by inversion, then a random
// sign (the two terms are mirror images).
double draw_cos_theta(double cmax, Rng& rng) {
  const double lo = 1.0 / (1.0 + cmax), hi = 1.0 / (1.0 - cmax);
  const double c = 1.0 - 1.0 / (lo + rng.uniform() * (hi - lo));
  return rng.uniform() < 0.5 ? c : -c;
}

// A system of mass m, rapidity y and transverse momentum kt at a random azimuth.
Vec4 system_momentum(double m, double y, double kt, Rng& rng) {
  const double phi = rng.uniform(-M_PI, M_PI);
  const double mt = std::sqrt(m * m + kt * kt);
  return {kt * std::cos(phi), kt * std::sin(phi), mt * std::sinh(y), mt * std::cosh(y)};
}

bool could_trigger(const Vec4& p, const EventConfig& c) {
  return p.pt() > c.parton_pt_min && std::fabs(p.eta()) < c.trigger_eta + 0.5;
}

// Quark flavour of an X or Y decay: b with b_fraction, else u, d, s, c equally.
int signal_flavour(const EventConfig& c, Rng& rng) {
  if (rng.uniform() < c.b_fraction) return 5;
  return 1 + static_cast<int>(rng.below(4));
}

// The hard partons of one QCD event, or false when none can pass the trigger.
bool qcd_partons(const EventConfig& c, Rng& rng, std::vector<ShowerSeed>& seeds) {
  const double mjj = draw_dijet_mass(c, rng);
  const double cost = draw_cos_theta(c.cos_theta_max, rng);
  const Vec4 pair = system_momentum(mjj, rng.normal(0.0, c.y_sigma), rayleigh(c.recoil, rng), rng);
  const double phi = rng.uniform(-M_PI, M_PI), sint = std::sqrt(1.0 - cost * cost), half = 0.5 * mjj;
  const Vec4 r1{half * sint * std::cos(phi), half * sint * std::sin(phi), half * cost, half};
  const Vec4 r2{-r1.px, -r1.py, -r1.pz, half};
  const Vec4 p1 = boost_from_rest(r1, pair), p2 = boost_from_rest(r2, pair);
  if (!could_trigger(p1, c) && !could_trigger(p2, c)) return false;
  for (const Vec4& p : {p1, p2}) {
    const int flavour = rng.uniform() < c.quark_fraction ? 1 + static_cast<int>(rng.below(3)) : 0;
    seeds.push_back({p, flavour, c.qcd_theta_max});
  }
  return true;
}

// Appends the particles of W' -> X Y, X, Y -> q qbar, or returns false when no resonance can pass
// the trigger (nothing appended then).
bool signal_particles(const EventConfig& c, Rng& rng, std::vector<Particle>& out) {
  double m = 0;
  do m = breit_wigner_mass(c.wprime_mass, c.wprime_width, rng);
  while (std::fabs(m - c.wprime_mass) > c.wprime_window);
  const Vec4 wprime = system_momentum(m, rng.normal(0.0, c.wprime_y_sigma), rayleigh(c.wprime_recoil, rng), rng);
  const double mx = breit_wigner_mass(c.x_mass, c.x_width, rng), my = breit_wigner_mass(c.y_mass, c.y_width, rng);
  Vec4 x, y;
  decay_isotropic(wprime, mx, my, rng, x, y);
  if (!could_trigger(x, c) && !could_trigger(y, c)) return false;
  for (const Vec4& res : {x, y}) {
    const int f = signal_flavour(c, rng);
    const double mq = f == 5 ? kMassB : 0.0;
    Vec4 q1, q2;
    decay_isotropic(res, mq, mq, rng, q1, q2);
    // A colour singlet: each quark's radiation stays within the q qbar opening angle (spec 5.3).
    const double open = opening_angle(q1, q2);
    shower_and_fragment({{q1, f, open}, {q2, f, open}}, &res, c.physics, rng, out);
  }
  return true;
}

// The R&D trigger (spec 1.1) on the anti-kT jets of the candidates.
bool passes_trigger(const std::vector<Vec4>& momenta, const EventConfig& c) {
  const ClusterHistory h = cluster(momenta, -1, c.jet_radius, true);
  for (int node : h.jets) {
    const Vec4& j = h.nodes[node].p;
    if (j.pt() > c.trigger_pt && std::fabs(j.eta()) < c.trigger_eta) return true;
  }
  return false;
}

}  // namespace

EventConfig::EventConfig() {
  physics.ue_density = 0.0;
  detector.calo_eta_max = 5.0;
  detector.ecal_cell = 0.02;
  detector.hcal_cell = 0.087;
  detector.track_pt_max = 1e9;  // the HLS4ML "t220" limit is not part of the Delphes card
  detector.track_efficiency = 0.95;
  detector.track_eta_max = 2.5;
  detector.track_pt_min = 0.5;
  detector.ecal_threshold = 0.5;
  detector.hcal_threshold = 1.0;
}

EventGenerator::EventGenerator(std::uint64_t seed, double signal_fraction, EventConfig config)
    : seed_(seed), signal_fraction_(signal_fraction), config_(config) {
  UCLUSTER_CHECK(signal_fraction >= 0.0 && signal_fraction <= 1.0, "toy events: signal fraction ", signal_fraction,
                 " is outside [0, 1]");
}

int EventGenerator::generate(std::int64_t index, double* row, int* attempts) const {
  Rng rng = Rng(seed_).derive(static_cast<std::uint64_t>(index));
  const int label = rng.uniform() < signal_fraction_ ? 1 : 0;
  const EventConfig& c = config_;
  std::vector<ShowerSeed> seeds;
  std::vector<Particle> particles;
  std::vector<Candidate> candidates;
  std::vector<Vec4> momenta;
  // Parton-level rejections are cheap; the trigger after the detector rejects a few more.
  for (int attempt = 1;; ++attempt) {
    UCLUSTER_CHECK(attempt <= 100000, "toy events: event ", index, " passed no trigger in 100000 attempts");
    seeds.clear();
    particles.clear();
    if (label == 1) {
      if (!signal_particles(c, rng, particles)) continue;
    } else {
      if (!qcd_partons(c, rng, seeds)) continue;
      shower_and_fragment(seeds, nullptr, c.physics, rng, particles);
    }
    if (label == 0 && rng.uniform() < c.isr_probability) {
      const double pt = c.isr_pt_min - c.isr_pt_mean * std::log(1.0 - rng.uniform());
      const Vec4 g = from_pt_eta_phi_m(pt, rng.uniform(-c.isr_eta_max, c.isr_eta_max), rng.uniform(-M_PI, M_PI), 0.0);
      shower_and_fragment({{g, 0, c.qcd_theta_max}}, nullptr, c.physics, rng, particles);
    }
    candidates.clear();
    simulate_detector(particles, c.detector, rng, candidates);
    momenta.clear();
    for (const Candidate& cand : candidates) momenta.push_back(cand.p);
    if (!passes_trigger(momenta, c)) continue;
    if (attempts != nullptr) *attempts = attempt;
    break;
  }
  // pT-descending, ties by input order (reproducible); the LHCO order is unknown (spec 1.1).
  std::vector<int> order(momenta.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    const double pa = momenta[a].pt2(), pb = momenta[b].pt2();
    return pa != pb ? pa > pb : a < b;
  });
  std::memset(row, 0, sizeof(double) * kLhcoColumns);
  const std::size_t keep = std::min<std::size_t>(order.size(), kLhcoParticles);
  for (std::size_t i = 0; i < keep; ++i) {
    const Vec4& p = momenta[order[i]];
    row[3 * i] = p.pt();
    row[3 * i + 1] = p.eta();
    row[3 * i + 2] = p.phi();
  }
  row[kLhcoParticleColumns] = label;
  return label;
}

std::int64_t EventGenerator::generate_block(std::int64_t first, std::int64_t count, double* rows, int threads) const {
  const int nt = threads > 0 ? threads : omp_get_max_threads();
  std::string error;
  std::int64_t total_attempts = 0;
#pragma omp parallel for schedule(dynamic, 2) num_threads(nt) reduction(+ : total_attempts)
  for (std::int64_t i = 0; i < count; ++i) {
    try {
      int attempts = 0;
      generate(first + i, rows + i * kLhcoColumns, &attempts);
      total_attempts += attempts;
    } catch (const std::exception& e) {
#pragma omp critical(ucluster_toy_events_error)
      if (error.empty()) error = e.what();
    }
  }
  if (!error.empty()) throw Error(error);
  return total_attempts;
}

}  // namespace ucluster::toy
