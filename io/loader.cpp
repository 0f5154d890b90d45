#include "io/loader.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "engine/rng.h"

namespace ucluster {

// ------------------------------------------------------------------------------------------------
// Sharding

ShardRange shard_range(std::int64_t rows, std::int64_t chunk_rows, int rank, int world) {
  UCLUSTER_CHECK(world >= 1 && rank >= 0 && rank < world, "loader: rank ", rank, " is not in [0, ", world, ")");
  UCLUSTER_CHECK(rows >= 0 && chunk_rows >= 1, "loader: bad row count ", rows, " or chunk size ", chunk_rows);
  const std::int64_t chunks = (rows + chunk_rows - 1) / chunk_rows;
  // Whole chunks per rank when every rank can get one; single rows for tiny data sets.
  const std::int64_t unit = chunks >= world ? chunk_rows : 1;
  const std::int64_t units = (rows + unit - 1) / unit;
  const std::int64_t u0 = units * rank / world, u1 = units * (rank + 1) / world;
  return {std::min(rows, u0 * unit), std::min(rows, u1 * unit)};
}

std::int64_t steps_per_epoch(std::int64_t rows, std::int64_t chunk_rows, int world, std::int64_t batch_size,
                             bool drop_last) {
  UCLUSTER_CHECK(batch_size >= 1, "loader: batch size ", batch_size, " must be positive");
  std::int64_t steps = drop_last ? INT64_MAX : 0;
  for (int r = 0; r < world; ++r) {
    const std::int64_t n = shard_range(rows, chunk_rows, r, world).rows();
    steps = drop_last ? std::min(steps, n / batch_size) : std::max(steps, (n + batch_size - 1) / batch_size);
  }
  return steps;
}

// ------------------------------------------------------------------------------------------------
// MemorySource

MemorySource::MemorySource(JetArrays arrays, std::int64_t total_rows, std::int64_t chunk_rows, std::string name)
    : arrays_(std::move(arrays)), total_rows_(total_rows), chunk_rows_(chunk_rows), name_(std::move(name)) {
  const std::int64_t row = static_cast<std::int64_t>(arrays_.n_particles) * arrays_.n_features;
  UCLUSTER_CHECK(arrays_.n >= 0 && static_cast<std::int64_t>(arrays_.data.size()) == arrays_.n * row &&
                     static_cast<std::int64_t>(arrays_.target.size()) == arrays_.n &&
                     static_cast<std::int64_t>(arrays_.truth.size()) == arrays_.n &&
                     static_cast<std::int64_t>(arrays_.mass.size()) == arrays_.n,
                 name_, ": in-memory jet arrays have inconsistent sizes (n = ", arrays_.n, ", data ",
                 arrays_.data.size(), ", target ", arrays_.target.size(), ", truth ", arrays_.truth.size(),
                 ", mass ", arrays_.mass.size(), ")");
  UCLUSTER_CHECK(arrays_.n_globals >= 0 &&
                     static_cast<std::int64_t>(arrays_.global.size()) == arrays_.n * arrays_.n_globals &&
                     (arrays_.point_target.empty() ||
                      static_cast<std::int64_t>(arrays_.point_target.size()) == arrays_.n * arrays_.n_particles),
                 name_, ": in-memory event arrays have inconsistent sizes (n = ", arrays_.n, ", global ",
                 arrays_.global.size(), ", point targets ", arrays_.point_target.size(), ")");
  UCLUSTER_CHECK(arrays_.row_offset >= 0 && arrays_.row_offset + arrays_.n <= total_rows_, name_,
                 ": rows [", arrays_.row_offset, ", ", arrays_.row_offset + arrays_.n, ") outside [0, ", total_rows_,
                 ")");
  UCLUSTER_CHECK(chunk_rows_ >= 1, name_, ": chunk rows must be positive");
}

void MemorySource::read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) {
  const std::int64_t lo = first - arrays_.row_offset;
  UCLUSTER_CHECK(lo >= 0 && lo + count <= arrays_.n, name_, ": rows [", first, ", ", first + count,
                 ") are not held in memory (held: [", arrays_.row_offset, ", ", arrays_.row_offset + arrays_.n, "))");
  const std::size_t row = static_cast<std::size_t>(arrays_.n_particles) * arrays_.n_features;
  std::memcpy(batch.data.data() + at * row, arrays_.data.data() + lo * row, sizeof(float) * row * count);
  std::copy_n(arrays_.target.begin() + lo, count, batch.target.begin() + at);
  std::copy_n(arrays_.truth.begin() + lo, count, batch.truth.begin() + at);
  std::copy_n(arrays_.mass.begin() + lo, count, batch.mass.begin() + at);
  const std::size_t g = static_cast<std::size_t>(arrays_.n_globals);
  std::copy_n(arrays_.global.begin() + lo * g, count * g, batch.global.begin() + at * g);
  if (!arrays_.point_target.empty())
    std::copy_n(arrays_.point_target.begin() + lo * arrays_.n_particles, count * arrays_.n_particles,
                batch.point_target.begin() + at * arrays_.n_particles);
}

// ------------------------------------------------------------------------------------------------
// Loader

Loader::Loader(std::unique_ptr<BatchSource> source, LoaderOptions options)
    : source_(std::move(source)), options_(options) {
  UCLUSTER_CHECK(source_ != nullptr, "loader: no data source");
  UCLUSTER_CHECK(options_.prefetch >= 1, "loader: prefetch must be at least 1, got ", options_.prefetch);
  shard_ = shard_range(source_->rows(), source_->chunk_rows(), options_.rank, options_.world);
  steps_ = ucluster::steps_per_epoch(source_->rows(), source_->chunk_rows(), options_.world, options_.batch_size,
                                     options_.drop_last);
  UCLUSTER_CHECK(steps_ > 0, source_->name(), ": no full batch of ", options_.batch_size, " rows per epoch: ",
                 source_->rows(), " rows over ", options_.world, " rank(s) (smallest shard: ",
                 [&] {
                   std::int64_t m = INT64_MAX;
                   for (int r = 0; r < options_.world; ++r)
                     m = std::min(m, shard_range(source_->rows(), source_->chunk_rows(), r, options_.world).rows());
                   return m;
                 }(),
                 " rows); use a smaller batch size or fewer ranks");
}

Loader::~Loader() { stop_reader(); }

const std::vector<Loader::Block>& Loader::plan(std::int64_t epoch) {
  if (epoch == plan_epoch_) return plan_;
  plan_.clear();
  const std::int64_t c = source_->chunk_rows();
  for (std::int64_t b = shard_.begin; b < shard_.end;) {
    const std::int64_t e = std::min(shard_.end, (b / c + 1) * c);  // next chunk boundary
    plan_.push_back({b, e - b, 0});
    b = e;
  }
  if (options_.shuffle) {
    // Per-epoch, per-rank seeded order of the blocks (Fisher-Yates).
    Rng rng = Rng(options_.seed).derive(static_cast<std::uint64_t>(epoch)).derive(static_cast<std::uint64_t>(options_.rank));
    for (std::size_t i = plan_.size(); i > 1; --i) std::swap(plan_[i - 1], plan_[rng.below(i)]);
  }
  std::int64_t offset = 0;
  for (Block& b : plan_) {
    b.stream_offset = offset;
    offset += b.count;
  }
  plan_epoch_ = epoch;
  return plan_;
}

void Loader::fill(const LoaderPosition& pos, Batch& batch) {
  const std::int64_t B = options_.batch_size, n = shard_.rows();
  const std::int64_t start = std::min(n, pos.step * B), stop = std::min(n, (pos.step + 1) * B);
  const std::int64_t size = stop - start;
  const int P = source_->particles(), F = source_->features();
  batch.epoch = pos.epoch;
  batch.step = pos.step;
  batch.size = size;
  batch.n_particles = P;
  batch.n_features = F;
  batch.data.resize(static_cast<std::size_t>(size) * P * F);
  batch.target.resize(size);
  batch.truth.resize(size);
  batch.mass.resize(size);
  batch.rows.resize(size);
  batch.n_globals = source_->globals();
  batch.global.resize(static_cast<std::size_t>(size) * batch.n_globals);
  batch.point_target.resize(source_->point_targets() ? static_cast<std::size_t>(size) * P : 0);
  if (size == 0) return;
  const auto& blocks = plan(pos.epoch);
  auto it = std::upper_bound(blocks.begin(), blocks.end(), start,
                             [](std::int64_t s, const Block& b) { return s < b.stream_offset; });
  std::size_t k = static_cast<std::size_t>(it - blocks.begin()) - 1;
  std::int64_t at = 0, s = start;
  while (at < size) {
    const Block& b = blocks[k];
    const std::int64_t off = s - b.stream_offset;
    const std::int64_t take = std::min(b.count - off, size - at);
    source_->read(b.first + off, take, batch, at);
    for (std::int64_t i = 0; i < take; ++i) batch.rows[at + i] = b.first + off + i;
    at += take;
    s += take;
    ++k;
  }
}

void Loader::start_reader() {
  stop_ = false;
  error_ = nullptr;
  running_ = true;
  reader_ = std::thread([this, start = position_] { reader_loop(start); });
}

void Loader::stop_reader() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  running_ = false;
  stop_ = false;
  while (!ready_.empty()) {
    free_.push_back(std::move(ready_.front()));
    ready_.pop_front();
  }
  error_ = nullptr;
}

void Loader::reader_loop(LoaderPosition pos) {
  for (;;) {
    Batch b;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
      if (stop_) return;
      if (!free_.empty()) {
        b = std::move(free_.back());
        free_.pop_back();
      }
    }
    try {
      fill(pos, b);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stop_) return;
      ready_.push_back(std::move(b));
    }
    cv_.notify_all();
    if (++pos.step >= steps_) pos = {pos.epoch + 1, 0};
  }
}

bool Loader::next(Batch& batch) {
  if (position_.step >= steps_) {
    position_ = {position_.epoch + 1, 0};
    return false;
  }
  if (!options_.threaded) {
    fill(position_, batch);
    ++position_.step;
    return true;
  }
  if (!running_) start_reader();
  Batch got;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return !ready_.empty() || error_ != nullptr; });
    if (ready_.empty()) {
      const std::exception_ptr e = error_;
      lock.unlock();
      stop_reader();  // so that a seek() or a retry starts a fresh reader
      std::rethrow_exception(e);
    }
    got = std::move(ready_.front());
    ready_.pop_front();
    std::swap(batch, got);
    free_.push_back(std::move(got));  // the caller's previous buffers
  }
  cv_.notify_all();
  ++position_.step;
  return true;
}

void Loader::seek(const LoaderPosition& position) {
  UCLUSTER_CHECK(position.epoch >= 0 && position.step >= 0 && position.step <= steps_, "loader: cannot seek to epoch ",
                 position.epoch, " step ", position.step, " (", steps_, " steps per epoch)");
  stop_reader();
  position_ = position.step == steps_ ? LoaderPosition{position.epoch + 1, 0} : position;
}

}  // namespace ucluster
