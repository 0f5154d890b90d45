#include "io/toy_events_file.h"

#include <chrono>
#include <filesystem>
#include <vector>

#include "engine/error.h"
#include "io/lhco_file.h"
#include "io/staged_file.h"

namespace ucluster::toy {

namespace {

constexpr std::int64_t kBlock = 500;  // events per generation block and progress line

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

ToyEventsResult write_toy_events(const ToyEventsOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  UCLUSTER_CHECK(o.events >= 1, "make-toy-events: --events must be at least 1");
  std::error_code ec;
  UCLUSTER_CHECK(o.overwrite || !std::filesystem::exists(o.out, ec), "'", o.out,
                 "' already exists; use --overwrite to replace it or choose another --out");
  const EventGenerator gen(o.seed, o.signal_fraction, o.config);
  StagedFile staged(o.out);
  lhco::LhcoFileWriter writer(staged.temp_path(), o.events, {o.labels, o.gzip_level, 64});
  ToyEventsResult r;
  std::vector<double> rows, packed;
  for (std::int64_t first = 0; first < o.events; first += kBlock) {
    const std::int64_t n = std::min(kBlock, o.events - first);
    rows.resize(static_cast<std::size_t>(n) * kLhcoColumns);
    r.attempts += gen.generate_block(first, n, rows.data(), o.threads);
    for (std::int64_t i = 0; i < n; ++i) r.signal += rows[static_cast<std::size_t>(i * kLhcoColumns + kLhcoParticleColumns)] == 1.0;
    if (o.labels) {
      writer.write(first, n, rows.data());
    } else {  // drop the label column
      packed.resize(static_cast<std::size_t>(n) * kLhcoParticleColumns);
      for (std::int64_t i = 0; i < n; ++i) {
        std::copy_n(rows.data() + i * kLhcoColumns, kLhcoParticleColumns, packed.data() + i * kLhcoParticleColumns);
      }
      writer.write(first, n, packed.data());
    }
    if (o.log) {
      const double s = seconds_since(t0);
      o.log(make_message(first + n, " / ", o.events, " events, ", static_cast<int>((first + n) / s), " events/s, ",
                         r.attempts, " generated for the trigger"));
    }
  }
  writer.close();
  staged.commit();
  r.seconds = seconds_since(t0);
  return r;
}

EventSummary summarize_events_file(const std::string& path, std::int64_t max_events,
                                   const std::function<void(const std::string&)>& log) {
  const lhco::LhcoFile file(path);
  const std::int64_t n = max_events < 0 ? file.n_events() : std::min(max_events, file.n_events());
  EventSummary summary;
  std::vector<double> rows;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t first = 0; first < n; first += 4 * kBlock) {
    const std::int64_t m = std::min(4 * kBlock, n - first);
    file.read_rows(first, m, rows);
    for (std::int64_t i = 0; i < m; ++i) summary.add(rows.data() + i * file.columns(), file.columns());
    if (log) log(make_message("summary: ", first + m, " / ", n, " events, ", seconds_since(t0), " s"));
  }
  return summary;
}

}  // namespace ucluster::toy
