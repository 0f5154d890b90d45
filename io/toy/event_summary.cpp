#include "io/toy/event_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/error.h"
#include "io/toy/cluster.h"
#include "io/toy/observables.h"

namespace ucluster::toy {

namespace {

constexpr double kJetPtMin = 20.0;

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  const std::size_t k = std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

// The centre of the fullest `bin`-wide bin in [0, hi): the peak of a jet-mass distribution.
double mode(const std::vector<double>& v, double bin, double hi) {
  std::vector<std::int64_t> h(static_cast<std::size_t>(hi / bin), 0);
  for (double x : v) {
    if (x >= 0 && x < hi) ++h[static_cast<std::size_t>(x / bin)];
  }
  const auto it = std::max_element(h.begin(), h.end());
  return v.empty() ? 0.0 : (static_cast<double>(it - h.begin()) + 0.5) * bin;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double fraction(const std::vector<double>& v, double lo, double hi) {
  std::int64_t n = 0;
  for (double x : v) n += x >= lo && x < hi;
  return v.empty() ? 0.0 : static_cast<double>(n) / static_cast<double>(v.size());
}

}  // namespace

const char* EventSummary::class_name(int c) {
  return c == 0 ? "background" : c == 1 ? "signal" : "unlabelled";
}

void EventSummary::add(const double* row, int columns) {
  UCLUSTER_CHECK(columns == 2100 || columns == 2101, "event summary: rows of ", columns,
                 " columns, expected 2100 or 2101");
  int cls = 2;
  if (columns == 2101) {
    UCLUSTER_CHECK(row[2100] == 0.0 || row[2100] == 1.0, "event summary: label ", row[2100], " is neither 0 nor 1");
    cls = static_cast<int>(row[2100]);
  }
  Values& v = values_[cls];
  ++v.events;
  std::vector<Vec4> ps;
  for (int i = 0; i < 700; ++i) {
    if (row[3 * i] > 0) ps.push_back(from_pt_eta_phi_m(row[3 * i], row[3 * i + 1], row[3 * i + 2], 0.0));
  }
  v.particles.push_back(static_cast<double>(ps.size()));
  const ClusterHistory h = cluster(ps, -1, 1.0, true);
  std::vector<int> jets;
  for (int node : h.jets) {
    if (h.nodes[node].p.pt() > kJetPtMin) jets.push_back(node);
  }
  std::sort(jets.begin(), jets.end(), [&](int a, int b) { return h.nodes[a].p.pt() > h.nodes[b].p.pt(); });
  if (jets.empty()) return;
  v.lead_pt.push_back(h.nodes[jets[0]].p.pt());
  std::vector<int> leaves;
  leaves_of(h, jets[0], leaves);
  v.j1_n.push_back(static_cast<double>(leaves.size()));
  if (jets.size() < 2) return;
  const Vec4 &j1 = h.nodes[jets[0]].p, &j2 = h.nodes[jets[1]].p;
  v.mjj.push_back((j1 + j2).m());
  double t[2];
  for (int k = 0; k < 2; ++k) {
    leaves.clear();
    leaves_of(h, jets[k], leaves);
    std::vector<Vec4> cs;
    for (int i : leaves) cs.push_back(ps[i]);
    t[k] = tau21(cs);
  }
  const bool first_heavier = j1.m() >= j2.m();
  v.m_heavy.push_back(first_heavier ? j1.m() : j2.m());
  v.m_light.push_back(first_heavier ? j2.m() : j1.m());
  v.tau21_heavy.push_back(first_heavier ? t[0] : t[1]);
  v.tau21_light.push_back(first_heavier ? t[1] : t[0]);
}

EventClassStats EventSummary::stats(int cls) const {
  UCLUSTER_CHECK(cls >= 0 && cls < kClasses, "event summary: no class ", cls);
  const Values& v = values_[cls];
  EventClassStats s;
  s.events = v.events;
  if (v.events == 0) return s;
  s.two_jet_fraction = static_cast<double>(v.mjj.size()) / static_cast<double>(v.events);
  s.lead_pt_median = percentile(v.lead_pt, 0.5);
  s.mjj_median = percentile(v.mjj, 0.5);
  s.mjj_p16 = percentile(v.mjj, 0.16);
  s.mjj_p84 = percentile(v.mjj, 0.84);
  s.mjj_rel_width = s.mjj_median > 0 ? 0.5 * (s.mjj_p84 - s.mjj_p16) / s.mjj_median : 0.0;
  s.sr_fraction = fraction(v.mjj, 3300.0, 3700.0);
  s.m_heavy_median = percentile(v.m_heavy, 0.5);
  s.m_light_median = percentile(v.m_light, 0.5);
  s.m_heavy_mode = mode(v.m_heavy, 20.0, 1000.0);
  s.m_light_mode = mode(v.m_light, 20.0, 1000.0);
  s.tau21_heavy_median = percentile(v.tau21_heavy, 0.5);
  s.tau21_light_median = percentile(v.tau21_light, 0.5);
  s.particles_mean = mean(v.particles);
  s.j1_constituents_mean = mean(v.j1_n);
  s.j1_100_fraction = fraction(v.j1_n, 100.0, 1e9);
  return s;
}

std::string EventSummary::table() const {
  std::vector<int> shown;
  for (int c = 0; c < kClasses; ++c) {
    if (values_[c].events > 0) shown.push_back(c);
  }
  std::string out = "| quantity |";
  std::string rule = "|---|";
  for (int c : shown) {
    out += std::string(" ") + class_name(c) + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  std::vector<EventClassStats> st;
  for (int c : shown) st.push_back(stats(c));
  const auto line = [&](const char* name, auto get, const char* fmt) {
    out += std::string("| ") + name + " |";
    for (const EventClassStats& s : st) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), fmt, get(s));
      out += std::string(" ") + buf + " |";
    }
    out += "\n";
  };
  line("events", [](const EventClassStats& s) { return static_cast<double>(s.events); }, "%.0f");
  line(">= 2 jets (pT > 20 GeV)", [](const EventClassStats& s) { return s.two_jet_fraction; }, "%.3f");
  line("leading jet pT median [GeV]", [](const EventClassStats& s) { return s.lead_pt_median; }, "%.0f");
  line("m_jj median [GeV]", [](const EventClassStats& s) { return s.mjj_median; }, "%.0f");
  line("m_jj 16th percentile [GeV]", [](const EventClassStats& s) { return s.mjj_p16; }, "%.0f");
  line("m_jj 84th percentile [GeV]", [](const EventClassStats& s) { return s.mjj_p84; }, "%.0f");
  line("m_jj half 68 % width / median", [](const EventClassStats& s) { return s.mjj_rel_width; }, "%.3f");
  line("fraction in SR 3.3-3.7 TeV", [](const EventClassStats& s) { return s.sr_fraction; }, "%.3f");
  line("heavier jet mass: peak (20 GeV bins) [GeV]", [](const EventClassStats& s) { return s.m_heavy_mode; }, "%.0f");
  line("heavier jet mass: median [GeV]", [](const EventClassStats& s) { return s.m_heavy_median; }, "%.0f");
  line("lighter jet mass: peak [GeV]", [](const EventClassStats& s) { return s.m_light_mode; }, "%.0f");
  line("lighter jet mass: median [GeV]", [](const EventClassStats& s) { return s.m_light_median; }, "%.0f");
  line("tau21 heavier jet median", [](const EventClassStats& s) { return s.tau21_heavy_median; }, "%.3f");
  line("tau21 lighter jet median", [](const EventClassStats& s) { return s.tau21_light_median; }, "%.3f");
  line("particles per event (mean)", [](const EventClassStats& s) { return s.particles_mean; }, "%.1f");
  line("leading-jet constituents (mean)", [](const EventClassStats& s) { return s.j1_constituents_mean; }, "%.1f");
  line("fraction n(J1) >= 100", [](const EventClassStats& s) { return s.j1_100_fraction; }, "%.3f");
  return out;
}

}  // namespace ucluster::toy
