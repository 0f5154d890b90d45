#include "io/file_source.h"

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

std::unique_ptr<Loader> open_loader(const std::string& path, const LoaderOptions& options, bool in_memory) {
  LoaderOptions opts = options;
  auto file_source = std::make_unique<FileSource>(path);
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
  Batch staging;
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
  auto mem = std::make_unique<MemorySource>(std::move(arrays), file_source->rows(), c,
                                            file_source->name() + " (in memory)");
  return std::make_unique<Loader>(std::move(mem), opts);
}

}  // namespace ucluster
