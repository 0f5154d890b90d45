// The loader's HDF5 side: BatchSources streaming rows of a UCluster-layout jet file or of a
// prepared event file, and
// open_loader() for the streaming and the in-memory modes.
#pragma once

#include <memory>
#include <string>

#include "io/event_file.h"
#include "io/loader.h"
#include "io/ucluster_file.h"

namespace ucluster {

// Reads rows on demand with hyperslab reads (labels, pid range and finite data are checked).
class FileSource : public BatchSource {
 public:
  // `block_rows`: the read/shard unit for files whose `data` is not chunked (e.g. the original
  // project's contiguous files); chunked files use their chunk rows.
  explicit FileSource(const std::string& path, std::int64_t block_rows = 512, bool check_data = true);
  std::int64_t rows() const override { return file_.n_jets(); }
  int particles() const override { return file_.n_particles(); }
  int features() const override { return file_.n_features(); }
  std::int64_t chunk_rows() const override { return chunk_rows_; }
  std::string name() const override { return "file '" + file_.path() + "'"; }
  void read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) override;

  const jets::UclusterFile& file() const { return file_; }

 private:
  jets::UclusterFile file_;
  std::int64_t chunk_rows_;
  bool check_data_;
};

// The same for a prepared event file (io/event_file.h, the anomaly-detection task): data, the
// per-particle targets, globals, m_jj (Batch::mass) and the truth (Batch::truth, 1 = signal).
class EventFileSource : public BatchSource {
 public:
  explicit EventFileSource(const std::string& path, bool check_data = true);
  std::int64_t rows() const override { return file_.n_events(); }
  int particles() const override { return file_.n_particles(); }
  int features() const override { return file_.n_features(); }
  int globals() const override { return file_.n_globals(); }
  bool point_targets() const override { return true; }
  std::int64_t chunk_rows() const override { return file_.chunk_rows(); }
  std::string name() const override { return "event file '" + file_.path() + "'"; }
  void read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) override;

 private:
  events::EventFile file_;
  bool check_data_;
};

// A FileSource or, for a file in the event layout, an EventFileSource.
std::unique_ptr<BatchSource> open_source(const std::string& path);

// Streaming (in_memory = false): one reader thread (when libhdf5 is thread-safe, else reads on the
// caller's thread), memory bounded by a few batches and chunks.
// In memory: this rank's shard is read once at construction (whole chunks), then served from RAM.
std::unique_ptr<Loader> open_loader(const std::string& path, const LoaderOptions& options, bool in_memory = false);

}  // namespace ucluster
