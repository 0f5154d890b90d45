// The event-level toy of ucluster-ad-spec.md 5.3: QCD dijet events and W' (3.5 TeV) -> X (500 GeV)
// Y (100 GeV), X, Y -> q qbar signal events, built from the jet toy's blocks (two-body decays,
// angular-ordered shower, independent fragmentation, parametric detector, anti-kT), with the LHCO
// R&D trigger (>= 1 anti-kT R = 1.0 jet with pT > 1.2 TeV, |eta| < 2.5) and the R&D row layout
// of spec 1.1: 700 x (pT, eta, phi), pT-descending, zero-padded, then the label.
//
// Reproducible: event i depends only on (seed, i) through Rng(seed).derive(i), label included, so
// any split over threads or blocks gives the same rows. A toy: it has no realistic soft radiation
// or colour flow (spec 5.3); call results on it "toy".
#pragma once

#include <cstdint>
#include <vector>

#include "io/toy/detector.h"
#include "io/toy/physics.h"

namespace ucluster::toy {

// Columns of one R&D row (spec 1.1).
inline constexpr int kLhcoParticles = 700;
inline constexpr int kLhcoParticleColumns = 3 * kLhcoParticles;  // 2100, then the label
inline constexpr int kLhcoColumns = kLhcoParticleColumns + 1;

struct EventConfig {
  EventConfig();

  PhysicsConfig physics;    // no underlying event (LHCO R&D: no MPI, no pile-up; spec 1.1)
  DetectorConfig detector;  // Delphes-like acceptance and thresholds (spec 5.2)

  // QCD background (spec 5.3): m_jj from (1 - x)^8 / x^5, x = m_jj / sqrt_s, in [mjj_min, mjj_max];
  // cos(theta*) from (1 - c)^-2 + (1 + c)^-2, |c| < cos_theta_max; boost rapidity ~ N(0, y_sigma);
  // pair recoil k_T ~ Rayleigh(recoil); each parton a quark with quark_fraction, else a gluon,
  // showered from theta_max = qcd_theta_max.
  double sqrt_s = 13000.0, mjj_min = 2400.0, mjj_max = 7000.0;
  double cos_theta_max = 0.9, y_sigma = 0.8, recoil = 20.0;
  double quark_fraction = 0.55, qcd_theta_max = 1.2;
  // With isr_probability an extra ISR gluon: pT = isr_pt_min + Exp(isr_pt_mean), eta ~ U(+-isr_eta_max).
  double isr_probability = 0.25, isr_pt_min = 20.0, isr_pt_mean = 60.0, isr_eta_max = 4.0;

  // Signal (spec 5.3): M_W' ~ BW(wprime_mass, wprime_width) within +-wprime_window, y ~ N(0,
  // wprime_y_sigma), pT ~ Rayleigh(wprime_recoil); X and Y Breit-Wigner; isotropic decays; quark
  // flavours u, d, s, c, b with b at b_fraction, the rest equal.
  double wprime_mass = 3500.0, wprime_width = 100.0, wprime_window = 500.0;
  double wprime_y_sigma = 0.5, wprime_recoil = 30.0;
  double x_mass = 500.0, x_width = 5.0, y_mass = 100.0, y_width = 1.0;
  double b_fraction = 0.2;

  // Trigger (spec 1.1) and a parton-level pre-selection that skips the shower for events that
  // cannot pass it (no hard parton above parton_pt_min within |eta| < trigger_eta + 0.5).
  double jet_radius = 1.0, trigger_pt = 1200.0, trigger_eta = 2.5;
  double parton_pt_min = 1000.0;
};

class EventGenerator {
 public:
  // signal_fraction in [0, 1]: each event is signal with this probability (its own draw).
  EventGenerator(std::uint64_t seed, double signal_fraction, EventConfig config = {});

  const EventConfig& config() const { return config_; }
  double signal_fraction() const { return signal_fraction_; }

  // Event number `index` into `row` (kLhcoColumns doubles: particles, then the label 1 = signal,
  // 0 = background). Returns the label. `attempts` (optional) gets the number of generated
  // events the trigger needed.
  int generate(std::int64_t index, double* row, int* attempts = nullptr) const;

  // Events [first, first + count) into consecutive rows over `threads` OpenMP threads (<= 0: the
  // OpenMP default); the result does not depend on the thread count. Returns the total attempts.
  std::int64_t generate_block(std::int64_t first, std::int64_t count, double* rows, int threads) const;

 private:
  std::uint64_t seed_;
  double signal_fraction_;
  EventConfig config_;
};

}  // namespace ucluster::toy
