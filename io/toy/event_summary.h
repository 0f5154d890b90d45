// The physics checker of the event toy (ucluster-ad-spec.md 5.4): anti-kT R = 1.0 jets of R&D rows
// (spec 1.1 layout, real or stand-in), and per class the leading-jet pT, m_jj, the masses and tau21
// of the two leading jets (heavier and lighter), the multiplicities and the fraction in the LHCO
// signal region. It measures stored rows only, so it runs the same on the real file.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ucluster::toy {

// Percentiles, modes and fractions of one class.
struct EventClassStats {
  std::int64_t events = 0;
  double two_jet_fraction = 0;              // events with >= 2 jets (pT > 20 GeV)
  double lead_pt_median = 0;
  double mjj_median = 0, mjj_p16 = 0, mjj_p84 = 0;
  double mjj_rel_width = 0;                 // (p84 - p16) / 2 / median
  double sr_fraction = 0;                   // 3.3 < m_jj < 3.7 TeV
  double m_heavy_median = 0, m_heavy_mode = 0, m_light_median = 0, m_light_mode = 0;
  double tau21_heavy_median = 0, tau21_light_median = 0;
  double particles_mean = 0;                // non-zero particles per event (of at most 700)
  double j1_constituents_mean = 0;          // of the leading-pT jet
  double j1_100_fraction = 0;               // n(J1) >= 100 (spec Q7)
};

class EventSummary {
 public:
  // Class 0: background, 1: signal, 2: unlabelled (2100-column rows).
  static constexpr int kClasses = 3;
  static const char* class_name(int c);

  // One row of `columns` (2100 or 2101) doubles.
  void add(const double* row, int columns);
  EventClassStats stats(int cls) const;
  // A Markdown table of the classes that have events.
  std::string table() const;

 private:
  struct Values {
    std::int64_t events = 0;
    std::vector<double> lead_pt, mjj, m_heavy, m_light, tau21_heavy, tau21_light, particles, j1_n;
  };
  std::array<Values, kClasses> values_;
};

}  // namespace ucluster::toy
