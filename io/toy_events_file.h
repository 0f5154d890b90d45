// make-toy-events' logic: stand-in LHCO R&D files (ucluster-ad-spec.md 5.2/5.3) from the event toy
// (io/toy/events.h), written with the R&D layout (io/lhco_file.h), and the physics summary of a
// file in that layout (io/toy/event_summary.h), stand-in or real.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "io/toy/event_summary.h"
#include "io/toy/events.h"

namespace ucluster::toy {

struct ToyEventsOptions {
  std::int64_t events = 10000;
  std::string out = "toy_events.h5";
  std::uint64_t seed = 1;
  double signal_fraction = 0.1;  // 100k / 1.1M = 0.091 in the R&D file (spec 1.1)
  bool labels = true;            // false: the 2100-column black-box layout
  int threads = 1;
  int gzip_level = 4;
  bool overwrite = false;
  EventConfig config;
  std::function<void(const std::string&)> log;  // progress lines (optional)
};

struct ToyEventsResult {
  std::int64_t signal = 0;    // events labelled signal (counted also when labels = false)
  std::int64_t attempts = 0;  // generated events the trigger needed
  double seconds = 0;
};

// Writes o.out (staged: it appears only when complete). Refuses an existing file unless overwrite.
ToyEventsResult write_toy_events(const ToyEventsOptions& o);

// Reads events [0, max_events) (all when max_events < 0) of an R&D-layout file in blocks and
// measures them. `log` (optional) gets progress lines.
EventSummary summarize_events_file(const std::string& path, std::int64_t max_events = -1,
                                   const std::function<void(const std::string&)>& log = {});

}  // namespace ucluster::toy
