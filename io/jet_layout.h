// The two on-disk layouts of the jet data (shared/design/data-format.md sections 1 and 2):
//
// Raw HLS4ML (Zenodo 3602254), one file per 10k jets:
//   jetConstituentList  float64 [N, P, 16]  up to P highest-pT constituents, zero-padded
//   jets                float64 [N, 59]     jet observables, one-hot labels in columns 53..58
//   particleFeatureNames  17 variable-length strings (the 17th, j1_pdgid, has no column)
//   jetFeatureNames       59 variable-length strings
//   (jetImage, jetImageECAL, jetImageHCAL [N,100,100] float64: never read)
//
// UCluster layout (what scripts/prepare_data_multi.py writes; spec section 1.6):
//   data [N, P, 8] float32, label [N, 3] one-hot (W, Z, top), pid [N] mass-bin index,
//   masses [N] jet mass (GeV), global [N, 4] (c1_b1, c1_b2, c2_b1, zlogz; unused by the model)
#pragma once

#include <array>
#include <cstdint>

namespace ucluster::jets {

inline constexpr int kRawParticleColumns = 16;
inline constexpr int kJetColumns = 59;
inline constexpr int kFeatures = 8;   // per particle after preprocessing (spec 1.3)
inline constexpr int kClasses = 3;    // W, Z, top
inline constexpr int kGlobals = 4;
inline constexpr int kMassBins = 20;  // network logits (`--ncat 20`); targets are 0..18 (spec 1.5)
inline constexpr int kDefaultParticles = 100;
// The most particles per jet a file may declare: the HLS4ML files hold 30 to 150, and a read block
// of 1,000 jets of 1,000 raw particles already takes 128 MB.
inline constexpr int kMaxParticles = 1000;

// particleFeatureNames, in column order (data-format.md 1.3). Real files list a 17th name,
// j1_pdgid, that has no column.
inline constexpr std::array<const char*, kRawParticleColumns> kParticleNames = {
    "j1_px",  "j1_py",     "j1_pz",     "j1_e",      "j1_erel",   "j1_pt",      "j1_ptrel",    "j1_eta",
    "j1_etarel", "j1_etarot", "j1_phi", "j1_phirel", "j1_phirot", "j1_deltaR", "j1_costheta", "j1_costhetarel"};
inline constexpr const char* kDanglingParticleName = "j1_pdgid";

// jetFeatureNames (data-format.md 1.4).
inline constexpr std::array<const char*, kJetColumns> kJetNames = {
    "j_ptfrac",        "j_pt",            "j_eta",           "j_mass",          "j_tau1_b1",
    "j_tau2_b1",       "j_tau3_b1",       "j_tau1_b2",       "j_tau2_b2",       "j_tau3_b2",
    "j_tau32_b1",      "j_tau32_b2",      "j_zlogz",         "j_c1_b0",         "j_c1_b1",
    "j_c1_b2",         "j_c2_b1",         "j_c2_b2",         "j_d2_b1",         "j_d2_b2",
    "j_d2_a1_b1",      "j_d2_a1_b2",      "j_m2_b1",         "j_m2_b2",         "j_n2_b1",
    "j_n2_b2",         "j_tau1_b1_mmdt",  "j_tau2_b1_mmdt",  "j_tau3_b1_mmdt",  "j_tau1_b2_mmdt",
    "j_tau2_b2_mmdt",  "j_tau3_b2_mmdt",  "j_tau32_b1_mmdt", "j_tau32_b2_mmdt", "j_c1_b0_mmdt",
    "j_c1_b1_mmdt",    "j_c1_b2_mmdt",    "j_c2_b1_mmdt",    "j_c2_b2_mmdt",    "j_d2_b1_mmdt",
    "j_d2_b2_mmdt",    "j_d2_a1_b1_mmdt", "j_d2_a1_b2_mmdt", "j_m2_b1_mmdt",    "j_m2_b2_mmdt",
    "j_n2_b1_mmdt",    "j_n2_b2_mmdt",    "j_mass_trim",     "j_mass_mmdt",     "j_mass_prun",
    "j_mass_sdb2",     "j_mass_sdm1",     "j_multiplicity",  "j_g",             "j_q",
    "j_w",             "j_z",             "j_t",             "j_undef"};

// Raw particle columns.
enum ParticleColumn : int {
  kPx = 0, kPy, kPz, kE, kERel, kPt, kPtRel, kEta, kEtaRel, kEtaRot, kPhi, kPhiRel, kPhiRot, kDeltaR,
  kCosTheta, kCosThetaRel
};

// Raw jet columns used here.
enum JetColumn : int {
  kJetPtFrac = 0, kJetPt = 1, kJetEta = 2, kJetMass = 3,
  kJetTau1B1 = 4, kJetTau2B1, kJetTau3B1, kJetTau1B2, kJetTau2B2, kJetTau3B2, kJetTau32B1, kJetTau32B2,
  kJetZlogz = 12, kJetC1B0 = 13, kJetC1B1 = 14, kJetC1B2 = 15, kJetC2B1 = 16, kJetC2B2 = 17,
  kJetD2B1 = 18, kJetD2B2 = 19, kJetMassMmdt = 48, kJetMultiplicity = 52,
  kJetG = 53, kJetQ = 54, kJetW = 55, kJetZ = 56, kJetT = 57, kJetUndef = 58
};

// The jet columns whose names the raw reader checks (the ones read by the preprocessing).
inline constexpr std::array<int, 12> kCheckedJetColumns = {kJetMass, kJetZlogz, kJetC1B1, kJetC1B2, kJetC2B1,
                                                           kJetG,    kJetQ,     kJetW,    kJetZ,    kJetT,
                                                           kJetUndef, kJetPt};

// The `global` columns (spec 1.1): c1_b1, c1_b2, c2_b1, zlogz.
inline constexpr std::array<int, kGlobals> kGlobalColumns = {kJetC1B1, kJetC1B2, kJetC2B1, kJetZlogz};

inline constexpr const char* kClassNames[kClasses] = {"W", "Z", "top"};

}  // namespace ucluster::jets
