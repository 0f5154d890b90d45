// The loader's HDF5 side: a BatchSource streaming rows of a UCluster-layout file, and
// open_loader() for the streaming and the in-memory modes.
#pragma once

#include <memory>
#include <string>

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

// Streaming (in_memory = false): one reader thread (when libhdf5 is thread-safe, else reads on the
// caller's thread), memory bounded by a few batches and chunks.
// In memory: this rank's shard is read once at construction (whole chunks), then served from RAM.
std::unique_ptr<Loader> open_loader(const std::string& path, const LoaderOptions& options, bool in_memory = false);

}  // namespace ucluster
