// Prepared event files of the anomaly-detection task (ucluster-ad-spec.md 1.6, with the explicit
// names of quirk Q20 and float32 on disk, Q21), one file per split:
//
//   data        [N, P, F] float32  per-particle features (P = 100, F = 7, spec 1.3), padding all-zero
//   target_bin  [N, P]    int8     per-particle mass-bin class 0..20 (spec 1.4), padding 0
//   global      [N, G]    float32  G = 4: ln m_J1, tau21(J1), ln m_J2, tau21(J2)
//   mjj         [N]       float32  dijet mass of J1 + J2 [GeV]
//   is_signal   [N]       int8     truth 0/1 (0 for unlabelled inputs)
//   source_row  [N]       int64    row of the event in the raw LHCO file
//
// Root attributes: layout = "ucluster-events-1", task = "lhco", prepare = JSON (options and the
// pipeline summary). Every dataset is chunked along the event axis with the same chunk rows
// (default 256 events = 700 kB of data) and uncompressed by default, like the jet task's files
// (io/ucluster_file.h): the training loader reads them far faster than gzip could decompress.
#pragma once

#include <cstdint>
#include <string>

#include "io/h5.h"

namespace ucluster::events {

inline constexpr int kEventParticles = 100, kEventFeatures = 7, kEventGlobals = 4, kMassClasses = 21;
inline constexpr const char* kLayout = "ucluster-events-1";

struct EventWriterOptions {
  std::int64_t chunk_rows = 256;
  int gzip_level = 0;
  std::string task = "lhco";  // the `task` attribute
};

class EventFileWriter {
 public:
  // Creates `path` with room for n_events (>= 1) events and writes the `layout` and `task`
  // attributes.
  EventFileWriter(const std::string& path, std::int64_t n_events, int n_particles = kEventParticles,
                  const EventWriterOptions& options = {});
  // Rows [first, first + count): data [count, P, 7], target_bin [count, P], global [count, 4], mjj,
  // is_signal, source_row [count]. target_bin must be in 0..20 and is_signal 0 or 1.
  void write(std::int64_t first, std::int64_t count, const float* data, const std::int8_t* target_bin,
             const float* global, const float* mjj, const std::int8_t* is_signal, const std::int64_t* source_row);
  // Shrinks the event axis to n_events (at most the count given at construction), for writers
  // that learn the final count while writing; rows beyond it are dropped.
  void set_events(std::int64_t n_events);
  std::int64_t n_events() const { return n_events_; }
  void set_attribute(const std::string& name, const std::string& value);
  const std::string& path() const { return file_.path(); }
  // Closes and reports a failure (a full disk); publish the file only after this returned.
  void close();

 private:
  h5::File file_;
  h5::Dataset data_, target_, global_, mjj_, signal_, row_;
  std::int64_t n_events_ = 0;
  int n_particles_ = 0;
};

class EventFile {
 public:
  // Opens and validates the layout; every problem is named with the file and the dataset: not an
  // event file (the `layout` attribute), a missing dataset, a shape, a dtype, an unavailable filter.
  explicit EventFile(const std::string& path);
  // True when `path` is an HDF5 file whose `layout` attribute says ucluster-events-1 (false for
  // any other file, also a missing or non-HDF5 one).
  static bool is_event_file(const std::string& path);

  const std::string& path() const { return file_.path(); }
  const std::string& task() const { return task_; }
  std::int64_t n_events() const { return n_events_; }
  int n_particles() const { return n_particles_; }
  int n_features() const { return kEventFeatures; }
  int n_globals() const { return kEventGlobals; }
  // Rows per chunk of `data` (0 when not chunked).
  std::int64_t chunk_rows() const { return chunk_rows_; }
  // A root string attribute ("prepare", ...); throws naming the file when it is absent.
  std::string attribute(const std::string& name) const;

  // Rows [first, first + count); any pointer may be null to skip. target_bin values are checked in
  // 0..20, is_signal in {0, 1}, mjj finite; with check_data every data/global value must be
  // finite. Errors name the file and the row.
  void read(std::int64_t first, std::int64_t count, float* data, std::int32_t* target_bin, float* global,
            float* mjj, std::int32_t* is_signal, bool check_data) const;
  // source_row of rows [first, first + count).
  void read_source_rows(std::int64_t first, std::int64_t count, std::int64_t* source_row) const;

 private:
  void check_range(std::int64_t first, std::int64_t count) const;

  h5::File file_;
  h5::Dataset data_, target_, global_, mjj_, signal_, row_;
  std::string task_;
  std::int64_t n_events_ = 0, chunk_rows_ = 0;
  int n_particles_ = 0;
};

}  // namespace ucluster::events
