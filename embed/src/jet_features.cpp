#include "jet_features.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <limits>

#include "io/jet_feature_math.h"
#include "io/jet_layout.h"

namespace ucluster::embed {

namespace {

using jets::kFeatures;

// The shortest text that reads back as v; "NaN", "infinity", "-infinity" for the others.
std::string describe(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "infinity" : "-infinity";
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, v).ptr;
  return std::string(text, end);
}

bool fits_float32(double v) { return std::fabs(v) <= double(std::numeric_limits<float>::max()); }

// wrap_phi loops once per 2 pi: any phi convention passes, absurd angles do not.
constexpr double kMaxAbsPhi = 4 * jets::kPi;

// "" if the quantity `name` (of a particle: `prefix` = "particle 3: "; of the jet: "jet ") is
// finite, positive when `positive`, and within kMaxAbsPhi when `is_phi`.
std::string check_value(const std::string& prefix, const char* name, double v, bool positive, bool is_phi) {
  if (!std::isfinite(v)) return prefix + name + " is " + describe(v);
  if (positive && !(v > 0)) return prefix + name + " is " + describe(v) + ", must be > 0";
  if (is_phi && std::fabs(v) > kMaxAbsPhi) {
    return prefix + name + " is " + describe(v) + ", must be within [-4 pi, 4 pi]";
  }
  return "";
}

jets::RelativePosition position(const FourMomentumJet& jet, std::size_t i) {
  return jets::relative_position(jet.eta[i], jet.phi[i], jet.jet_eta, jet.jet_phi);
}

}  // namespace

std::string check_four_momentum_jet(const FourMomentumJet& jet, int max_particles) {
  const char* const names[4] = {"pt", "eta", "phi", "energy"};
  const double* const arrays[4] = {jet.pt, jet.eta, jet.phi, jet.energy};
  for (int q = 0; q < 4; ++q) {
    if (arrays[q] == nullptr) return std::string(names[q]) + " is a null pointer";
  }
  if (jet.count < 1 || jet.count > max_particles) {
    return "count is " + std::to_string(jet.count) + ", must be 1.." + std::to_string(max_particles);
  }
  // The jet first: a bad jet axis would show as a bad etarel on particle 0.
  const double jet_values[4] = {jet.jet_pt, jet.jet_eta, jet.jet_phi, jet.jet_energy};
  for (int q = 0; q < 4; ++q) {
    std::string error = check_value("jet ", names[q], jet_values[q], q == 0 || q == 3, q == 2);
    if (!error.empty()) return error;
  }
  for (int p = 0; p < jet.count; ++p) {
    const std::string prefix = "particle " + std::to_string(p) + ": ";
    for (int q = 0; q < 4; ++q) {
      std::string error = check_value(prefix, names[q], arrays[q][p], q == 0 || q == 3, q == 2);
      if (!error.empty()) return error;
    }
    // etarel and deltaR are stored as they are: prepare-data refuses them beyond float32.
    const jets::RelativePosition rel = position(jet, static_cast<std::size_t>(p));
    if (!fits_float32(rel.x) || !fits_float32(jets::delta_r(rel))) {
      return prefix + "eta - jet eta is " + describe(rel.x) + ", does not fit in float32";
    }
  }
  return "";
}

void four_momentum_features(const FourMomentumJet& jet, int max_particles, float* out) {
  std::fill_n(out, static_cast<std::size_t>(std::max(max_particles, 0)) * kFeatures, 0.0f);
  const std::size_t n = static_cast<std::size_t>(std::clamp(jet.count, 0, std::max(max_particles, 0)));
  // The columns of data-format.md 3.4 (as the toy's constituent_columns computes them), then the
  // features of spec 1.3 (as prepare-data's particle_features): both in io/jet_feature_math.h.
  const jets::EtaPhiRotation rotation = jets::eta_phi_rotation(
      n, [&](std::size_t i) { return position(jet, i); }, [&](std::size_t i) { return jet.pt[i]; });
  for (std::size_t i = 0; i < n; ++i) {
    const jets::RelativePosition rel = position(jet, i);
    jets::particle_feature_row({rel.x, rel.y, jet.pt[i] / jet.jet_pt, jets::delta_r(rel), jet.energy[i],
                                jet.energy[i] / jet.jet_energy, jet.pt[i], jets::costhetarel(rotation.etarot(rel))},
                               out + i * kFeatures);
  }
}

}  // namespace ucluster::embed
