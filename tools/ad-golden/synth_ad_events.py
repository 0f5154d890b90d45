#!/usr/bin/python3
"""Synthetic dijet events with the AD per-particle features (ucluster-ad-spec.md §1.3-1.4).

Each event has two massless jets J1 (heavier) and J2. Their particles are drawn around the jet
axis (a "prong toy", AD spec §5.3: one prong for QCD-like jets, two for X/Y-like jets), with
log-normal pT fractions summing to 1 (pT_J := Σ pT_p, E_J := Σ E_p over ALL the jet's
constituents, kept or not). The kept particles are J1's constituents, then J2's, in a FastJet-like
order (soft, wide particles first, hard core last; AD spec §1.2 step 5), truncated to 100; padding
is the all-zero 7-vector. Features (float64, then rounded to float32):

  0 η_p − η_J   1 φ_p − φ_J (NOT wrapped: φ in (−π, π], quirk Q6)   2 ln(pT_p/pT_J) (< 0)
  3 ln(E_p/E_J) 4 ln pT_p   5 ln E_p (E = pT cosh η)   6 √(f0² + f1²) (unwrapped Δφ)

Targets: the mass bin of the particle's jet (first i with edge_i ≥ m, edges linspace(10,1000,20)
++ [1e5]); padding 0. Globals [ln m_J1, τ21(J1), ln m_J2, τ21(J2)]: the masses and τ21 are drawn
(not computed from the particles); they set the targets.
"""
import math

import numpy as np

MASS_EDGES = np.append(np.linspace(10.0, 1000.0, 20), [1e5])


def mass_class(m):
    """AD spec §1.4: label = first index i with edge_i ≥ m."""
    return int(np.searchsorted(MASS_EDGES, m, side="left"))


def wrap_phi(phi):
    """(−π, π] like PseudoJet::phi_std."""
    p = math.fmod(phi + math.pi, 2 * math.pi)
    if p <= 0:
        p += 2 * math.pi
    return p - math.pi


def _jet_particles(rs, n_tot, m, pt_j, two_prong):
    """(Δη, Δφ_true, pT) of n_tot massless particles around the axis; pT fractions log-normal."""
    frac = np.exp(rs.normal(0.0, 1.1, n_tot))
    frac /= frac.sum()
    width = np.clip(0.08 / np.sqrt(frac * n_tot), 0.03, 0.7)          # softer -> wider
    deta = rs.normal(0.0, 1.0, n_tot) * width
    dphi = rs.normal(0.0, 1.0, n_tot) * width
    if two_prong:                                                     # X/Y: prongs at ±ΔR/2
        dr = min(0.8, 2.0 * m / pt_j)
        ang = rs.uniform(0, 2 * math.pi)
        side = np.where(rs.uniform(size=n_tot) < 0.5, 0.5, -0.5)
        deta += side * dr * math.cos(ang)
        dphi += side * dr * math.sin(ang)
    return deta, dphi, frac * pt_j


def _features(deta, dphi_true, pt, eta_j, phi_j):
    """AD §1.3 features of all constituents of one jet (float64) and the jet's pT, E."""
    eta = eta_j + deta
    phi = np.array([wrap_phi(phi_j + d) for d in dphi_true])
    e = pt * np.cosh(eta)
    pt_j, e_j = pt.sum(), e.sum()
    f1 = phi - phi_j                                                  # unwrapped (quirk Q6)
    return np.stack([deta, f1, np.log(pt / pt_j), np.log(e / e_j), np.log(pt), np.log(e),
                     np.sqrt(deta ** 2 + f1 ** 2)], axis=-1)


def _fastjet_like_order(feat, rs):
    """soft/wide first, hard core last (roughly FastJet's constituents() order), with jitter."""
    key = feat[:, 2] + rs.normal(0.0, 0.5, len(feat))
    return feat[np.argsort(key, kind="stable")]


def synth_event(rs, spec):
    """spec: dict(n1, n2 kept particles of J1/J2, n1_tot total J1 constituents, signal, phi1)."""
    if spec["signal"]:
        m1, m2 = rs.normal(500.0, 12.0), rs.normal(100.0, 4.0)      # X -> class 10, Y -> class 2
        tau = rs.uniform(0.15, 0.45, 2)
    else:
        m1, m2 = np.sort(np.exp(rs.uniform(math.log(25.0), math.log(300.0), 2)))[::-1]
        tau = rs.uniform(0.5, 0.85, 2)
    pt1 = rs.uniform(1250.0, 1700.0)
    pt2 = pt1 * rs.uniform(0.8, 0.98)
    eta1, eta2 = rs.uniform(-1.5, 1.5, 2)
    phi1 = spec.get("phi1", rs.uniform(-math.pi, math.pi))
    phi2 = wrap_phi(phi1 + math.pi + rs.normal(0, 0.05))
    jets = []
    for (m, pt_j, eta_j, phi_j, n_tot) in ((m1, pt1, eta1, phi1, spec["n1_tot"]),
                                          (m2, pt2, eta2, phi2, spec["n2"])):
        if n_tot == 0:
            jets.append(np.zeros((0, 7)))
            continue
        deta, dphi, pt = _jet_particles(rs, n_tot, m, pt_j, spec["signal"])
        jets.append(_fastjet_like_order(_features(deta, dphi, pt, eta_j, phi_j), rs))
    kept1 = jets[0][: spec["n1"]]
    kept2 = jets[1][: spec["n2"]]
    x = np.zeros((100, 7))
    n = len(kept1) + len(kept2)
    x[:n] = np.concatenate([kept1, kept2])
    t = np.zeros(100, dtype=np.int32)
    t[: len(kept1)] = mass_class(m1)
    t[len(kept1):n] = mass_class(m2)
    glob = np.array([math.log(m1), tau[0], math.log(m2), tau[1]])
    return x.astype(np.float32).astype(np.float64), glob.astype(np.float32).astype(np.float64), t, n
