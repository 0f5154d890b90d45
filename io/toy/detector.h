// The parametric CMS-like particle-flow detector of data-format.md 1.6: tracks, ECAL and HCAL
// cells, resolution smearing.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/rng.h"
#include "io/toy/physics.h"

namespace ucluster::toy {

enum class CandidateKind : std::uint8_t { Track = 0, Lepton = 1, Ecal = 2, Hcal = 3 };

struct Candidate {
  Vec4 p;
  CandidateKind kind = CandidateKind::Track;
};

struct DetectorConfig {
  double calo_eta_max = 3.0;
  double ecal_cell = 0.0175;   // e0175
  double hcal_cell = 0.022;    // h022
  double track_pt_max = 220.0;  // t220: harder charged hadrons are not tracked
  double track_efficiency = 0.9;
  // Tracker acceptance and calorimeter cell energy thresholds (GeV). The defaults (no limits)
  // are the HLS4ML jet toy's; the LHCO event toy sets the Delphes-like values of
  // ucluster-ad-spec.md 5.2 (|eta| < 2.5, pT > 0.5 GeV; cells above 0.5 / 1 GeV).
  double track_eta_max = 1e9, track_pt_min = 0.0;
  double ecal_threshold = 0.0, hcal_threshold = 0.0;
  // Jet-level N(1, s) scale on all calorimeter energy (4.5 tuning knob; 0 = off).
  double calo_scale_sigma = 0.0;
};

// Turns the stable particles of one event into particle-flow candidates (neutrinos and particles
// beyond |eta| < calo_eta_max are lost).
void simulate_detector(const std::vector<Particle>& particles, const DetectorConfig& cfg, Rng& rng,
                       std::vector<Candidate>& out);

}  // namespace ucluster::toy
