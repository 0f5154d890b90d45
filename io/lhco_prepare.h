// prepare-data --task lhco: one LHCO R&D event file (io/lhco_file.h, spec 1.1) -> three prepared
// event files (io/event_file.h), OUT/{train,test,eval}_TAG.h5, with the per-event physics of
// io/lhco_physics.h, the split ranges of spec 1.5 (Q1), the seeded signal injection that replaces
// the original's unseeded one (Q2), and the pipeline summary of spec 5.4. See docs/anomaly-data.md.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/event_file.h"
#include "io/lhco_physics.h"

namespace ucluster::lhco {

// Rows [first, end) of the raw file.
struct RowRange {
  std::int64_t first = 0, end = 0;
  std::int64_t size() const { return end - first; }
  bool operator==(const RowRange&) const = default;
};

inline constexpr int kSplits = 3;
inline constexpr std::array<const char*, kSplits> kSplitNames = {"train", "test", "eval"};
// Files with at least this many rows get the original's production ranges (spec 1.5).
inline constexpr std::int64_t kProductionRows = 990001;

// "A:B" with 0 <= A < B; anything else throws naming `option`.
RowRange parse_row_range(const std::string& option, const std::string& text);
// Spec 1.5 / Q1: [0, 400000), [400001, 550000), [650001, 990001) for a file of >= 990001 rows,
// otherwise the same proportions of n_rows: [0, 40 %), [40 %, 55 %), [65 %, 99 %) (rounded down).
std::array<RowRange, kSplits> default_split_ranges(std::int64_t n_rows);

// Q2: signal row `row` is kept when splitmix64(seed ^ splitmix64(row)) < fraction * 2^64
// (splitmix64 = engine/rng.h's mix_seed); fraction >= 1 keeps every row, 0 none. Deterministic
// per (seed, row), so a split keeps the same rows whatever else is prepared.
std::uint64_t injection_hash(std::uint64_t seed, std::int64_t row);
bool keep_signal(std::uint64_t seed, std::int64_t row, double fraction);

struct LhcoPrepareOptions {
  std::string input;  // one LHCO-layout file
  std::string out_dir = ".";
  std::string tag = "RD_100P_2NJET";  // OUT/{train,test,eval}_TAG.h5
  double inject = 0.10;               // share of the signal rows kept (spec 1.2 step 10)
  std::uint64_t seed = 1;
  std::array<std::optional<RowRange>, kSplits> rows;  // unset: default_split_ranges()
  EventOptions event;
  // Accept a file without the label column (a black box): is_signal = 0, no injection. Without
  // it such a file is refused.
  bool unlabelled = false;
  std::int64_t chunk_rows = 256;
  int gzip_level = 0;
  std::function<void(const std::string&)> log;  // progress lines (may be empty)
  double progress_seconds = 5.0;                // at most one progress line per this many seconds
};

// The pipeline checks of spec 5.4 for one split.
struct SplitSummary {
  std::string name;
  RowRange rows;
  std::int64_t read = 0, kept = 0;
  std::int64_t dropped_few_jets = 0;     // fewer than 2 jets with pT > 20 GeV
  std::int64_t dropped_few_massive = 0;  // fewer than 2 of them with m >= 10 GeV
  std::int64_t dropped_injection = 0;    // signal rows passing the selection but not injected
  std::int64_t signal_read = 0, signal_selected = 0, signal_kept = 0;
  std::int64_t j1_full = 0;          // kept events with n(J1) >= 100 (Q7: J2 absent from `data`)
  // Q6: kept events with >= 1 constituent of J1 or J2 whose raw delta-phi is off by 2 pi, and
  // such constituents (of `constituents`, all those of J1 and J2, stored or cut).
  std::int64_t dphi_events = 0, dphi_particles = 0, constituents = 0;
  std::int64_t stored_particles = 0;  // real (non-padding) particles in `data`
  std::int64_t pair_differs = 0;     // kept events whose {J1, J2} is not the leading-pT pair (Q8)
  // Targets of the stored real particles: [0] background, [1] signal; by class 0..20.
  std::array<std::array<std::int64_t, events::kMassClasses>, 2> classes{};

  std::string json() const;
  // A few human-readable lines.
  std::string text() const;
};

struct LhcoPrepareResult {
  std::vector<std::string> outputs;  // train, test, eval
  std::vector<SplitSummary> splits;
};

// Validates the options, the input file (layout, label column, split ranges) and the output paths
// before creating any output; then clusters every row of each split. Every problem throws with
// a message naming the file, row or option; outputs appear only when all three are complete. A
// split that keeps no event fails, naming the split, its rows and the counts by reason. The same
// input and options give the same output bytes.
LhcoPrepareResult prepare_lhco(const LhcoPrepareOptions& options);

}  // namespace ucluster::lhco
