// Sharded, double-buffered batch loader for training and evaluation.
//
// Rows of a UCluster-layout data set are split into R contiguous shards, one per rank, on the
// file's chunk grid: rank r reads only rows of its own shard, and every read is a hyperslab of
// (whole, when aligned) chunks. Each epoch, a rank walks the chunk-sized blocks of its shard in
// order, or in a per-epoch seeded random order (`shuffle`), and cuts consecutive batches of
// `batch_size` rows from that stream. One reader thread fills the next batches while the caller
// trains on the current one (`prefetch` buffers: 2 = double buffering), so host memory stays at
// (prefetch + 1) batches plus the HDF5 chunk cache, whatever the file size.
//
// Every rank computes steps_per_epoch() from the row count, the chunk size, R and the batch size
// only, so all ranks agree without communicating:
//   drop_last = true  (training, as the reference's floor(N / B)): min over ranks of
//                     floor(shard rows / B); a rank's surplus rows (at most about one chunk plus one
//                     batch) are skipped that epoch — with shuffling, different rows each epoch.
//   drop_last = false (evaluation): max over ranks of ceil(shard rows / B); a rank that runs out
//                     early gets short and then empty batches (size 0), so all ranks still step
//                     in lockstep and every row is seen exactly once.
//
// Position and resumption: position() is the (epoch, step) of the next batch next() returns;
// seek(position) restarts the stream there. The batch contents depend only on the options,
// (epoch, step) and the rank, so a run resumed from a checkpoint sees exactly the batches an
// uninterrupted run would have seen.
//
// Batches are plain host std::vectors (not ucluster::Tensor): the loader owns no Context and the
// trainer copies a batch into its own (possibly device) tensors with Context::from_vector/copy.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ucluster {

struct Batch {
  std::int64_t epoch = 0, step = 0;  // position of this batch
  std::int64_t size = 0;             // rows (batch_size except for drop_last = false tails)
  int n_particles = 0, n_features = 0;
  std::vector<float> data;            // [size, n_particles, n_features] row-major
  std::vector<std::int32_t> target;   // [size] mass-bin index (spec 1.5), the classifier target
  std::vector<std::int32_t> truth;    // [size] 0 = W, 1 = Z, 2 = top (evaluation only)
  std::vector<float> mass;            // [size] jet mass, GeV (events: the dijet mass m_jj)
  std::vector<std::int64_t> rows;     // [size] row index in the data set
  // Events (ucluster-ad-spec.md 1.6; empty for jets): truth is 1 for signal, 0 for background.
  int n_globals = 0;
  std::vector<float> global;                 // [size, n_globals] event globals
  std::vector<std::int32_t> point_target;    // [size, n_particles] per-particle mass-bin classes
};

struct LoaderPosition {
  std::int64_t epoch = 0;
  std::int64_t step = 0;
  bool operator==(const LoaderPosition&) const = default;
};

// Where the rows come from. read() fills batch rows [at, at + count) from data-set rows
// [first, first + count) (data, target, truth, mass; the loader fills `rows`). Must be callable
// from the reader thread.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::int64_t rows() const = 0;
  virtual int particles() const = 0;
  virtual int features() const = 0;
  // The natural read unit (the file's chunk rows); shards and shuffles use whole blocks of it.
  virtual std::int64_t chunk_rows() const = 0;
  virtual std::string name() const = 0;  // for messages ("file 'x.h5'")
  // Events: globals per row and one target per particle (read() fills Batch::global, point_target).
  virtual int globals() const { return 0; }
  virtual bool point_targets() const { return false; }
  virtual void read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) = 0;
};

// A data set held in host memory (UCluster layout), e.g. toy jets made on the fly or a small
// file read whole. Rows [row_offset, row_offset + n) of the full data set.
struct JetArrays {
  std::int64_t n = 0;
  int n_particles = 0, n_features = 0;
  std::int64_t row_offset = 0;
  std::vector<float> data;           // [n, n_particles, n_features]
  std::vector<std::int32_t> target;  // [n]
  std::vector<std::int32_t> truth;   // [n]
  std::vector<float> mass;           // [n]
  int n_globals = 0;                      // events only (Batch's fields of the same names)
  std::vector<float> global;              // [n, n_globals]
  std::vector<std::int32_t> point_target; // [n, n_particles] or empty
};

class MemorySource : public BatchSource {
 public:
  // total_rows: rows of the full data set (>= row_offset + n); chunk_rows: the grid used to shard.
  MemorySource(JetArrays arrays, std::int64_t total_rows, std::int64_t chunk_rows, std::string name);
  std::int64_t rows() const override { return total_rows_; }
  int particles() const override { return arrays_.n_particles; }
  int features() const override { return arrays_.n_features; }
  std::int64_t chunk_rows() const override { return chunk_rows_; }
  std::string name() const override { return name_; }
  int globals() const override { return arrays_.n_globals; }
  bool point_targets() const override { return !arrays_.point_target.empty(); }
  void read(std::int64_t first, std::int64_t count, Batch& batch, std::int64_t at) override;

 private:
  JetArrays arrays_;
  std::int64_t total_rows_;
  std::int64_t chunk_rows_;
  std::string name_;
};

struct LoaderOptions {
  std::int64_t batch_size = 512;
  int rank = 0;
  int world = 1;
  bool shuffle = false;  // per-epoch seeded shuffle of the block (and so batch) order
  std::uint64_t seed = 0;
  bool drop_last = true;
  int prefetch = 2;      // batches prepared ahead (2 = double buffering)
  bool threaded = true;  // false: read on the caller's thread inside next()
};

// The rows of one rank: [begin, end).
struct ShardRange {
  std::int64_t begin = 0, end = 0;
  std::int64_t rows() const { return end - begin; }
};

// Shard r of R over `rows` rows on a grid of `chunk_rows` (whole chunks per rank when there are
// at least R chunks; single rows otherwise, for tiny data sets). The shards of r = 0..R-1 are
// disjoint, contiguous, in order, and cover every row exactly once.
ShardRange shard_range(std::int64_t rows, std::int64_t chunk_rows, int rank, int world);
// Steps per epoch as described above (the same on every rank).
std::int64_t steps_per_epoch(std::int64_t rows, std::int64_t chunk_rows, int world, std::int64_t batch_size,
                             bool drop_last);

class Loader {
 public:
  Loader(std::unique_ptr<BatchSource> source, LoaderOptions options);
  ~Loader();
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  const LoaderOptions& options() const { return options_; }
  std::int64_t steps_per_epoch() const { return steps_; }
  std::int64_t rows() const { return source_->rows(); }
  int particles() const { return source_->particles(); }
  int features() const { return source_->features(); }
  ShardRange shard() const { return shard_; }
  const BatchSource& source() const { return *source_; }

  // The next batch of the current epoch into `batch` (its buffers are recycled). Returns false,
  // and leaves `batch` alone, when the epoch is over; the position then moves to the next epoch.
  bool next(Batch& batch);
  LoaderPosition position() const { return position_; }
  void seek(const LoaderPosition& position);

 private:
  struct Block {
    std::int64_t first, count, stream_offset;
  };
  void fill(const LoaderPosition& pos, Batch& batch);
  const std::vector<Block>& plan(std::int64_t epoch);
  void start_reader();
  void stop_reader();
  void reader_loop(LoaderPosition start);

  std::unique_ptr<BatchSource> source_;
  LoaderOptions options_;
  ShardRange shard_;
  std::int64_t steps_ = 0;
  LoaderPosition position_;

  std::int64_t plan_epoch_ = -1;
  std::vector<Block> plan_;

  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::deque<Batch> ready_;   // filled batches in stream order
  std::vector<Batch> free_;   // recycled buffers
  std::exception_ptr error_;
  bool running_ = false;
};

}  // namespace ucluster
