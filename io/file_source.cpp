#include "io/file_source.h"

#include <algorithm>

#include "engine/error.h"

namespace ucluster {

FileSource::FileSource(const std::string& path, std::int64_t block_rows, bool check_data)
    : file_(path), chunk_rows_(file_.chunk_rows() > 0 ? file_.chunk_rows() : block_rows), check_data_(check_data) {
  UCLUSTER_CHECK(chunk_rows_ >= 1, "loader: block rows must be positive");
}

void FileSource::read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) {
  const std::size_t row = static_cast<std::size_t>(file_.n_particles()) * file_.n_features();
  file_.read(first, count, batch.data.data() + at * row, batch.target.data() + at, batch.truth.data() + at,
             batch.mass.data() + at, nullptr, check_data_);
}

EventFileSource::EventFileSource(const std::string& path, bool check_data) : file_(path), check_data_(check_data) {
  UCLUSTER_CHECK(file_.chunk_rows() >= 1, "event file '", path, "': its data is not chunked along the events");
}

void EventFileSource::read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) {
  const std::int64_t P = file_.n_particles(), row = P * file_.n_features();
  file_.read(first, count, batch.data.data() + at * row, batch.point_target.data() + at * P,
             batch.global.data() + at * file_.n_globals(), batch.mass.data() + at, batch.truth.data() + at,
             check_data_);
  std::fill_n(batch.target.begin() + at, count, 0);  // events have per-particle targets only
}

std::unique_ptr<BatchSource> open_source(const std::string& path) {
  if (events::EventFile::is_event_file(path)) return std::make_unique<EventFileSource>(path);
  return std::make_unique<FileSource>(path);
}

std::unique_ptr<Loader> open_loader(const std::string& path, const LoaderOptions& options, bool in_memory) {
  LoaderOptions opts = options;
  std::unique_ptr<BatchSource> file_source = open_source(path);
  if (!in_memory) {
    // A reader thread needs a thread-safe libhdf5 (Debian's is); otherwise read synchronously.
    opts.threaded = opts.threaded && h5::library_is_threadsafe();
    return std::make_unique<Loader>(std::move(file_source), opts);
  }
  const ShardRange shard = shard_range(file_source->rows(), file_source->chunk_rows(), opts.rank, opts.world);
  JetArrays arrays;
  arrays.n = shard.rows();
  arrays.n_particles = file_source->particles();
  arrays.n_features = file_source->features();
  arrays.row_offset = shard.begin;
  arrays.n_globals = file_source->globals();
  Batch staging;
  staging.global.resize(static_cast<std::size_t>(arrays.n) * arrays.n_globals);
  if (file_source->point_targets()) staging.point_target.resize(static_cast<std::size_t>(arrays.n) * arrays.n_particles);
  staging.data.resize(static_cast<std::size_t>(arrays.n) * arrays.n_particles * arrays.n_features);
  staging.target.resize(arrays.n);
  staging.truth.resize(arrays.n);
  staging.mass.resize(arrays.n);
  const std::int64_t c = file_source->chunk_rows();
  for (std::int64_t b = shard.begin; b < shard.end;) {
    const std::int64_t e = std::min(shard.end, (b / c + 1) * c);
    file_source->read(b, e - b, staging, b - shard.begin);
    b = e;
  }
  arrays.data = std::move(staging.data);
  arrays.target = std::move(staging.target);
  arrays.truth = std::move(staging.truth);
  arrays.mass = std::move(staging.mass);
  arrays.global = std::move(staging.global);
  arrays.point_target = std::move(staging.point_target);
  auto mem = std::make_unique<MemorySource>(std::move(arrays), file_source->rows(), c,
                                            file_source->name() + " (in memory)");
  return std::make_unique<Loader>(std::move(mem), opts);
}

}  // namespace ucluster
