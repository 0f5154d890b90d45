#include "io/toy/observables.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "io/jet_feature_math.h"
#include "io/jet_layout.h"
#include "io/toy/cluster.h"

namespace ucluster::toy {

using namespace ucluster::jets;

void constituent_columns(const std::vector<Vec4>& constituents, int n_particles, double* raw) {
  std::memset(raw, 0, sizeof(double) * static_cast<std::size_t>(n_particles) * kRawParticleColumns);
  Vec4 jet;
  for (const Vec4& c : constituents) jet += c;
  const double jet_e = jet.e, jet_pt = jet.pt(), jet_eta = jet.eta(), jet_phi = jet.phi();
  const std::size_t n = constituents.size();
  // (etarel, phirel), the rotation of 3.4 and the columns: io/jet_feature_math.h, shared with
  // embed/'s four-momentum path.
  std::vector<RelativePosition> rel(n);
  for (std::size_t i = 0; i < n; ++i) {
    rel[i] = relative_position(constituents[i].eta(), constituents[i].phi(), jet_eta, jet_phi);
  }
  const EtaPhiRotation rotation = eta_phi_rotation(
      n, [&](std::size_t i) { return rel[i]; }, [&](std::size_t i) { return constituents[i].pt(); });
  const std::size_t keep = std::min<std::size_t>(n, static_cast<std::size_t>(n_particles));
  for (std::size_t i = 0; i < keep; ++i) {
    const Vec4& c = constituents[i];
    double* r = raw + i * kRawParticleColumns;
    const double etarot = rotation.etarot(rel[i]);
    r[kPx] = c.px;
    r[kPy] = c.py;
    r[kPz] = c.pz;
    r[kE] = c.e;
    r[kERel] = c.e / jet_e;
    r[kPt] = c.pt();
    r[kPtRel] = c.pt() / jet_pt;
    r[kEta] = c.eta();
    r[kEtaRel] = rel[i].x;
    r[kEtaRot] = etarot;
    r[kPhi] = c.phi();
    r[kPhiRel] = rel[i].y;
    r[kPhiRot] = rotation.phirot(rel[i]);
    r[kDeltaR] = delta_r(rel[i]);
    r[kCosTheta] = c.pz / c.p();
    r[kCosThetaRel] = costhetarel(etarot);
  }
}

namespace {

// Energy correlation functions e2, e3 with angular exponent beta (pt_R measure).
void ecf(const std::vector<double>& pt, const std::vector<double>& dr, std::size_t n, double beta, double& e2,
         double& e3) {
  std::vector<double> rb(n * n);
  for (std::size_t i = 0; i < n * n; ++i) rb[i] = beta == 1.0 ? dr[i] : std::pow(dr[i], beta);
  e2 = 0;
  e3 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* ri = rb.data() + i * n;
    for (std::size_t j = i + 1; j < n; ++j) {
      const double* rj = rb.data() + j * n;
      const double w = pt[i] * pt[j] * ri[j];
      e2 += w;
      double s = 0;
      for (std::size_t k = j + 1; k < n; ++k) s += pt[k] * ri[k] * rj[k];
      e3 += w * s;
    }
  }
}

struct RapPhi {
  double rap, phi;
};

double delta_r(const RapPhi& a, const RapPhi& b) {
  const double dy = a.rap - b.rap;
  const double dphi = wrap_phi(a.phi - b.phi);
  return std::sqrt(dy * dy + dphi * dphi);
}

double tau(const std::vector<RapPhi>& rp, const std::vector<double>& pt, const ClusterHistory& h, int nsub,
           double beta) {
  if (static_cast<int>(h.snapshots.size()) <= nsub || h.snapshots[nsub].empty()) return 0.0;
  std::vector<RapPhi> axes;
  for (int node : h.snapshots[nsub]) axes.push_back({h.nodes[node].p.rapidity(), h.nodes[node].p.phi()});
  double t = 0;
  for (std::size_t i = 0; i < rp.size(); ++i) {
    double best = std::numeric_limits<double>::infinity();
    for (const RapPhi& a : axes) best = std::min(best, delta_r(rp[i], a));
    t += pt[i] * (beta == 1.0 ? best : best * best);
  }
  return t;
}

// SoftDrop(beta = 0, z_cut = 0.1) = mMDT: decluster the C/A tree, dropping the softer branch
// while min(pT1, pT2) / (pT1 + pT2) < z_cut.
double softdrop_mass(const std::vector<Vec4>& cs) {
  const ClusterHistory h = cluster(cs, 0, 1000.0, false, 1, 0);
  if (h.jets.empty()) return 0.0;
  int node = h.jets.front();
  while (h.nodes[node].parent1 >= 0) {
    const Vec4& a = h.nodes[h.nodes[node].parent1].p;
    const Vec4& b = h.nodes[h.nodes[node].parent2].p;
    const double pa = a.pt(), pb = b.pt();
    if (std::min(pa, pb) / (pa + pb) >= 0.1) break;
    node = pa >= pb ? h.nodes[node].parent1 : h.nodes[node].parent2;
  }
  return h.nodes[node].p.m();
}

}  // namespace

double tau21(const std::vector<Vec4>& cs) {
  if (cs.size() < 2) return 0.0;
  std::vector<double> pt(cs.size());
  std::vector<RapPhi> rp(cs.size());
  for (std::size_t i = 0; i < cs.size(); ++i) {
    pt[i] = cs[i].pt();
    rp[i] = {cs[i].rapidity(), cs[i].phi()};
  }
  const ClusterHistory kt = cluster(cs, 1, 1.0, false, 1, 2);
  const double t1 = tau(rp, pt, kt, 1, 1.0);
  return t1 > 0 ? tau(rp, pt, kt, 2, 1.0) / t1 : 0.0;
}

void jet_columns(const std::vector<Vec4>& cs, JetClass cls, double* row) {
  std::memset(row, 0, sizeof(double) * kJetColumns);
  Vec4 jet;
  for (const Vec4& c : cs) jet += c;
  const std::size_t n = cs.size();
  row[kJetPtFrac] = 1.0;
  row[kJetPt] = jet.pt();
  row[kJetEta] = jet.eta();
  row[kJetMass] = jet.m();
  double zlogz = 0;
  for (const Vec4& c : cs) {
    const double z = c.e / jet.e;
    if (z > 0) zlogz += z * std::log(z);
  }
  row[kJetZlogz] = zlogz;
  // Energy correlators (3.4).
  std::vector<double> pt(n), dr(n * n, 0.0);
  std::vector<RapPhi> rp(n);
  double e1 = 0, e2_0 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    pt[i] = cs[i].pt();
    rp[i] = {cs[i].rapidity(), cs[i].phi()};
    e1 += pt[i];
  }
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      dr[i * n + j] = dr[j * n + i] = delta_r(rp[i], rp[j]);
      e2_0 += pt[i] * pt[j];
    }
  }
  double e2_1 = 0, e3_1 = 0, e2_2 = 0, e3_2 = 0;
  ecf(pt, dr, n, 1.0, e2_1, e3_1);
  ecf(pt, dr, n, 2.0, e2_2, e3_2);
  if (e1 > 0) {
    row[kJetC1B0] = e2_0 / (e1 * e1);
    row[kJetC1B1] = e2_1 / (e1 * e1);
    row[kJetC1B2] = e2_2 / (e1 * e1);
  }
  if (e2_1 > 0) {
    row[kJetC2B1] = e3_1 * e1 / (e2_1 * e2_1);
    row[kJetD2B1] = e3_1 * e1 * e1 * e1 / (e2_1 * e2_1 * e2_1);
  }
  if (e2_2 > 0) {
    row[kJetC2B2] = e3_2 * e1 / (e2_2 * e2_2);
    row[kJetD2B2] = e3_2 * e1 * e1 * e1 / (e2_2 * e2_2 * e2_2);
  }
  // N-subjettiness with exclusive-kT axes (3.4).
  const ClusterHistory kt = cluster(cs, 1, 1.0, false, 1, 3);
  for (int b = 0; b < 2; ++b) {
    const double beta = b + 1.0;
    const double t1 = tau(rp, pt, kt, 1, beta), t2 = tau(rp, pt, kt, 2, beta), t3 = tau(rp, pt, kt, 3, beta);
    row[kJetTau1B1 + 3 * b] = t1;
    row[kJetTau2B1 + 3 * b] = t2;
    row[kJetTau3B1 + 3 * b] = t3;
    row[kJetTau32B1 + b] = t2 > 0 ? t3 / t2 : 0.0;
  }
  row[kJetMassMmdt] = softdrop_mass(cs);
  row[kJetMultiplicity] = static_cast<double>(n);
  row[kJetG + static_cast<int>(cls)] = 1.0;
}

}  // namespace ucluster::toy
