#include "train/event_report.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <limits>

#include "engine/error.h"
#include "engine/rng.h"

namespace ucluster {
namespace {

constexpr int kGlobalWidth = 4;  // [ln m_J1, tau21_J1, ln m_J2, tau21_J2], spec §1.4
constexpr const char* kLabelFreeRule =
    "the non-empty cluster with the largest mean ln m_J1 (the signal's 500 GeV X jet sits above most QCD jets)";

// a/b, with the module's convention for a zero denominator: +inf when a > 0, NaN otherwise.
double ratio(double a, double b) {
  if (b > 0) return a / b;
  return a > 0 ? std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
}

// The binomial error of a fraction f measured on n events (§3.2 "with binomial errors").
double binomial_error(double f, std::int64_t n) {
  return n > 0 ? std::sqrt(f * (1 - f) / static_cast<double>(n)) : std::numeric_limits<double>::quiet_NaN();
}

nlohmann::json number_or_null(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

void check_events(const char* op, const std::int32_t* cluster, const std::int32_t* is_signal, std::int64_t n,
                  int num_clusters) {
  UCLUSTER_CHECK(n > 0, op, ": no events (n = ", n, ")");
  UCLUSTER_CHECK(num_clusters >= 1, op, ": num_clusters = ", num_clusters, ", must be >= 1");
  UCLUSTER_CHECK(cluster != nullptr && is_signal != nullptr, op, ": null cluster or is_signal array");
  for (std::int64_t i = 0; i < n; ++i) {
    UCLUSTER_CHECK(cluster[i] >= 0 && cluster[i] < num_clusters, op, ": event ", i, " has cluster id ", cluster[i],
                   ", outside 0..", num_clusters - 1);
    UCLUSTER_CHECK(is_signal[i] == 0 || is_signal[i] == 1, op, ": event ", i, " has is_signal = ", is_signal[i],
                   ", must be 0 or 1");
  }
}

struct Tally {
  std::int64_t events = 0, signal = 0;
  double sum_ln_mj1 = 0;
};

std::vector<Tally> tally(const std::int32_t* cluster, const std::int32_t* is_signal, const float* global,
                         std::int64_t n, int num_clusters) {
  std::vector<Tally> out(static_cast<std::size_t>(num_clusters));
  for (std::int64_t i = 0; i < n; ++i) {
    const float ln_mj1 = global[i * kGlobalWidth];
    UCLUSTER_CHECK(std::isfinite(ln_mj1), "event_report: event ", i, " has ln m_J1 = global[", i, ", 0] = ", ln_mj1,
                   ", not finite");
    Tally& t = out[static_cast<std::size_t>(cluster[i])];
    ++t.events;
    t.signal += is_signal[i];
    t.sum_ln_mj1 += ln_mj1;
  }
  return out;
}

// The §3.2 table row of cluster c.
EventClusterStats cluster_stats(int c, const Tally& t, const EventReport& total) {
  EventClusterStats s;
  s.cluster = c;
  s.events = t.events;
  s.signal = t.signal;
  s.background = t.events - t.signal;
  s.purity = ratio(double(s.signal), double(s.events));
  s.purity_error = binomial_error(s.purity, s.events);
  s.s_over_b = ratio(double(s.signal), double(s.background));
  s.signal_efficiency = ratio(double(s.signal), double(total.signal));
  s.background_efficiency = ratio(double(s.background), double(total.background));
  s.significance_improvement = ratio(s.signal_efficiency, std::sqrt(s.background_efficiency));
  s.enrichment = ratio(s.purity, total.f_in);
  s.mean_ln_mj1 = t.events > 0 ? t.sum_ln_mj1 / double(t.events) : std::numeric_limits<double>::quiet_NaN();
  return s;
}

// The non-empty cluster with the largest key (ties: the lower index); -1 when all are empty.
template <typename Key>
int argmax_nonempty(const std::vector<EventClusterStats>& clusters, Key key) {
  int best = -1;
  for (const EventClusterStats& s : clusters) {
    if (s.events == 0) continue;
    if (best < 0 || key(s) > key(clusters[static_cast<std::size_t>(best)])) best = s.cluster;
  }
  return best;
}

// Uniform over the non-empty clusters with the project's portable generator (engine/rng.h).
int draw_nonempty(const std::vector<EventClusterStats>& clusters, std::uint64_t seed) {
  std::vector<int> nonempty;
  for (const EventClusterStats& s : clusters)
    if (s.events > 0) nonempty.push_back(s.cluster);
  Rng rng(seed);
  return nonempty[static_cast<std::size_t>(rng.below(nonempty.size()))];
}

double mean_nonempty_purity(const std::vector<EventClusterStats>& clusters) {
  double sum = 0;
  int count = 0;
  for (const EventClusterStats& s : clusters) {
    if (s.events == 0) continue;
    sum += s.purity;
    ++count;
  }
  return sum / count;
}

std::string printf_string(const char* fmt, ...) {
  va_list args, copy;
  va_start(args, fmt);
  va_copy(copy, args);
  const int size = std::vsnprintf(nullptr, 0, fmt, copy);
  va_end(copy);
  std::string out(static_cast<std::size_t>(size) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), fmt, args);
  va_end(args);
  out.resize(static_cast<std::size_t>(size));
  return out;
}

// A right-aligned number of the table, "-" when undefined and "inf" when infinite.
std::string cell(double v, int width, int precision) {
  if (std::isnan(v)) return printf_string("%*s", width, "-");
  if (std::isinf(v)) return printf_string("%*s", width, "inf");
  return printf_string("%*.*f", width, precision, v);
}

std::string pick_line(const char* what, int pick, int best) {
  return printf_string("%s: cluster %d (%s best by truth)\n", what, pick, pick == best ? "same as" : "differs from");
}

nlohmann::json cluster_json(const EventClusterStats& s) {
  return {{"cluster", s.cluster},
          {"events", s.events},
          {"signal", s.signal},
          {"background", s.background},
          {"purity", number_or_null(s.purity)},
          {"purity_error", number_or_null(s.purity_error)},
          {"s_over_b", number_or_null(s.s_over_b)},
          {"signal_efficiency", number_or_null(s.signal_efficiency)},
          {"background_efficiency", number_or_null(s.background_efficiency)},
          {"significance_improvement", number_or_null(s.significance_improvement)},
          {"enrichment", number_or_null(s.enrichment)},
          {"mean_ln_mj1", number_or_null(s.mean_ln_mj1)}};
}

}  // namespace

EventReport event_report(const std::int32_t* cluster, const std::int32_t* is_signal, const float* global,
                         std::int64_t n, int num_clusters, std::uint64_t seed) {
  check_events("event_report", cluster, is_signal, n, num_clusters);
  UCLUSTER_CHECK(global != nullptr, "event_report: null global array");
  const std::vector<Tally> tallies = tally(cluster, is_signal, global, n, num_clusters);

  EventReport r;
  r.events = n;
  for (const Tally& t : tallies) r.signal += t.signal;
  r.background = n - r.signal;
  r.f_in = double(r.signal) / double(n);
  r.f_in_error = binomial_error(r.f_in, n);
  r.s_over_b_in = ratio(double(r.signal), double(r.background));
  for (int c = 0; c < num_clusters; ++c) r.clusters.push_back(cluster_stats(c, tallies[c], r));

  r.best_by_truth = argmax_nonempty(r.clusters, [](const EventClusterStats& s) { return s.purity; });
  r.label_free_pick = argmax_nonempty(r.clusters, [](const EventClusterStats& s) { return s.mean_ln_mj1; });
  r.label_free_rule = kLabelFreeRule;
  r.smallest_cluster = argmax_nonempty(r.clusters, [](const EventClusterStats& s) { return -s.events; });
  r.random_cluster = draw_nonempty(r.clusters, seed);
  r.random_seed = seed;
  r.mean_cluster_purity = mean_nonempty_purity(r.clusters);
  return r;
}

nlohmann::json EventReport::to_json() const {
  nlohmann::json rows = nlohmann::json::array();
  for (const EventClusterStats& s : clusters) rows.push_back(cluster_json(s));
  return {{"events", events},
          {"signal", signal},
          {"background", background},
          {"f_in", f_in},
          {"f_in_error", f_in_error},
          {"s_over_b_in", number_or_null(s_over_b_in)},
          {"num_clusters", clusters.size()},
          {"clusters", rows},
          {"best_by_truth", best_by_truth},
          {"label_free_pick", label_free_pick},
          {"label_free_rule", label_free_rule},
          {"label_free_is_best", label_free_pick == best_by_truth},
          {"smallest_cluster", smallest_cluster},
          {"smallest_is_best", smallest_cluster == best_by_truth},
          {"random_cluster", random_cluster},
          {"random_seed", random_seed},
          {"mean_cluster_purity", mean_cluster_purity}};
}

std::string EventReport::table() const {
  std::string out = printf_string("%lld events: %lld signal, %lld background\n", static_cast<long long>(events),
                                  static_cast<long long>(signal), static_cast<long long>(background));
  out += "input: f_in = " + cell(100 * f_in, 0, 3) + " % +- " + cell(100 * f_in_error, 0, 3) +
         " %, S/B_in = " + cell(s_over_b_in, 0, 5) + "\n";
  out += "cluster    events    signal  purity%     +-%        S/B    eps_S    eps_B      SIC  enrich  <ln mJ1>\n";
  for (const EventClusterStats& s : clusters) {
    out += printf_string("%7d %9lld %9lld", s.cluster, static_cast<long long>(s.events),
                         static_cast<long long>(s.signal));
    out += cell(100 * s.purity, 9, 3) + cell(100 * s.purity_error, 8, 3) + cell(s.s_over_b, 11, 5) +
           cell(s.signal_efficiency, 9, 4) + cell(s.background_efficiency, 9, 4) +
           cell(s.significance_improvement, 9, 3) + cell(s.enrichment, 8, 2) + cell(s.mean_ln_mj1, 10, 4) + "\n";
  }
  out += printf_string("best by truth (largest purity): cluster %d\n", best_by_truth);
  out += pick_line("label-free pick (largest mean ln m_J1)", label_free_pick, best_by_truth);
  out += pick_line("smallest cluster", smallest_cluster, best_by_truth);
  out += printf_string("random cluster (seed %llu): %d; mean purity of a random non-empty cluster: ",
                       static_cast<unsigned long long>(random_seed), random_cluster) +
         cell(100 * mean_cluster_purity, 0, 3) + " %\n";
  return out;
}

ClusterHistogram cluster_histogram(const std::int32_t* cluster, const std::int32_t* is_signal, const float* values,
                                   std::int64_t n, int num_clusters, double lo, double hi, int bins) {
  check_events("cluster_histogram", cluster, is_signal, n, num_clusters);
  UCLUSTER_CHECK(values != nullptr, "cluster_histogram: null values array");
  UCLUSTER_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi, "cluster_histogram: range [", lo, ", ", hi,
                 "] must be finite with lo < hi");
  UCLUSTER_CHECK(bins >= 1, "cluster_histogram: bins = ", bins, ", must be >= 1");

  ClusterHistogram h{lo, hi, bins, {}, {}};
  const std::vector<std::int64_t> empty(static_cast<std::size_t>(bins), 0);
  h.signal.assign(static_cast<std::size_t>(num_clusters), empty);
  h.background.assign(static_cast<std::size_t>(num_clusters), empty);
  for (std::int64_t i = 0; i < n; ++i) {
    UCLUSTER_CHECK(!std::isnan(values[i]), "cluster_histogram: event ", i, " has a NaN value");
    // Out-of-range values (infinities included) are clamped into the end bins.
    const double x = (double(values[i]) - lo) / (hi - lo) * bins;
    const int b = x < 0 ? 0 : (x >= bins ? bins - 1 : static_cast<int>(x));
    auto& counts = is_signal[i] ? h.signal : h.background;
    ++counts[static_cast<std::size_t>(cluster[i])][static_cast<std::size_t>(b)];
  }
  return h;
}

nlohmann::json ClusterHistogram::to_json() const {
  nlohmann::json edges = nlohmann::json::array();
  for (int b = 0; b <= bins; ++b) edges.push_back(lo + (hi - lo) * b / bins);
  return {{"lo", lo}, {"hi", hi}, {"bins", bins}, {"edges", edges}, {"signal", signal}, {"background", background}};
}

}  // namespace ucluster
