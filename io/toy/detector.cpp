#include "io/toy/detector.h"

#include <algorithm>
#include <cmath>

namespace ucluster::toy {

namespace {

struct Deposit {
  std::int64_t key;
  double e;
};

std::int64_t cell_key(double eta, double phi, double size, int& ieta, int& iphi) {
  ieta = static_cast<int>(std::floor(eta / size));
  iphi = static_cast<int>(std::floor((phi + M_PI) / size));
  return (static_cast<std::int64_t>(ieta) + (1 << 20)) * (1 << 20) + iphi;
}

// Draws the smearing factor s ~ N(1, sigma), redrawn while s <= 0 (a candidate keeps its direction).
double smear_factor(double sigma, Rng& rng) {
  for (int i = 0; i < 100; ++i) {
    const double s = rng.normal(1.0, sigma);
    if (s > 0.0) return s;
  }
  return 1e-3;
}

double sigma_track(double pt) { return std::hypot(2.5e-4 * pt, 0.015); }
double sigma_photon(double e) {
  return std::sqrt(std::pow(0.027 / std::sqrt(e / 1.6), 2) + std::pow(0.15 * 1.6 / e, 2) + 0.005 * 0.005);
}
double sigma_neutral(double e) { return std::hypot(1.20 / std::sqrt(e / 7.0), 0.05); }

// Sums deposits into cells; each non-empty cell becomes a massless candidate at its centre.
void cells_to_candidates(std::vector<Deposit>& deposits, double size, CandidateKind kind, double scale,
                         double threshold, Rng& rng, std::vector<Candidate>& out) {
  std::sort(deposits.begin(), deposits.end(), [](const Deposit& a, const Deposit& b) { return a.key < b.key; });
  for (std::size_t i = 0; i < deposits.size();) {
    double e = 0;
    std::size_t j = i;
    for (; j < deposits.size() && deposits[j].key == deposits[i].key; ++j) e += deposits[j].e;
    const std::int64_t key = deposits[i].key;
    const int ieta = static_cast<int>(key / (1 << 20)) - (1 << 20);
    const int iphi = static_cast<int>(key % (1 << 20));
    const double eta = (ieta + 0.5) * size, phi = (iphi + 0.5) * size - M_PI;
    const double sigma = kind == CandidateKind::Ecal ? sigma_photon(e) : sigma_neutral(e);
    e *= smear_factor(sigma, rng) * scale;
    if (e < threshold) {
      i = j;
      continue;
    }
    const double pt = e / std::cosh(eta);
    out.push_back({from_pt_eta_phi_m(pt, eta, phi, 0.0), kind});
    i = j;
  }
}

}  // namespace

void simulate_detector(const std::vector<Particle>& particles, const DetectorConfig& cfg, Rng& rng,
                       std::vector<Candidate>& out) {
  std::vector<Deposit> ecal, hcal;
  for (const Particle& part : particles) {
    if (is_neutrino(part.pdg)) continue;
    const double eta = part.p.eta();
    if (std::fabs(eta) >= cfg.calo_eta_max) continue;
    const int a = std::abs(part.pdg);
    int ieta = 0, iphi = 0;
    if (a == 11 || a == 13) {
      const double s = smear_factor(sigma_track(part.p.pt()), rng);
      out.push_back({part.p.scaled(s), CandidateKind::Lepton});
    } else if (a == 211 || a == 321 || a == 2212) {
      // A charged hadron outside the tracker's acceptance still reaches the calorimeter. The
      // acceptance is tested before the efficiency draw, so the defaults draw as before.
      const bool in_tracker = std::fabs(eta) < cfg.track_eta_max && part.p.pt() >= cfg.track_pt_min;
      const bool tracked = part.p.pt() <= cfg.track_pt_max && in_tracker && rng.uniform() < cfg.track_efficiency;
      if (tracked) {
        const double s = smear_factor(sigma_track(part.p.pt()), rng);
        out.push_back({part.p.scaled(s), CandidateKind::Track});
      } else {  // a lost track is measured as a neutral hadron
        hcal.push_back({cell_key(eta, part.p.phi(), cfg.hcal_cell, ieta, iphi), part.p.e});
      }
    } else if (a == 22) {
      ecal.push_back({cell_key(eta, part.p.phi(), cfg.ecal_cell, ieta, iphi), part.p.e});
    } else {
      hcal.push_back({cell_key(eta, part.p.phi(), cfg.hcal_cell, ieta, iphi), part.p.e});
    }
  }
  const double scale = cfg.calo_scale_sigma > 0 ? smear_factor(cfg.calo_scale_sigma, rng) : 1.0;
  cells_to_candidates(ecal, cfg.ecal_cell, CandidateKind::Ecal, scale, cfg.ecal_threshold, rng, out);
  cells_to_candidates(hcal, cfg.hcal_cell, CandidateKind::Hcal, scale, cfg.hcal_threshold, rng, out);
}

}  // namespace ucluster::toy
