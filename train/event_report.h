// The evaluation report of the anomaly-detection application (ucluster-ad-spec.md §3.2): how the
// injected signal (≈1 % of the events) spreads over the K clusters of an event run, per cluster and
// overall, and which cluster a reader would call "the signal cluster", with the truth and without.
// The original repository computed none of this (spec §2.5, Q17); its only metric was a per-batch
// Hungarian accuracy, meaningless for K > 2.
//
// Undefined quantities (a ratio with a zero denominator: S/B of a cluster without background, the
// purity of an empty cluster, an efficiency when the input has no signal or no background) are NaN,
// or +inf when the numerator is positive, and null in the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ucluster {

// One cluster c of the §3.2 table.
struct EventClusterStats {
  int cluster = 0;
  std::int64_t events = 0, signal = 0, background = 0;  // N_c, S_c, B_c
  double purity = 0, purity_error = 0;  // f_c = S_c/N_c and its binomial error sqrt(f_c(1-f_c)/N_c)
  double s_over_b = 0;                  // S_c/B_c
  double signal_efficiency = 0, background_efficiency = 0;  // eps_S = S_c/S, eps_B = B_c/B
  double significance_improvement = 0;                      // SIC = eps_S / sqrt(eps_B)
  double enrichment = 0;                                    // f_c / f_in
  double mean_ln_mj1 = 0;  // mean of global[:,0] = ln m_J1 over the cluster (the label-free rule)
};

struct EventReport {
  std::int64_t events = 0, signal = 0, background = 0;  // N, S, B over the evaluated events
  double f_in = 0, f_in_error = 0, s_over_b_in = 0;     // S/N with its binomial error, S/B
  std::vector<EventClusterStats> clusters;              // one per cluster 0..K-1, empty ones included

  // The signal-enriched cluster (§3.2). Every pick is among the non-empty clusters; ties go to the
  // lower cluster index.
  int best_by_truth = -1;  // c* = argmax_c f_c: uses the truth, as any "1 % -> 28 %" statement must
  // The label-free rule: the cluster with the largest mean ln m_J1. The signal's heavier jet is the
  // 500 GeV X, above most QCD jets (spec §1.4, §5.4: background jet masses peak at 50-200 GeV), and
  // the pre-training pushes the latent to encode the jet masses (Q13), so a signal cluster should
  // show up as the heaviest one. It needs no truth, so it is what a real search could do.
  int label_free_pick = -1;
  std::string label_free_rule;  // one-line description of the rule
  int smallest_cluster = -1;    // the alternative label-free rule of §3.2: the fewest events
  // The baseline: a uniformly drawn non-empty cluster (seeded), and the expected purity of such a
  // draw, the mean of f_c over the non-empty clusters.
  int random_cluster = -1;
  std::uint64_t random_seed = 0;
  double mean_cluster_purity = 0;

  nlohmann::json to_json() const;
  std::string table() const;  // a fixed-width table for the terminal
};

// cluster[n] in 0..num_clusters-1, is_signal[n] in {0, 1}, global[n*4] row-major
// [ln m_J1, tau21_J1, ln m_J2, tau21_J2] (spec §1.4). seed draws random_cluster. Throws
// ucluster::Error on n = 0, num_clusters < 1, a cluster id out of range, an is_signal value other
// than 0 and 1, or a ln m_J1 that is not finite.
EventReport event_report(const std::int32_t* cluster, const std::int32_t* is_signal, const float* global,
                         std::int64_t n, int num_clusters, std::uint64_t seed);

// Per-cluster histograms of one quantity (m_jj, m_J, tau21; §3.2 "Also"): counts of values in `bins`
// equal bins over [lo, hi], values below lo counted in the first bin and above hi in the last,
// split into signal and background: signal[c][b], background[c][b].
struct ClusterHistogram {
  double lo = 0, hi = 0;
  int bins = 0;
  std::vector<std::vector<std::int64_t>> signal, background;
  nlohmann::json to_json() const;  // lo, hi, bins, edges (bins + 1), signal, background
};

// Inputs as for event_report; values[n] must not be NaN; lo < hi (both finite), bins >= 1.
ClusterHistogram cluster_histogram(const std::int32_t* cluster, const std::int32_t* is_signal, const float* values,
                                   std::int64_t n, int num_clusters, double lo, double hi, int bins);

}  // namespace ucluster
