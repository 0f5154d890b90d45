// The toy generator's physics (data-format.md section 4): a boosted W, Z or top (or a light
// quark/gluon), its decay, an angular-ordered collinear shower, independent fragmentation into a
// realistic particle mix, and a soft underlying event. Output: the stable particles of one event.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/rng.h"
#include "io/toy/vec.h"

namespace ucluster::toy {

// Values equal the label column offset from j_g (column 53): g, q, W, Z, t.
enum class JetClass : int { Gluon = 0, Quark = 1, W = 2, Z = 3, Top = 4 };
const char* class_name(JetClass c);

struct PhysicsConfig {
  // Heavy object (4.1): pT ~ N(pt_mean, pt_sigma), eta ~ N(0, eta_sigma) truncated to |eta| < eta_max.
  double pt_mean = 1000.0, pt_sigma = 10.0, eta_sigma = 1.0, eta_max = 2.4;
  // Fraction of transversely polarised bosons ((1 +- cos)^2 decay angles; the rest longitudinal):
  // diboson W/Z are mostly transverse, the W from top decay mostly longitudinal (SM: 70 %).
  double wz_transverse_fraction = 0.7, top_w_transverse_fraction = 0.3;
  // Shower (4.2): cut-off k_T0, minimum angle, running coupling frozen below alpha_freeze_kt.
  double kt0 = 1.5;
  double theta_min = 0.005;
  double lambda_qcd = 0.2;
  double alpha_freeze_kt = 1.5;
  double alpha_scale = 0.5;  // multiplies alpha_s (tuning knob for multiplicity)
  int nf = 5;
  // Fragmentation (4.3).
  double e_stop = 3.0;
  double ff_a = 0.77;
  double frag_pt_sigma = 0.35;
  double lepton_prob_b = 0.2, lepton_prob_c = 0.1;
  // The real files keep every anti-kT jet above 100 GeV of an event, labelled by the sample, so a
  // share of the "W/Z/top" jets are initial-state-radiation jets (the files reach down to
  // j_pt = 159 GeV): with this probability a W/Z/top-labelled jet is a light-quark or gluon jet
  // with pT = isr_pt_min + Exp(isr_pt_mean). This feeds the low-mass tails.
  double isr_fraction = 0.05, isr_pt_min = 150.0, isr_pt_mean = 250.0;
  // Underlying event: mean number of soft particles per unit (eta, phi) area, mean pT (GeV),
  // placed within ue_radius of the object's axis.
  double ue_density = 2.0, ue_mean_pt = 0.5, ue_radius = 1.2;
};

struct Particle {
  Vec4 p;
  int pdg = 0;
};

bool is_neutrino(int pdg);

// Building blocks shared with the event-level toy (io/toy/events.h, ucluster-ad-spec.md 5.3).
//
// A parton entering the shower: flavour 0 for a gluon, 1..5 for a quark (4 and 5 may emit a
// semileptonic lepton), theta_max its angular-ordering limit.
struct ShowerSeed {
  Vec4 p;
  int flavour = 0;
  double theta_max = 0;
};
// Showers and fragments the seeds, appending the stable particles to `out`. With
// `colour_singlet` (the 4-momentum of the decaying resonance the seeds come from), the hadrons are
// reshuffled to add up to it, as generate_event does for W/Z/top.
void shower_and_fragment(const std::vector<ShowerSeed>& seeds, const Vec4* colour_singlet, const PhysicsConfig& cfg,
                         Rng& rng, std::vector<Particle>& out);
// Isotropic two-body decay of `parent` (any momentum) into masses m1, m2.
void decay_isotropic(const Vec4& parent, double m1, double m2, Rng& rng, Vec4& d1, Vec4& d2);
// Breit-Wigner mass around m0 with width gamma, truncated to |m - m0| < 5 gamma.
double breit_wigner_mass(double m0, double gamma, Rng& rng);
// The angle between two 3-momenta.
double opening_angle(const Vec4& a, const Vec4& b);

// Generates one event of class `cls`: appends the stable particles (neutrinos included) to `out`
// and returns the object's direction (its 4-momentum; for q/g the initial parton's).
Vec4 generate_event(JetClass cls, const PhysicsConfig& cfg, Rng& rng, std::vector<Particle>& out);

}  // namespace ucluster::toy
